// Package cli is the keyward command line. Main builds the root command from
// the verbs registered by the verb_*.go files (one per verb, each a package
// under internal/cli/) and runs it.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/fsutil"
	"github.com/keyward/keyward/internal/harden"
	"github.com/keyward/keyward/plugin"
)

// Version is set at build time with -ldflags "-X github.com/keyward/keyward/internal/cli.Version=…";
// otherwise it is the module version Go recorded in the binary.
var Version = ""

// VersionString is what 'keyward --version' prints after "keyward version ":
// the module version (go install …@v1.2.3 records it; a checkout build is
// "(devel)") and the VCS revision, time and modified flag Go stamps into a
// binary built from a git checkout.
func VersionString(info *debug.BuildInfo, ok bool) string {
	v := Version
	if v == "" && ok && info.Main.Version != "" {
		v = info.Main.Version
	}
	if v == "" {
		v = "(devel)"
	}
	if !ok {
		return v
	}
	var rev, at, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		}
	}
	if rev == "" {
		return v + " (no VCS revision recorded)"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if at != "" {
		at = ", " + at
	}
	return v + " (revision " + rev + at + modified + ")"
}

type verbFunc func(f *cmdutil.Factory) *cobra.Command

type verb struct {
	build verbFunc
	names []string // the command's name and aliases; none: always built
}

var verbs []verb

// register adds a verb; verb_*.go files call it from init, naming the
// command it builds (and its aliases), so that a command line naming one
// verb builds only that one (invokedVerb).
func register(v verbFunc, names ...string) { verbs = append(verbs, verb{v, names}) }

// wholeTree makes Run build every verb, always (tests compare).
var wholeTree = false

// invokedVerb returns the verb args run when they name one registered verb
// (after the root's own flags), so that only its command is built: building
// every verb's cobra command cost each keyward start-up ~0.4 ms. ok is false
// whenever the whole tree is needed: no verb (keyward, keyward --help),
// help, completion (shell completion scripts and __complete), an unknown
// verb (cobra suggests the nearest) or a flag the root does not know.
// `keyward --version` needs no verb: name "" and ok.
func invokedVerb(args []string) (name string, ok bool) {
	version := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--version" || a == "-v":
			version = true
			continue
		case a == "--store" || a == "--env" || a == "-e" || a == "--config" || a == "--allow-ref":
			i++ // the flag's value
			continue
		case strings.HasPrefix(a, "--store=") || strings.HasPrefix(a, "--env=") || strings.HasPrefix(a, "--config=") ||
			strings.HasPrefix(a, "--allow-ref=") || (strings.HasPrefix(a, "-e") && len(a) > 2 && a[2] != '-'):
			continue
		case strings.HasPrefix(a, "-"):
			return "", false // --help, --, or a flag for cobra to judge
		}
		for _, v := range verbs {
			if slices.Contains(v.names, a) {
				return a, true
			}
		}
		return "", false
	}
	return "", version
}

// Main runs keyward with the process's arguments and returns the exit code.
//
// SIGINT and SIGTERM cancel the command's context; reads of input honour
// it. Should the verb still be running InterruptGrace later (blocked in a
// call nothing can cancel), keyward exits with code 130 anyway — except
// while `run` forwards signals to its child and waits for it.
func Main() int {
	// Before anything else, and so before any secret is read: no core dumps
	// (docs/security-audit-env.md).
	hardenErr := harden.DisableCoreDumps()
	f := cmdutil.New()
	if hardenErr != nil {
		fmt.Fprintf(f.IO.ErrOut, "keyward: warning: could not disable core dumps: %v\n", hardenErr)
	}
	// Every start removes the plaintext temporary files a killed keyward
	// left behind, --version's too.
	sweepTemp(f, ".")
	args := os.Args[1:]
	name, named := invokedVerb(args) // once per start: Main, onlyPrints and Run all need it
	if printsOnly(args, name, named) {
		// --version and help read nothing and write nothing: no signal
		// handling (its two runtime threads were ~0.4 ms of each start,
		// bench/README.md).
		return runArgs(context.Background(), f, args, name, named)
	}
	ctx, stop, _, router := interruptContext(backgroundSignals[name], name == "run")
	defer stop()
	f.Signals = router
	// No goroutine waits for the interrupt: AfterFunc starts one only if it
	// comes, and is deregistered (first, LIFO) before stop ends the context.
	defer context.AfterFunc(ctx, func() {
		// Forwarding when the signal came, or by the deadline: keyward
		// waits for its child, whose exit status is keyward's.
		forwarding := cmdutil.ForwardingSignals.Load()
		time.Sleep(InterruptGrace)
		if forwarding || cmdutil.ForwardingSignals.Load() {
			return
		}
		f.IO.ErrOut.Write([]byte("keyward: interrupted\n"))
		os.Exit(cmdutil.ExitCancel)
	})()
	return runArgs(ctx, f, args, name, named)
}

