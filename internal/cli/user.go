package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/flintcti/flint/internal/service"
)

// UserCmd manages the console's users.
type UserCmd struct {
	Add    UserAddCmd    `cmd:"" help:"Add a console user (the password from standard input or --password-env)."`
	List   UserListCmd   `cmd:"" help:"List the console users."`
	Passwd UserPasswdCmd `cmd:"" help:"Set a user's password (ends its sessions)."`
	Remove UserRemoveCmd `cmd:"" help:"Remove a user (ends its sessions)."`
}

// passwordFlags say where a password comes from: never a flag's value.
type passwordFlags struct {
	PasswordEnv string `name:"password-env" help:"Read the password from this environment variable (else from standard input, one line)."`
}

func (f passwordFlags) read(e *env) (string, error) {
	if f.PasswordEnv != "" {
		v, ok := os.LookupEnv(f.PasswordEnv)
		if !ok {
			return "", fmt.Errorf("%w: environment variable %s is not set", errUsage, f.PasswordEnv)
		}
		return v, nil
	}
	if isTerminal(e.stdin) {
		fmt.Fprint(e.stderr, "Password (12–256 characters; it is echoed unless you paste it): ")
	}
	line, err := bufio.NewReader(io.LimitReader(e.stdin, 4<<10)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read the password from standard input: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// UserAddCmd adds a user.
type UserAddCmd struct {
	Name   string `arg:"" help:"The user's name (1–64 characters, no spaces)."`
	Role   string `required:"" help:"admin, feed-manager or analyst (the permissions of an API key of that role)."`
	MaxTLP string `name:"max-tlp" help:"Cap: the user sees no object marked above this TLP (clear, green, amber, amber+strict, red)."`
	passwordFlags
}

// Run adds the user.
func (c *UserAddCmd) Run(ctx context.Context, e *env) error {
	pw, err := c.read(e)
	if err != nil {
		return err
	}
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	u, err := a.Service.CreateUser(ctx, e.operator(), service.UserInput{Name: c.Name, Role: c.Role, MaxTLP: c.MaxTLP, Password: pw})
	if err != nil {
		return err
	}
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(u)
	}
	fmt.Fprintf(e.stdout, "user %s added (role %s%s)\n", u.Name, u.Role, capNote(string(u.MaxTLP)))
	return nil
}

func capNote(tlp string) string {
	if tlp == "" {
		return ""
	}
	return ", capped at TLP " + tlp
}

// UserListCmd lists the users.
type UserListCmd struct{}

// Run lists the users.
func (c *UserListCmd) Run(ctx context.Context, e *env) error {
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	us, err := a.Service.Users(ctx, e.operator())
	if err != nil {
		return err
	}
	if e.g.JSON {
		return json.NewEncoder(e.stdout).Encode(us)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tROLE\tMAX TLP\tCREATED\tPASSWORD CHANGED")
	for _, u := range us {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", printable(u.Name), u.Role, orDash(string(u.MaxTLP)), u.Created.Format(time.DateOnly),
			u.PasswordAt.Format("2006-01-02 15:04Z"))
	}
	return w.Flush()
}

// UserPasswdCmd sets a password.
type UserPasswdCmd struct {
	Name string `arg:"" help:"The user."`
	passwordFlags
}

// Run sets the password.
func (c *UserPasswdCmd) Run(ctx context.Context, e *env) error {
	pw, err := c.read(e)
	if err != nil {
		return err
	}
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.Service.SetPassword(ctx, e.operator(), c.Name, pw); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "password of %s set; its sessions are ended\n", c.Name)
	return nil
}

// UserRemoveCmd removes a user.
type UserRemoveCmd struct {
	Name string `arg:"" help:"The user."`
}

// Run removes the user.
func (c *UserRemoveCmd) Run(ctx context.Context, e *env) error {
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	u, err := a.Service.RemoveUser(ctx, e.operator(), c.Name)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "user %s removed; its sessions are ended\n", u.Name)
	return nil
}
