package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/user"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/service"
	"github.com/flintcti/flint/internal/store"
)

// LookupCmd answers "is this a known indicator?" like POST /api/v1/lookup.
type LookupCmd struct {
	Values      []string `arg:"" optional:"" sep:"none" help:"Values (IPs, domains, URLs, hashes, ...; defanged is fine). '-' or none: one per line on standard input."`
	FailUnknown bool     `name:"fail-unknown" help:"Exit with status 3 when any value is unknown or invalid (for scripts; the default is 0 whatever the answers)."`
}

// Run looks the values up; the exit status is 0 whether or not they are
// known, unless --fail-unknown.
func (c *LookupCmd) Run(ctx context.Context, e *env) error {
	values := c.Values
	if len(values) == 0 || (len(values) == 1 && values[0] == "-") {
		var err error
		if values, err = readLines(e.stdin, store.MaxLookup); err != nil {
			return err
		}
	}
	if len(values) == 0 {
		return fmt.Errorf("%w: give values to look up, as arguments or one per line on standard input", errUsage)
	}
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	answers, err := a.Service.Lookup(ctx, e.operator(), values)
	if err != nil {
		return err
	}
	if e.g.JSON {
		if err := json.NewEncoder(e.stdout).Encode(map[string]any{"results": answers}); err != nil {
			return err
		}
		return c.status(answers)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "VALUE\tKNOWN\tTYPE\tSCORE\tTLP\tVALID UNTIL\tSOURCES\tCOLLECTIONS\tWHY INVALID")
	for _, a := range answers {
		switch {
		case a.Error != "":
			fmt.Fprintf(w, "%s\tinvalid\t-\t-\t-\t-\t-\t-\t%s\n", a.Value, a.Error)
		case !a.Known:
			fmt.Fprintf(w, "%s\tno\t%s\t-\t-\t-\t-\t-\t\n", a.Value, orDash(string(a.Type)))
		default:
			var srcs []string
			for _, s := range a.Sources {
				srcs = append(srcs, s.Instance+"/"+s.Channel)
			}
			until := "-"
			if !a.ValidUntil.IsZero() {
				until = a.ValidUntil.Format(time.DateOnly)
			}
			if a.Deprecated {
				until += " (deprecated)"
			}
			fmt.Fprintf(w, "%s\tyes\t%s\t%s\t%s\t%s\t%s\t%s\t\n", a.Value, a.Type, orDash(string(a.Score)), a.TLP, until,
				orDash(strings.Join(srcs, ",")), orDash(strings.Join(a.Collections, ",")))
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return c.status(answers)
}

// status is the lookup's exit status under --fail-unknown.
func (c *LookupCmd) status(answers []service.LookupAnswer) error {
	if !c.FailUnknown {
		return nil
	}
	unknown := 0
	for _, a := range answers {
		if !a.Known {
			unknown++
		}
	}
	if unknown > 0 {
		return exitError{3, fmt.Sprintf("%d of %d values unknown or invalid", unknown, len(answers))}
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printable shows a stored name on a terminal: control and bidirectional
// formatting characters (an escape sequence, a right-to-left override in a
// name stored before names refused them) are shown as their code.
func printable(s string) string {
	if !intel.HasControl(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if intel.HasControl(string(r)) {
			fmt.Fprintf(&b, "\\u%04x", r)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// timeOrEmpty formats t as RFC 3339, or "" when it is not set.
func timeOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// readLines reads non-empty lines, at most max of them.
func readLines(r io.Reader, max int) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v := strings.TrimSpace(sc.Text()); v != "" {
			if len(out) == max {
				return nil, intel.Errorf(intel.EINVALID, "more than %d values on standard input; at most %d at once", max, max)
			}
			out = append(out, v)
		}
	}
	return out, sc.Err()
}

// objectFilters are the filters of GET /api/v1/objects, as flags.
type objectFilters struct {
	Type          []string `help:"Object types (repeat or comma-separate): ipv4, domain, url, file, vulnerability, report, software, ..."`
	Value         string   `help:"Exact normalised value."`
	ValuePrefix   string   `name:"value-prefix" help:"Values starting with this."`
	ValueContains string   `name:"value-contains" help:"Values containing this."`
	Text          string   `name:"text" short:"q" help:"Full text over names, titles and descriptions."`
	Tag           []string `sep:"none" help:"Tags every result has (repeat the flag for each tag)."`
	Collection    string   `help:"Collection name."`
	Instance      string   `help:"Reported by this instance."`
	TLP           []string `name:"tlp" help:"TLP levels."`
	Deprecated    string   `help:"true or false."`
	ModifiedAfter string   `name:"modified-after" help:"Changed after this time: RFC 3339 (2026-11-20T08:00:00Z) or a date (2026-11-20)."`
}

func (c *objectFilters) values() url.Values {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("type", strings.Join(c.Type, ","))
	set("value", c.Value)
	set("value_prefix", c.ValuePrefix)
	set("value_contains", c.ValueContains)
	set("q", c.Text)
	for _, t := range c.Tag {
		v.Add("tag", t)
	}
	set("collection", c.Collection)
	set("instance", c.Instance)
	set("tlp", strings.Join(c.TLP, ","))
	set("deprecated", c.Deprecated)
	set("modified_after", c.ModifiedAfter)
	return v
}

// SearchCmd searches the intelligence like GET /api/v1/objects.
type SearchCmd struct {
	objectFilters
	Limit  int    `default:"100" help:"Results per page (1–1000)."`
	Cursor string `help:"The next of the previous page."`
}

func (c *SearchCmd) values() url.Values {
	v := c.objectFilters.values()
	v.Set("limit", strconv.Itoa(c.Limit))
	if c.Cursor != "" {
		v.Set("cursor", c.Cursor)
	}
	return v
}

// Run runs the search.
func (c *SearchCmd) Run(ctx context.Context, e *env) error {
	q, err := service.ObjectQuery(c.values())
	if err != nil {
		return err
	}
	return runSearch(ctx, e, q, false)
}

func runSearch(ctx context.Context, e *env, q store.Query, vulns bool) error {
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	res, err := a.Service.Search(ctx, e.operator(), q)
	if err != nil {
		return err
	}
	objs := res.Objects
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(res)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	if vulns {
		vulnTable(w, res.Objects)
		objs = nil
	} else {
		fmt.Fprintln(w, "ID\tTYPE\tVALUE\tTLP\tSCORE\tCVSS3\tNAME")
	}
	for _, o := range objs {
		cvss := "-"
		if v := o.Vulnerability; v != nil && v.CVSSv3 != nil {
			cvss = strconv.FormatFloat(v.CVSSv3.Score, 'f', 1, 64)
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", o.ID, o.Type, o.Value, o.TLP, orDash(string(o.Score)), cvss, clip(o.Name, 60))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if res.Next != "" {
		fmt.Fprintf(e.stderr, "more: --cursor %s\n", res.Next)
	}
	return nil
}

// VulnCmd groups the vulnerability commands.
type VulnCmd struct {
	Search VulnSearchCmd `cmd:"" help:"Search vulnerabilities by product, vendor, CVSS, severity, EPSS, exploit maturity."`
}

// VulnSearchCmd searches vulnerabilities like GET /api/v1/vulnerabilities.
type VulnSearchCmd struct {
	Product         string   `help:"Partial product name, any case."`
	Vendor          string   `help:"Partial vendor name, any case."`
	MinCVSS2        string   `name:"min-cvss2" help:"Lowest CVSS v2 base score (0–10)."`
	MaxCVSS2        string   `name:"max-cvss2" help:"Highest CVSS v2 base score (0–10)."`
	MinCVSS3        string   `name:"min-cvss3" help:"Lowest CVSS v3 base score (0–10)."`
	MaxCVSS3        string   `name:"max-cvss3" help:"Highest CVSS v3 base score (0–10)."`
	MinCVSS4        string   `name:"min-cvss4" help:"Lowest CVSS v4 score (0–10)."`
	MaxCVSS4        string   `name:"max-cvss4" help:"Highest CVSS v4 score (0–10)."`
	MinEPSS         string   `name:"min-epss" help:"Lowest EPSS probability (0–1)."`
	Severity        []string `help:"critical, high, medium, low, informational, none (repeat or comma-separate)."`
	ExploitMaturity []string `name:"exploit-maturity" help:"high, functional, proof-of-concept, unproven, not-defined."`
	HasCVE          string   `name:"has-cve" help:"true or false."`
	Sort            string   `help:"Order: id (default), cvss3, cvss2, cvss4, epss, published; a leading - for highest or newest first. Write --sort=-cvss3 (with =: a bare -cvss3 reads as a flag)."`
	Limit           int      `default:"100" help:"Results per page (1–1000)."`
	Cursor          string   `help:"The next of the previous page."`
}

// Run runs the search.
func (c *VulnSearchCmd) Run(ctx context.Context, e *env) error {
	v := url.Values{}
	for k, val := range map[string]string{"product": c.Product, "vendor": c.Vendor, "min_cvss2": c.MinCVSS2, "max_cvss2": c.MaxCVSS2,
		"min_cvss3": c.MinCVSS3, "max_cvss3": c.MaxCVSS3, "min_cvss4": c.MinCVSS4, "max_cvss4": c.MaxCVSS4, "min_epss": c.MinEPSS,
		"severity": strings.Join(c.Severity, ","), "exploit_maturity": strings.Join(c.ExploitMaturity, ","), "has_cve": c.HasCVE,
		"sort": c.Sort, "cursor": c.Cursor} {
		if val != "" {
			v.Set(k, val)
		}
	}
	v.Set("limit", strconv.Itoa(c.Limit))
	q, err := service.VulnQuery(v)
	if err != nil {
		return err
	}
	return runSearch(ctx, e, q, true)
}

// vulnTable prints vulnerabilities: each by its CVE id (with its title) or
// by its title alone, with the scores that rank it.
func vulnTable(w io.Writer, objs []intel.Object) {
	fmt.Fprintln(w, "ID\tCVE OR TITLE\tSEVERITY\tCVSS3\tCVSS4\tEPSS\tTITLE")
	score := func(c *intel.CVSS) string {
		if c == nil {
			return "-"
		}
		return strconv.FormatFloat(c.Score, 'f', 1, 64)
	}
	for _, o := range objs {
		v := o.Vulnerability
		if v == nil {
			v = &intel.VulnerabilityDetail{}
		}
		epss, title := "-", o.Name
		if v.EPSS != nil {
			epss = strconv.FormatFloat(*v.EPSS, 'f', 3, 64)
		}
		if title == o.Value {
			title = ""
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", o.ID, clip(o.Value, 60), orDash(v.Severity), score(v.CVSSv3), score(v.CVSSv4), epss, clip(title, 60))
	}
}

// clip shortens s to at most n runes.
func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// actor names who runs a CLI command in the audit trail.
func actor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	if name := os.Getenv("USER"); name != "" {
		return "cli:" + name
	}
	return "cli:uid " + strconv.Itoa(os.Getuid())
}
