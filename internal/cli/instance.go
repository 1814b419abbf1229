package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/flintcti/flint/internal/feed"
	"github.com/flintcti/flint/internal/intel"
	"github.com/flintcti/flint/internal/service"
)

// InstanceCmd manages Flashpoint Ignite instances.
type InstanceCmd struct {
	Add     InstanceAddCmd     `cmd:"" help:"Add an instance (its token from --token-file, --token-env or standard input)."`
	List    InstanceListCmd    `cmd:"" help:"List the instances."`
	Show    InstanceShowCmd    `cmd:"" help:"Show an instance and its channels."`
	Update  InstanceUpdateCmd  `cmd:"" help:"Change an instance's name, base URL, TLS verification or token."`
	Remove  InstanceRemoveCmd  `cmd:"" help:"Remove an instance and its channels (the intelligence it brought stays)."`
	Test    InstanceTestCmd    `cmd:"" help:"Test the connectivity of all three channels."`
	Migrate InstanceMigrateCmd `cmd:"" help:"Move a legacy Flashpoint instance to Flashpoint Ignite: new base URL and token, history kept."`
}

// tokenFlags say where a token comes from. It is never a flag's value, so
// that it stays out of shell history and process listings.
type tokenFlags struct {
	TokenFile string `name:"token-file" help:"Read the bearer token from this file." type:"existingfile"`
	TokenEnv  string `name:"token-env" help:"Read the bearer token from this environment variable."`
}

func (t tokenFlags) given() bool { return t.TokenFile != "" || t.TokenEnv != "" }

// read returns the token from the file, the variable or stdin, validated.
func (t tokenFlags) read(e *env) (string, error) {
	var tok string
	switch {
	case t.TokenFile != "" && t.TokenEnv != "":
		return "", fmt.Errorf("%w: give --token-file or --token-env, not both", errUsage)
	case t.TokenFile != "":
		b, err := os.ReadFile(t.TokenFile)
		if err != nil {
			return "", fmt.Errorf("read token file: %w", err)
		}
		tok = string(b)
	case t.TokenEnv != "":
		v, ok := os.LookupEnv(t.TokenEnv)
		if !ok {
			return "", fmt.Errorf("%w: environment variable %s is not set", errUsage, t.TokenEnv)
		}
		tok = v
	default:
		if isTerminal(e.stdin) {
			fmt.Fprint(e.stderr, "Bearer token (input is not echoed by your terminal only if you paste it): ")
		}
		line, err := bufio.NewReader(io.LimitReader(e.stdin, 16<<10)).ReadString('\n')
		if err != nil && err != io.EOF {
			return "", fmt.Errorf("read token from standard input: %w", err)
		}
		tok = line
	}
	tok = strings.TrimSpace(tok)
	if err := feed.ValidateToken(tok); err != nil {
		return "", err
	}
	return tok, nil
}

// InstanceAddCmd adds an instance.
type InstanceAddCmd struct {
	Name        string `arg:"" help:"A unique name (1–64 characters)."`
	BaseURL     string `name:"base-url" default:"https://api.flashpoint.io" help:"Flashpoint Ignite base URL."`
	NoVerifyTLS bool   `name:"no-verify-tls" help:"Do not verify the server's TLS certificate (not recommended)."`
	tokenFlags
}

// Run adds the instance, with its three channels disabled.
func (c *InstanceAddCmd) Run(ctx context.Context, e *env) error {
	// The name and URL are judged before the token is asked for.
	if err := feed.ValidateName(c.Name); err != nil {
		return err
	}
	if _, err := feed.ValidateBaseURL(c.BaseURL); err != nil {
		return err
	}
	tok, err := c.read(e)
	if err != nil {
		return err
	}
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	verify := !c.NoVerifyTLS
	v, err := a.Service.CreateInstance(ctx, e.operator(), service.InstanceInput{Name: &c.Name, BaseURL: &c.BaseURL, VerifyTLS: &verify, Token: &tok})
	if err != nil {
		return err
	}
	in := v.Instance
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(in)
	}
	fmt.Fprintf(e.stdout, "instance %s added (%s, token %s); its channels are disabled: enable one with\n  %s channel set %q reports|vulnerabilities|indicators --enable\n",
		in.Name, in.BaseURL, in.TokenHint, selfCommand(), in.Name)
	warn(e, v.Warnings)
	return nil
}

