package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/outlet"
	"github.com/flintcti/flint/internal/service"
)

// EdlCmd manages the blocklists served at /edl/NAME.
type EdlCmd struct {
	Add    EdlAddCmd    `cmd:"" help:"Define a blocklist (or redefine the one of that name), served at /edl/NAME."`
	List   EdlListCmd   `cmd:"" help:"List the blocklists."`
	Remove EdlRemoveCmd `cmd:"" help:"Remove a blocklist; the keys bound to it are revoked."`
	Key    EdlKeyCmd    `cmd:"" help:"Create a key bound to a blocklist, for a firewall: it reads that list and nothing else."`
}

// EdlAddCmd defines a blocklist.
type EdlAddCmd struct {
	Name              string   `arg:"" help:"The list's name: lowercase letters, digits, '-', '_', '.' (its URL is /edl/NAME)."`
	Type              []string `required:"" help:"What the list carries (repeat or comma-separate): ipv4, ipv6, domain, url, email, sha256, sha1, md5."`
	Collection        string   `help:"Only indicators of this collection."`
	MinConfidence     int      `name:"min-confidence" help:"Only indicators of at least this confidence (0–100)."`
	MinScore          string   `name:"min-score" help:"Only indicators scored at least this: informational, suspicious, malicious."`
	MaxTLP            string   `name:"max-tlp" help:"Only indicators marked at most this TLP (the reading key's cap applies too)."`
	ExcludeDeprecated bool     `name:"exclude-deprecated" help:"Leave out indicators past their validity (applied at five-minute steps)."`
	Limit             int      `help:"At most this many values (0: all)."`
	Format            string   `default:"plain" help:"plain (one value a line), paloalto (URLs without their scheme, for PAN-OS), csv."`
}

// Run saves the list.
func (c *EdlAddCmd) Run(ctx context.Context, e *env) error {
	var types []outlet.ListType
	for _, t := range c.Type {
		for _, part := range strings.Split(t, ",") {
			if part = strings.TrimSpace(strings.ToLower(part)); part != "" {
				types = append(types, outlet.ListType(part))
			}
		}
	}
	maxTLP := intel.TLP(strings.ToLower(c.MaxTLP))
	if t, err := intel.ParseTLP(c.MaxTLP); err == nil && c.MaxTLP != "" {
		maxTLP = t
	}
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	l, err := a.Service.SaveList(ctx, e.operator(), outlet.List{Name: c.Name, Types: types, Collection: c.Collection, MinConfidence: c.MinConfidence,
		MinScore: intel.Score(strings.ToLower(c.MinScore)), MaxTLP: maxTLP, ExcludeDeprecated: c.ExcludeDeprecated, Limit: c.Limit,
		Format: outlet.Format(strings.ToLower(c.Format))})
	if err != nil {
		return err
	}
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(l)
	}
	fmt.Fprintf(e.stdout, "list %s saved: served at /edl/%s on the API's listener; give a firewall its own key with\n  %s edl key %s\n",
		l.Name, l.Name, selfCommand(), l.Name)
	return nil
}

// EdlListCmd lists the blocklists.
type EdlListCmd struct{}

// Run lists them.
func (c *EdlListCmd) Run(ctx context.Context, e *env) error {
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	ls, err := a.Service.Lists(ctx, e.operator())
	if err != nil {
		return err
	}
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(ls)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tTYPES\tFORMAT\tCOLLECTION\tMIN CONFIDENCE\tMIN SCORE\tMAX TLP\tDEPRECATED\tLIMIT\tUPDATED")
	for _, l := range ls {
		var types []string
		for _, t := range l.Types {
			types = append(types, string(t))
		}
		dep := "kept"
		if l.ExcludeDeprecated {
			dep = "left out"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%d\t%s\n", l.Name, strings.Join(types, ","), l.Format, orDash(l.Collection), l.MinConfidence,
			orDash(string(l.MinScore)), orDash(string(l.MaxTLP)), dep, l.Limit, l.Updated.Format(time.DateTime))
	}
	return w.Flush()
}

// EdlRemoveCmd removes a blocklist.
type EdlRemoveCmd struct {
	Name string `arg:"" help:"The list's name."`
}

// Run removes it.
func (c *EdlRemoveCmd) Run(ctx context.Context, e *env) error {
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.Service.RemoveList(ctx, e.operator(), c.Name); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "list %s removed; the keys bound to it are revoked\n", c.Name)
	return nil
}

// EdlKeyCmd creates a key bound to a list.
type EdlKeyCmd struct {
	List   string `arg:"" help:"The list's name."`
	Name   string `help:"What the key is for (default: the list's name and \"firewall\")."`
	MaxTLP string `name:"max-tlp" default:"amber" help:"The key's TLP cap (clear, green, amber, amber+strict, red; empty: none)."`
}

// Run creates the key and prints it once.
func (c *EdlKeyCmd) Run(ctx context.Context, e *env) error {
	name := c.Name
	if name == "" {
		name = c.List + " firewall"
	}
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	k, err := a.Service.CreateKey(ctx, e.operator(), service.KeyInput{Name: name, Role: "analyst", MaxTLP: c.MaxTLP, List: c.List})
	if err != nil {
		return err
	}
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(k)
	}
	fmt.Fprintf(e.stdout, "%s\n", k.Token)
	fmt.Fprintf(e.stderr, "key %d (%s) reads /edl/%s and nothing else; give it to the firewall as the password of HTTP Basic (any user name) or as a Bearer token. It is shown this once.\n",
		k.ID, k.Name, c.List)
	return nil
}

// AllowCmd manages the allow-list.
type AllowCmd struct {
	Add    AllowAddCmd    `cmd:"" help:"Never block a value, a CIDR range or a domain and its subdomains (*.example.com)."`
	List   AllowListCmd   `cmd:"" help:"Show the allow-list, the reserved ranges allowed by default among it."`
	Remove AllowRemoveCmd `cmd:"" help:"Remove an entry (a default one too) by its id."`
}

// AllowAddCmd adds an entry.
type AllowAddCmd struct {
	Entry string `arg:"" help:"A value (IP, domain, URL, hash; defanged is fine), a CIDR range (10.0.0.0/8) or *.domain."`
	Note  string `help:"Why it is allowed."`
}

// Run adds it.
func (c *AllowAddCmd) Run(ctx context.Context, e *env) error {
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	al, err := a.Service.AddAllow(ctx, e.operator(), c.Entry, c.Note)
	if err != nil {
		return err
	}
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(al)
	}
	fmt.Fprintf(e.stdout, "allowed %s %s (entry %d): no blocklist carries it\n", al.Kind, al.Value, al.ID)
	return nil
}

// AllowListCmd shows the allow-list.
type AllowListCmd struct{}

// Run shows it.
func (c *AllowListCmd) Run(ctx context.Context, e *env) error {
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	as, err := a.Service.Allows(ctx, e.operator())
	if err != nil {
		return err
	}
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(as)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tKIND\tVALUE\tDEFAULT\tNOTE")
	for _, al := range as {
		fmt.Fprintf(w, "%d\t%s\t%s\t%v\t%s\n", al.ID, al.Kind, al.Value, al.Default, printable(al.Note))
	}
	return w.Flush()
}

// AllowRemoveCmd removes an entry.
type AllowRemoveCmd struct {
	ID int64 `arg:"" help:"The entry's id (see allow list)."`
}

// Run removes it.
func (c *AllowRemoveCmd) Run(ctx context.Context, e *env) error {
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.Service.RemoveAllow(ctx, e.operator(), c.ID); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "allow-list entry %d removed\n", c.ID)
	return nil
}