// backgroundSignals are the verbs that install their interrupt handling in
// the background (interruptContext), with the signals it covers: they write
// nothing a signal could cut short. run also covers SIGHUP, which it
// forwards to its child (catching it again, synchronously, before the child
// starts): enabling a signal the process does not catch yet costs a
// handshake with the runtime's signal thread, ~0.1 ms or more, that run
// would otherwise pay just before it starts the child.
var backgroundSignals = map[string][]os.Signal{
	"run":  {os.Interrupt, syscall.SIGTERM, syscall.SIGHUP},
	"get":  {os.Interrupt, syscall.SIGTERM},
	"list": {os.Interrupt, syscall.SIGTERM},
	"ls":   {os.Interrupt, syscall.SIGTERM},
}

// interruptContext returns a context that SIGINT or SIGTERM (or, in the
// background, any of background) cancels, and the function that stops
// watching for them. Installing the handlers starts runtime threads
// (~0.3 ms); with background signals, another goroutine installs them while
// the command starts, and a signal in the first moments has its default
// effect (keyward ends; a write keyward had begun is crash-safe, fsutil).
// installed is closed once the handlers are in place. With background
// signals every signal caught goes through router (cmdutil.Signals), which
// run's forwarding registers with, so that none is lost between Main's
// handling and run's; router is nil otherwise. With warmExec the same
// goroutine then makes os/exec's once-per-process pidfd probe (it forks a
// throwaway child), so that starting run's child does not wait for it.
func interruptContext(background []os.Signal, warmExec bool) (ctx context.Context, stop func(), installed <-chan struct{}, router *cmdutil.Signals) {
	if len(background) == 0 {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		done := make(chan struct{})
		close(done)
		return ctx, stop, done, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	// Room for the signals that come while the goroutine makes the exec
	// probe below: os/signal drops one that finds the channel full, and
	// each may be the child's.
	sigs := make(chan os.Signal, 8)
	ready, done := make(chan struct{}), make(chan struct{})
	router = cmdutil.NewSignals(cancel, ready)
	go func() {
		signal.Notify(sigs, background...)
		close(ready)
		if warmExec {
			// os.FindProcess makes the probe os/exec would make at the
			// child's start.
			if p, err := os.FindProcess(os.Getpid()); err == nil {
				_ = p.Release()
			}
		}
		for {
			select {
			case sig := <-sigs:
				router.Deliver(sig) // and go on: a child may need the next one too
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return ctx, func() { once.Do(func() { close(done); cancel(); signal.Stop(sigs) }) }, ready, router
}

// onlyPrints reports whether args ask only for text keyward prints without
// touching a store or a file: --version (no verb), or help (no arguments,
// `help`, --help/-h alone, or right after a verb's name). A -h anywhere
// else may be a flag's value or belong to run's command, so it does not
// count (the command then merely gets signal handling it did not need).
func onlyPrints(args []string) bool {
	name, ok := invokedVerb(args)
	return printsOnly(args, name, ok)
}

// printsOnly is onlyPrints given invokedVerb(args).
func printsOnly(args []string, name string, named bool) bool {
	if named && name == "" {
		return true
	}
	isHelp := func(a string) bool { return a == "--help" || a == "-h" }
	switch {
	case len(args) == 0 || args[0] == "help" || isHelp(args[0]):
		return true
	case len(args) >= 2 && isHelp(args[1]):
		name, ok := invokedVerb(args[:1])
		return ok && name != ""
	}
	return false
}

// sweepTemp removes the plaintext temporary files an interrupted keyward
// (kill -9, power loss) left in dir, and says so in one line.
func sweepTemp(f *cmdutil.Factory, dir string) {
	if removed := fsutil.SweepTemps(dir, time.Now()); len(removed) > 0 {
		fmt.Fprintf(f.IO.ErrOut, "keyward: note: removed %d temporary file(s) an interrupted keyward left behind (%s)\n",
			len(removed), strings.Join(removed, ", "))
	}
}

// InterruptGrace is how long a verb has to return after SIGINT/SIGTERM.
const InterruptGrace = 2 * time.Second

// Run runs keyward with args against a Factory (tests use fakes).
func Run(ctx context.Context, f *cmdutil.Factory, args []string) int {
	name, named := invokedVerb(args)
	return runArgs(ctx, f, args, name, named)
}

// runArgs is Run given invokedVerb(args).
func runArgs(ctx context.Context, f *cmdutil.Factory, args []string, name string, named bool) int {
	host := &plugin.Host{Stderr: f.IO.ErrOut}
	usePlugins(f, host)
	f.Plugins = host
	defer host.Close() // after the stores: f.Close runs first
	defer f.Close()
	var root *cobra.Command
	if named && !wholeTree {
		root = newRoot(f, func(v verb) bool { return len(v.names) == 0 || slices.Contains(v.names, name) })
	} else {
		root = NewRoot(f)
	}
	root.SetArgs(args)
	root.SetIn(f.IO.In)
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	cmd, err := root.ExecuteContextC(ctx)
	if f.AfterCommand != nil && cmd != nil && cmd != root {
		if aerr := f.AfterCommand(ctx, cmd, err); aerr != nil && err == nil {
			err = aerr
		}
	}
	if err != nil {
		var fe *cmdutil.FlagError
		var se *cmdutil.SilentError
		switch {
		case errors.As(err, &se):
		case errors.As(err, &fe) || isCobraUsageError(err):
			cmdutil.PrintError(f.IO.ErrOut, err)
			if cmd != nil {
				f.IO.ErrOut.Write([]byte("keyward: hint: see '" + cmd.CommandPath() + " --help'\n"))
			}
			return cmdutil.ExitUsage
		default:
			cmdutil.PrintError(f.IO.ErrOut, err)
		}
		return cmdutil.ExitCode(err)
	}
	return cmdutil.ExitOK
}

// NewRoot builds the root command with every registered verb.
func NewRoot(f *cmdutil.Factory) *cobra.Command { return newRoot(f, nil) }

// newRoot builds the root command with the verbs keep accepts (nil: all).
func newRoot(f *cmdutil.Factory, keep func(verb) bool) *cobra.Command {
	root := &cobra.Command{
		Use:   "keyward <command>",
		Short: "Secrets for your services, from wherever they live",
		Long: `keyward gives a service its secrets from wherever they live, checks them
before a deploy, rotates them without downtime, delivers them to Kubernetes
and Docker, records who read what, and catches them when they leak.

With no configuration it uses an age-encrypted store file, keyward.age, in
the current directory (create it with 'keyward init'). Pick another store
with --store URL, --env NAME (from keyward.yaml), KEYWARD_STORE, or the
guide's SECRET_PROVIDER variables.`,
		Example: `  keyward init
  keyward set JWT_SECRET_KEY --generate urlsafe
  keyward run -- ./server
  keyward get DATABASE_URL --store dotenv://.env
  SECRET_PROVIDER=vault VAULT_ADDR=https://vault:8200 VAULT_PATH=dharmamind/production keyward list`,
		Version:       VersionString(debug.ReadBuildInfo()),
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.PersistentFlags().StringVar(&f.StoreURL, "store", "", "Store URL, SCHEME://… (schemes: "+strings.Join(cmdutil.StoreSchemes(f.Mux), ", ")+"; see docs/providers.md)")
	root.PersistentFlags().StringVarP(&f.EnvName, "env", "e", "", "Environment from keyward.yaml")
	root.PersistentFlags().StringVar(&f.ConfigPath, "config", "", "Path to keyward.yaml (default: search upward from the current directory)")
	root.PersistentFlags().StringArrayVar(&f.AllowRefs, "allow-ref", nil, "Allow references in stored values and templates, and keyward.yaml stores, to name stores under this URL prefix (repeatable; see docs/delivery.md)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cmdutil.FlagErrorf("%v", err) })
	if keep != nil {
		// A one-verb tree answers a command line that names that verb, never
		// `completion`: cobra would otherwise build its completion command
		// and the four shells' help texts at every start.
		root.CompletionOptions.DisableDefaultCmd = true
	}
	cmds := make([]*cobra.Command, 0, len(verbs))
	for _, v := range verbs {
		if keep == nil || keep(v) {
			cmds = append(cmds, v.build(f))
		}
	}
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].Name() < cmds[j].Name() })
	root.AddCommand(cmds...)
	installCompletion(f, root)
	return root
}

func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "requires at most", "flag needs an argument"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
