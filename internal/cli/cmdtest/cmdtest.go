// Package cmdtest helps the verbs' first layer of tests (gh's TestNewCmd):
// a table of command lines and the Options each should produce, with the
// run function intercepted so nothing runs.
package cmdtest

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
)

// NewCmdFunc is a verb's NewCmd(f, runF).
type NewCmdFunc[O any] func(f *cmdutil.Factory, runF func(context.Context, *O) error) *cobra.Command

// Parse builds the verb with newCmd over a Factory with test streams
// (stdin, stdout and stderr are terminals when tty is set), runs it with
// args split on spaces, and returns the Options its run function got (nil
// when it failed before running), the command that ran (a subcommand for
// audit and hook) and the error.
func Parse[O any](newCmd NewCmdFunc[O], args string, tty bool) (*O, *cobra.Command, error) {
	ios, _, _, _ := iostreams.Test()
	ios.SetTTY(tty, tty, tty)
	var got *O
	cmd := newCmd(&cmdutil.Factory{IO: ios}, func(_ context.Context, o *O) error { got = o; return nil })
	cmd.SetArgs(strings.Fields(args))
	cmd.SetOut(ios.Out)
	cmd.SetErr(ios.ErrOut)
	ran, err := cmd.ExecuteC()
	return got, ran, err
}
