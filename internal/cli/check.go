package cli

import (
	"context"
	"fmt"
)

// CheckCmd runs the database's full integrity check.
type CheckCmd struct{}

// Run checks the store; the exit status is 1 when anything is wrong.
func (c *CheckCmd) Run(ctx context.Context, e *env) error {
	a, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	problems, err := a.Store.Check(ctx)
	if err != nil {
		return err
	}
	if len(problems) == 0 {
		fmt.Fprintf(e.stdout, "%s: ok\n", a.Where())
		return nil
	}
	for _, p := range problems {
		fmt.Fprintln(e.stdout, p)
	}
	return fmt.Errorf("%s is damaged (%d problems above): restore it from a backup", a.Where(), len(problems))
}
