// Package hook implements `keyward hook install` and `keyward hook uninstall`.
package hook

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/internal/fsutil"
)

// Marker identifies a hook keyward wrote; keyward rewrites or removes only
// hooks that carry it.
const Marker = "# keyward-managed pre-commit hook"

// Script is the pre-commit hook keyward installs.
const Script = `#!/bin/sh
` + Marker + ` (keyward hook install).
# Blocks a commit whose staged changes hold a managed secret value or a known
# credential format. Bypass once with: git commit --no-verify
if ! command -v keyward >/dev/null 2>&1; then
	echo "keyward: pre-commit: keyward is not on PATH; install it or remove this hook" >&2
	exit 1
fi
exec keyward scan --staged
`

// Options are hook's inputs.
type Options struct {
	IO    *iostreams.IOStreams
	Dir   string // repository (default ".")
	Force bool
	Git   string
}

// NewCmd builds `keyward hook` with its subcommands install and uninstall,
// each a cobra command with its own help that runs Install or Uninstall.
// runF, when not nil, replaces both in tests; cobra's ExecuteC tells which
// subcommand ran.
func NewCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hook <command>",
		Short: "Install a git pre-commit hook that scans staged changes",
		Long: `Manage the git pre-commit hook that runs 'keyward scan --staged' before every
commit, so a managed secret or a known credential format never enters history.`,
		Example: `  keyward hook install
  keyward hook install --force
  keyward hook uninstall`,
	}
	install, opts := newSubcommand(f, runF, Install, &cobra.Command{
		Use:   "install [REPO]",
		Short: "Write .git/hooks/pre-commit (or core.hooksPath) to run 'keyward scan --staged'",
		Long: `Write a pre-commit hook that runs 'keyward scan --staged'. The hook goes where
git looks for hooks: core.hooksPath if set, else .git/hooks. Installing again
is harmless. A pre-commit hook keyward did not write is left alone unless
--force is given.

install also configures keyward's git merge driver and diff driver for the
local store in this clone (git config merge.keyward.driver, diff.keyward.textconv)
and adds "keyward.age merge=keyward diff=keyward" to .gitattributes (commit
it): two branches that each add or change secrets then merge by secret, and
git diff shows "KEY v4 … fp:…" lines, never values. See docs/local-store.md.`,
		Example: `  keyward hook install
  keyward hook install ../other-repo
  keyward hook install --force`,
	})
	install.Flags().BoolVar(&opts.Force, "force", false, "Replace a pre-commit hook keyward did not write")
	uninstall, _ := newSubcommand(f, runF, Uninstall, &cobra.Command{
		Use:     "uninstall [REPO]",
		Short:   "Remove keyward's pre-commit hook",
		Long:    `Remove the pre-commit hook if keyward wrote it; a foreign hook is left alone.`,
		Example: `  keyward hook uninstall`,
	})
	cmd.AddCommand(install, uninstall)
	return cmd
}

// newSubcommand makes c run fn (runF in tests) on the repository named by
// its optional argument (default ".").
func newSubcommand(f *cmdutil.Factory, runF, fn func(context.Context, *Options) error, c *cobra.Command) (*cobra.Command, *Options) {
	if runF != nil {
		fn = runF
	}
	opts := &Options{IO: f.IO, Git: "git"}
	c.Args = cobra.MaximumNArgs(1)
	c.RunE = func(c *cobra.Command, args []string) error {
		opts.Dir = "."
		if len(args) == 1 {
			opts.Dir = args[0]
		}
		return fn(c.Context(), opts)
	}
	return c, opts
}

