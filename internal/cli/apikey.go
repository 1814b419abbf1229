package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/flintcti/flint/internal/service"
)

// ApikeyCmd manages the REST API's keys.
type ApikeyCmd struct {
	Create ApikeyCreateCmd `cmd:"" help:"Create a key; it is printed once and only its hash is kept."`
	List   ApikeyListCmd   `cmd:"" help:"List the keys (never the keys themselves)."`
	Revoke ApikeyRevokeCmd `cmd:"" help:"Revoke a key by its id."`
}

// ApikeyCreateCmd creates a key.
type ApikeyCreateCmd struct {
	Name   string `required:"" help:"What the key is for (1–64 characters)."`
	Role   string `required:"" help:"admin, feed-manager or analyst."`
	MaxTLP string `name:"max-tlp" help:"Cap: the key sees no object marked above this TLP (clear, green, amber, amber+strict, red)."`
	List   string `help:"Bind the key to this blocklist: it reads /edl/LIST and nothing else (see edl key)."`
}

// Run creates the key and prints it.
func (c *ApikeyCreateCmd) Run(ctx context.Context, e *env) error {
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	k, err := a.Service.CreateKey(ctx, e.operator(), service.KeyInput{Name: c.Name, Role: c.Role, MaxTLP: c.MaxTLP, List: c.List})
	if err != nil {
		return err
	}
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(k)
	}
	fmt.Fprintf(e.stdout, "%s\n", k.Token)
	fmt.Fprintf(e.stderr, "key %d (%s, role %s) created; it is shown this once: store it now\n", k.ID, k.Name, k.Role)
	return nil
}

// ApikeyListCmd lists the keys.
type ApikeyListCmd struct{}

// Run lists the keys.
func (c *ApikeyListCmd) Run(ctx context.Context, e *env) error {
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	keys, err := a.Service.Keys(ctx, e.operator())
	if err != nil {
		return err
	}
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(keys)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME\tROLE\tMAX TLP\tPREFIX\tCREATED\tLAST USED\tREVOKED")
	for _, k := range keys {
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s…\t%s\t%s\t%s\n", k.ID, printable(k.Name), k.Role, orDash(string(k.MaxTLP)), k.Prefix,
			k.Created.Format(time.DateOnly), when(k.LastUsed), when(k.Revoked))
	}
	return w.Flush()
}

func when(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format("2006-01-02 15:04Z")
}

// ApikeyRevokeCmd revokes a key.
type ApikeyRevokeCmd struct {
	ID int64 `arg:"" help:"The key's id (see apikey list)."`
}

// Run revokes the key.
func (c *ApikeyRevokeCmd) Run(ctx context.Context, e *env) error {
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	k, revoked, err := a.Service.RevokeKey(ctx, e.operator(), c.ID)
	if err != nil {
		return err
	}
	if !revoked {
		if e.g.JSON {
			return json.NewEncoder(e.stdout).Encode(k)
		}
		fmt.Fprintf(e.stdout, "key %d (%s) was already revoked on %s; nothing changed\n", k.ID, k.Name, when(k.Revoked))
		return nil
	}
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(k)
	}
	fmt.Fprintf(e.stdout, "key %d (%s) revoked\n", k.ID, k.Name)
	return nil
}
