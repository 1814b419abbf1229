package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/flintcti/flint/internal/notify"
	"github.com/flintcti/flint/internal/service"
	"github.com/flintcti/flint/internal/store"
)

// NotifyCmd groups the notification commands.
type NotifyCmd struct {
	Add          NotifyAddCmd          `cmd:"" help:"Add a rule: which events go to which webhook."`
	List         NotifyListCmd         `cmd:"" default:"withargs" help:"List the rules."`
	Test         NotifyTestCmd         `cmd:"" help:"Send a test notification to a rule's webhook now."`
	Remove       NotifyRemoveCmd       `cmd:"" help:"Remove a rule (its pending deliveries are dropped)."`
	Deliveries   NotifyDeliveriesCmd   `cmd:"" help:"List deliveries, newest first: delivered, pending (with the last failure) or given up."`
	Allow        NotifyAllowCmd        `cmd:"" help:"Allow webhooks to a destination: host, *.domain or address, with an optional :port."`
	Disallow     NotifyDisallowCmd     `cmd:"" help:"Take a destination off the allow-list."`
	Destinations NotifyDestinationsCmd `cmd:"" help:"List the allow-list of webhook destinations."`
}

// NotifyAddCmd adds a rule.
type NotifyAddCmd struct {
	Name        string   `arg:"" help:"The rule's name (unique)."`
	On          string   `required:"" help:"The event: exposure, channel_error, channel_restored, no_data or poll_failed."`
	Webhook     string   `help:"The receiver's URL (https; http only to a loopback or private address). Its host must be on the allow-list. A URL that is itself a credential (Slack's, Teams') is better given with --webhook-env."`
	WebhookEnv  string   `name:"webhook-env" help:"Read the receiver's URL from this environment variable (kept off the command line)."`
	SecretEnv   string   `name:"secret-env" help:"Sign each delivery with the secret in this environment variable (16–256 bytes): header Flint-Signature."`
	Format      string   `default:"json" enum:"json,slack,teams" help:"json (Flint's event document), slack (a Slack incoming webhook's message) or teams (an Adaptive Card message for a Microsoft Teams webhook workflow or incoming webhook)."`
	MaxTLP      string   `name:"max-tlp" help:"Send nothing marked above this TLP (default amber, or your cap)."`
	MinCVSS3    *float64 `name:"min-cvss3" help:"Exposures only: of vulnerabilities with a CVSS v3 score at least this."`
	Severity    []string `help:"Exposures only: of these severities (critical, high, medium, low, informational, none)."`
	Maturity    []string `help:"Exposures only: of these exploit maturities (high, functional, proof-of-concept, unproven, not-defined)."`
	NameOnly    bool     `name:"name-only" help:"Exposures only: also those matched by product name alone (the version could not be placed)."`
	Collection  []string `help:"Only events of these collections (an exposure's vulnerability is in one; a channel stores into one)."`
	InstanceArg []string `name:"instance" help:"Only events of these instances."`
}

// Run adds the rule.
func (c *NotifyAddCmd) Run(ctx context.Context, e *env) error {
	url := c.Webhook
	switch {
	case c.Webhook != "" && c.WebhookEnv != "":
		return fmt.Errorf("%w: give --webhook or --webhook-env, not both", errUsage)
	case c.WebhookEnv != "":
		if url = os.Getenv(c.WebhookEnv); url == "" {
			return fmt.Errorf("%w: --webhook-env %s: the variable is empty or not set", errUsage, c.WebhookEnv)
		}
	case url == "":
		return fmt.Errorf("%w: give --webhook URL or --webhook-env VAR", errUsage)
	}
	var secretText string
	if c.SecretEnv != "" {
		if secretText = os.Getenv(c.SecretEnv); secretText == "" {
			return fmt.Errorf("%w: --secret-env %s: the variable is empty or not set", errUsage, c.SecretEnv)
		}
	}
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	r, err := a.Service.AddRule(ctx, e.operator(), service.RuleInput{Name: c.Name, Event: c.On, Webhook: url, Secret: secretText,
		Format: c.Format, MaxTLP: c.MaxTLP, Filters: notify.Filters{MinCVSSv3: c.MinCVSS3, Severities: splitList(c.Severity),
			Maturities: splitList(c.Maturity), NameOnly: c.NameOnly, Collections: splitList(c.Collection), Instances: splitList(c.InstanceArg)}})
	if err != nil {
		return err
	}
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(r)
	}
	signed := "unsigned"
	if r.HasSecret {
		signed = "signed"
	}
	fmt.Fprintf(e.stdout, "rule %q added: %s events to %s (%s, %s, up to TLP:%s)\n", r.Name, r.Event, r.URLHint, r.Format, signed,
		strings.ToUpper(string(r.MaxTLP)))
	return nil
}