// HookPath returns where git runs the pre-commit hook of the repository at
// dir from, honouring core.hooksPath.
func HookPath(ctx context.Context, git, dir string) (string, error) {
	out, err := gitOut(ctx, git, dir, "rev-parse", "--git-path", "hooks")
	if err != nil {
		return "", err
	}
	hooks := strings.TrimSpace(out)
	if hp, err := gitOut(ctx, git, dir, "config", "--get", "core.hooksPath"); err == nil && strings.TrimSpace(hp) != "" {
		hooks = strings.TrimSpace(hp)
		if strings.HasPrefix(hooks, "~/") {
			if home, err := os.UserHomeDir(); err == nil {
				hooks = filepath.Join(home, hooks[2:])
			}
		}
		if !filepath.IsAbs(hooks) {
			// Relative hooksPath is relative to the work tree's top level.
			top, err := gitOut(ctx, git, dir, "rev-parse", "--show-toplevel")
			if err == nil {
				hooks = filepath.Join(strings.TrimSpace(top), hooks)
			}
		}
	} else if !filepath.IsAbs(hooks) {
		hooks = filepath.Join(dir, hooks)
	}
	return filepath.Join(hooks, "pre-commit"), nil
}

func gitOut(ctx context.Context, git, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, git, append([]string{"-C", dir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		if msg == "" {
			msg = err.Error()
		}
		return "", keyward.Errorf(keyward.FailedPrecondition, "git", "%s", msg)
	}
	return string(out), nil
}

// Install writes the hook (atomically, mode 0755).
func Install(ctx context.Context, o *Options) error {
	p, err := HookPath(ctx, o.Git, o.Dir)
	if err != nil {
		return cmdutil.WithHint(notARepo(o.Dir, err), "run it inside a git repository")
	}
	old, err := fsutil.ReadFile(p, fsutil.MaxSmallFile)
	switch {
	case err == nil && bytes.Equal(old, []byte(Script)):
		fmt.Fprintf(o.IO.ErrOut, "keyward: pre-commit hook already installed at %s\n", p)
		return InstallStoreDrivers(ctx, o)
	case err == nil && !bytes.Contains(old, []byte(Marker)) && !o.Force:
		return cmdutil.WithHint(keyward.Errorf(keyward.AlreadyExists, "install hook", "%s exists and was not written by keyward", p),
			"add 'keyward scan --staged' to it yourself, or replace it with 'keyward hook install --force'")
	case err != nil && !os.IsNotExist(err):
		return keyward.NewError(fsutil.Code(err), "install hook", err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return keyward.NewError(fsutil.Code(err), "install hook", err)
	}
	if err := fsutil.WriteFile(p, []byte(Script), &fsutil.WriteOptions{Perm: 0o755}); err != nil {
		return keyward.NewError(fsutil.Code(err), "install hook", err)
	}
	fmt.Fprintf(o.IO.ErrOut, "keyward: installed pre-commit hook at %s\n", p)
	return InstallStoreDrivers(ctx, o)
}

// Uninstall removes keyward's hook; a foreign hook is an error.
func Uninstall(ctx context.Context, o *Options) error {
	p, err := HookPath(ctx, o.Git, o.Dir)
	if err != nil {
		return cmdutil.WithHint(notARepo(o.Dir, err), "run it inside a git repository")
	}
	old, err := fsutil.ReadFile(p, fsutil.MaxSmallFile)
	if os.IsNotExist(err) {
		fmt.Fprintln(o.IO.ErrOut, "keyward: no pre-commit hook installed")
		return nil
	}
	if err != nil {
		return fmt.Errorf("keyward: failed to read %s: %w", p, err)
	}
	if !bytes.Contains(old, []byte(Marker)) {
		return keyward.Errorf(keyward.FailedPrecondition, "uninstall hook", "%s was not written by keyward; left alone", p)
	}
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("keyward: failed to remove hook: %w", err)
	}
	fmt.Fprintf(o.IO.ErrOut, "keyward: removed pre-commit hook %s\n", p)
	return nil
}

// notARepo turns git's "not a git repository" into a usage error (exit 2,
// docs/scan.md); other git failures keep their own code.
func notARepo(dir string, err error) error {
	if strings.Contains(err.Error(), "not a git repository") {
		if dir == "" {
			dir = "."
		}
		return keyward.Errorf(keyward.InvalidArgument, "find the git hooks directory", "%s is not inside a git repository", dir)
	}
	return fmt.Errorf("keyward: failed to find the git hooks directory: %w", err)
}