// warn prints a change's warnings on standard error.
func warn(e *env, warnings []string) {
	for _, w := range warnings {
		fmt.Fprintln(e.stderr, "warning: "+w)
	}
}

// InstanceListCmd lists instances.
type InstanceListCmd struct{}

// Run lists the instances.
func (c *InstanceListCmd) Run(ctx context.Context, e *env) error {
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	views, err := a.Service.Instances(ctx, e.operator())
	if err != nil {
		return err
	}
	ins := []feed.Instance{}
	for _, v := range views {
		ins = append(ins, v.Instance)
	}
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(ins)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tBASE URL\tVERIFY TLS\tTOKEN")
	for _, in := range ins {
		fmt.Fprintf(w, "%s\t%s\t%v\t%s\n", in.Name, in.BaseURL, in.VerifyTLS, in.TokenHint)
	}
	return w.Flush()
}

// InstanceShowCmd shows an instance.
type InstanceShowCmd struct {
	Name string `arg:"" help:"Instance name."`
}

// Run shows the instance and its channels.
func (c *InstanceShowCmd) Run(ctx context.Context, e *env) error {
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	v, err := a.Service.Instance(ctx, e.operator(), c.Name)
	if err != nil {
		return err
	}
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(v)
	}
	in, chs := v.Instance, v.Channels
	fmt.Fprintf(e.stdout, "name        %s\nbase URL    %s\nverify TLS  %v\ntoken       %s\ncreated     %s\n\n",
		in.Name, in.BaseURL, in.VerifyTLS, in.TokenHint, in.Created.Format("2006-01-02 15:04:05Z"))
	return channelTable(e, chs)
}

// InstanceUpdateCmd changes an instance.
type InstanceUpdateCmd struct {
	Name      string `arg:"" help:"Instance name."`
	Rename    string `help:"New name."`
	BaseURL   string `name:"base-url" help:"New base URL."`
	VerifyTLS *bool  `name:"verify-tls" negatable:"" help:"Verify the server's TLS certificate (--no-verify-tls to stop)."`
	NewToken  bool   `name:"new-token" help:"Replace the token (read from --token-file, --token-env or standard input)."`
	tokenFlags
}

// Run applies the changes.
func (c *InstanceUpdateCmd) Run(ctx context.Context, e *env) error {
	q := service.InstanceInput{VerifyTLS: c.VerifyTLS}
	if c.Rename != "" {
		q.Name = &c.Rename
	}
	if c.BaseURL != "" {
		q.BaseURL = &c.BaseURL
	}
	if c.NewToken || c.given() {
		tok, err := c.read(e)
		if err != nil {
			return err
		}
		q.Token = &tok
	}
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	v, err := a.Service.UpdateInstance(ctx, e.operator(), c.Name, q)
	if err != nil {
		return err
	}
	in := v.Instance
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(in)
	}
	fmt.Fprintf(e.stdout, "instance %s updated (%s, verify TLS %v, token %s)\n", in.Name, in.BaseURL, in.VerifyTLS, in.TokenHint)
	warn(e, v.Warnings)
	return nil
}

// InstanceRemoveCmd removes an instance.
type InstanceRemoveCmd struct {
	Name string `arg:"" help:"Instance name, exactly as listed (case included)."`
	Yes  bool   `help:"Do not ask for confirmation (needed when standard input is not a terminal)."`
}