// splitList splits repeated and comma-separated flag values.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// NotifyListCmd lists the rules.
type NotifyListCmd struct{}

// Run lists them.
func (c *NotifyListCmd) Run(ctx context.Context, e *env) error {
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	rs, err := a.Service.Rules(ctx, e.operator())
	if err != nil {
		return err
	}
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(rs)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tEVENT\tWEBHOOK\tFORMAT\tSIGNED\tMAX TLP\tFILTERS")
	for _, r := range rs {
		fj, _ := json.Marshal(r.Filters)
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%v\t%s\t%s\n", printable(r.Name), r.Event, printable(r.URLHint), r.Format, r.HasSecret, r.MaxTLP,
			printable(string(fj)))
	}
	return w.Flush()
}

// NotifyTestCmd sends a test notification.
type NotifyTestCmd struct {
	Name          string `arg:"" help:"The rule."`
	AllowInternal bool   `name:"allow-internal" help:"Let the test reach a loopback or private address (as serve --notify-allow-internal)."`
}

// Run sends it and says how it went.
func (c *NotifyTestCmd) Run(ctx context.Context, e *env) error {
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	a.Notifier.AllowInternal = c.AllowInternal
	res, err := a.Service.TestRule(ctx, e.operator(), c.Name)
	if err != nil {
		return err
	}
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(res)
	}
	if !res.Delivered {
		return fmt.Errorf("rule %q: the test notification was not delivered: %s", res.Rule, res.Error)
	}
	fmt.Fprintf(e.stdout, "rule %q: test notification delivered (%d)\n", res.Rule, res.Status)
	return nil
}

// NotifyRemoveCmd removes a rule.
type NotifyRemoveCmd struct {
	Name string `arg:"" help:"The rule."`
}

// Run removes it.
func (c *NotifyRemoveCmd) Run(ctx context.Context, e *env) error {
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	r, err := a.Service.RemoveRule(ctx, e.operator(), c.Name)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "rule %q removed\n", r.Name)
	return nil
}

// NotifyDeliveriesCmd lists deliveries.
type NotifyDeliveriesCmd struct {
	Rule  string `help:"Only this rule's."`
	State string `help:"Only deliveries in this state: pending, delivered, given_up."`
	Limit int    `default:"100" help:"At most this many (1–1000)."`
}

// Run lists them.
func (c *NotifyDeliveriesCmd) Run(ctx context.Context, e *env) error {
	if c.Limit < 1 || c.Limit > 1000 {
		return fmt.Errorf("%w: --limit %d: want 1–1000", errUsage, c.Limit)
	}
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	ds, err := a.Service.Deliveries(ctx, e.operator(), store.DeliveryQuery{Rule: c.Rule, State: c.State, Limit: c.Limit})
	if err != nil {
		return err
	}
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(ds)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tRULE\tEVENT\tSTATE\tATTEMPTS\tCREATED\tLAST ERROR\tIDEMPOTENCY KEY")
	for _, d := range ds {
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", d.ID, printable(d.Rule), d.Kind, d.State, d.Attempts,
			d.Created.Format("2006-01-02 15:04:05"), printable(d.LastError), d.Key)
	}
	return w.Flush()
}

// NotifyAllowCmd allows a destination.
type NotifyAllowCmd struct {
	Pattern string `arg:"" help:"hooks.slack.com, *.example.com, 10.0.0.5:8443, [2001:db8::1]:443 … (no port: the scheme's default)."`
}

// Run allows it.
func (c *NotifyAllowCmd) Run(ctx context.Context, e *env) error {
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	d, err := a.Service.AllowDestination(ctx, e.operator(), c.Pattern)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "destination %s allowed\n", d.Pattern)
	return nil
}

// NotifyDisallowCmd disallows a destination.
type NotifyDisallowCmd struct {
	Pattern string `arg:"" help:"A pattern on the allow-list."`
}

// Run disallows it.
func (c *NotifyDisallowCmd) Run(ctx context.Context, e *env) error {
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.Service.DisallowDestination(ctx, e.operator(), c.Pattern); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "destination %s no longer allowed\n", c.Pattern)
	return nil
}

// NotifyDestinationsCmd lists the allow-list.
type NotifyDestinationsCmd struct{}

// Run lists it.
func (c *NotifyDestinationsCmd) Run(ctx context.Context, e *env) error {
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	ds, err := a.Service.Destinations(ctx, e.operator())
	if err != nil {
		return err
	}
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(ds)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "DESTINATION\tBY\tADDED")
	for _, d := range ds {
		fmt.Fprintf(w, "%s\t%s\t%s\n", d.Pattern, printable(d.CreatedBy), d.Created.Format("2006-01-02 15:04"))
	}
	return w.Flush()
}
