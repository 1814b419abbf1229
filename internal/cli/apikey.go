package cli

import (
	"encoding/json"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/flintcti/flint/internal/api"
	"github.com/flintcti/flint/internal/auth"
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
}

// Run creates the key and prints it.
func (c *ApikeyCreateCmd) Run(e *env) error {
	a, err := e.open()
	if err != nil {
		return err
	}
	defer a.Close()
	k, err := api.CreateKey(e.ctx, a.Store, c.Name, c.Role, c.MaxTLP, nil, actor())
	if err != nil {
		return err
	}
	if err := a.Store.Audit(e.ctx, actor(), "key.create", fmt.Sprintf("key:%d %s", k.ID, k.Name),
		map[string]any{"role": k.Role, "max_tlp": k.MaxTLP, "prefix": k.Prefix}); err != nil {
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
func (c *ApikeyListCmd) Run(e *env) error {
	a, err := e.open()
	if err != nil {
		return err
	}
	defer a.Close()
	keys, err := a.Store.APIKeys(e.ctx)
	if err != nil {
		return err
	}
	if e.g.JSON {
		if keys == nil {
			keys = []auth.Key{}
		}
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
func (c *ApikeyRevokeCmd) Run(e *env) error {
	a, err := e.open()
	if err != nil {
		return err
	}
	defer a.Close()
	k, revoked, err := a.Store.RevokeAPIKey(e.ctx, c.ID)
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
	if err := a.Store.Audit(e.ctx, actor(), "key.revoke", "key:"+strconv.FormatInt(k.ID, 10)+" "+k.Name, nil); err != nil {
		return err
	}
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(k)
	}
	fmt.Fprintf(e.stdout, "key %d (%s) revoked\n", k.ID, k.Name)
	return nil
}