// Run removes the instance, once the name matches exactly and the user
// has confirmed.
func (c *InstanceRemoveCmd) Run(ctx context.Context, e *env) error {
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	v, err := a.Service.Instance(ctx, e.operator(), c.Name)
	if err != nil {
		return err
	}
	in := v.Instance
	if in.Name != c.Name {
		return intel.Errorf(intel.ENOTFOUND, "no instance named exactly %q (did you mean %q? removal takes the name as listed)", c.Name, in.Name)
	}
	if !c.Yes {
		if !isTerminal(e.stdin) {
			return fmt.Errorf("%w: instance remove %s: give --yes to remove without a terminal to confirm on", errUsage, in.Name)
		}
		fmt.Fprintf(e.stderr, "Remove instance %s, its three channels with their settings, cursors and poll history?\n"+
			"The intelligence it brought stays, with its provenance. Type the name to confirm: ", in.Name)
		answer, _ := bufio.NewReader(e.stdin).ReadString('\n')
		if strings.TrimSpace(answer) != in.Name {
			return fmt.Errorf("instance remove %s: not confirmed; nothing was removed", in.Name)
		}
	}
	if _, err := a.Service.RemoveInstance(ctx, e.operator(), strconv.FormatInt(in.ID, 10)); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "instance %s removed; the intelligence it brought stays, with its provenance\n", in.Name)
	return nil
}

// InstanceTestCmd tests an instance's three channels.
type InstanceTestCmd struct {
	Name string `arg:"" help:"Instance name."`
}

// Run tests each channel and prints its working status.
func (c *InstanceTestCmd) Run(ctx context.Context, e *env) error {
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	return testChannels(ctx, e, a, c.Name)
}

func testChannels(ctx context.Context, e *env, a *App, instance string) error {
	res, err := a.Service.TestInstance(ctx, e.operator(), instance)
	if err != nil {
		return err
	}
	return printTests(e, res)
}

// printTests prints connectivity tests, and fails when any did.
func printTests(e *env, res []service.TestResult) error {
	type result struct {
		Channel   feed.Kind `json:"channel"`
		OK        bool      `json:"ok"`
		ErrorCode string    `json:"error_code,omitempty"`
		Error     string    `json:"error,omitempty"`
	}
	failed := 0
	out := []result{}
	for _, r := range res {
		out = append(out, result{r.Channel, r.OK, r.ErrorCode, r.Message})
		if !r.OK {
			failed++
		}
	}
	if e.g.JSON {
		if err := json.NewEncoder(e.stdout).Encode(out); err != nil {
			return err
		}
	} else {
		for _, r := range out {
			if r.OK {
				fmt.Fprintf(e.stdout, "%-16s running\n", r.Channel)
			} else {
				fmt.Fprintf(e.stdout, "%-16s connection error %s: %s\n", r.Channel, r.ErrorCode, r.Error)
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d channels failed the connectivity test", failed, len(out))
	}
	return nil
}

// InstanceMigrateCmd moves an instance to a new base URL and token.
type InstanceMigrateCmd struct {
	Name    string `arg:"" help:"Instance name."`
	BaseURL string `name:"base-url" required:"" help:"The Flashpoint Ignite base URL (https://api.flashpoint.io)."`
	tokenFlags
}

// Run updates the instance in one step, keeping its channels, collections,
// cursors and history, then tests its connectivity.
func (c *InstanceMigrateCmd) Run(ctx context.Context, e *env) error {
	if !c.given() {
		return fmt.Errorf("%w: migrate needs the new token from --token-file or --token-env", errUsage)
	}
	if _, err := feed.ValidateBaseURL(c.BaseURL); err != nil {
		return err
	}
	tok, err := c.read(e)
	if err != nil {
		return err
	}
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	m, err := a.Service.MigrateInstance(ctx, e.operator(), c.Name, c.BaseURL, tok)
	if err != nil {
		return err
	}
	if in := m.Instance; !e.g.JSON {
		fmt.Fprintf(e.stdout, "instance %s now uses %s (token %s); channels, collections, cursors and history kept\n", in.Name, in.BaseURL, in.TokenHint)
	}
	return printTests(e, m.Results)
}
