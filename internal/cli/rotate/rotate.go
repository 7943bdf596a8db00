// Package rotate implements `keyward rotate`.
package rotate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/gen"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/rotation"
	"github.com/keyward/keyward/schema"
)

// Options are rotate's inputs.
type Options struct {
	IO        *iostreams.IOStreams
	OpenStore func(context.Context) (*keyward.Store, error)
	// Sources says which rule chose the store (its --json store_source).
	Sources *cmdutil.SourceBook
	// Project loads keyward.yaml (nil, nil when there is none).
	Project func() (*schema.Config, error)
	// EnvName is the environment the store was chosen for ("" if none).
	EnvName func() string
	Now     func() time.Time
	Environ func() []string
	// RunExec runs --exec's command (tests replace it).
	RunExec func(ctx context.Context, command string, env []string, ios *iostreams.IOStreams) error

	Key      string
	Grace    time.Duration
	Generate string
	Stdin    bool
	Revoke   bool
	DryRun   bool
	Due      bool
	Retire   bool
	Resume   bool
	Abort    bool
	Exec     string
	JSON     bool
	// PassKeywardEnv keeps keyward's own credential variables in --exec's
	// environment; by default they are removed (cmdutil.ChildEnv).
	PassKeywardEnv bool
}

// NewCmd builds the command; runF replaces the run function in tests.
func NewCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{
		IO: f.IO, OpenStore: f.OpenStore, Sources: f.Sources(), Now: f.Now, Environ: f.Environ, RunExec: runExec,
		Project: func() (*schema.Config, error) { return f.Project() },
		EnvName: func() string {
			_, env, _, err := f.ResolveStoreURL()
			if err != nil {
				return ""
			}
			return env
		},
	}
	var grace string
	cmd := &cobra.Command{
		Use:   "rotate [KEY] [--due | --retire]",
		Short: "Rotate a secret, keeping the previous value valid for a grace period",
		Long: `Write a new value of KEY and keep the previous value valid until now + grace,
so services that verify with every key of the key ring ('keyward get KEY
--ring', the rotation/jwtkeys package) never reject a token signed just
before the rotation.

The new value comes from the secret's generate: recipe in keyward.yaml, or
--generate RECIPE, or stdin with --stdin (never from a flag value). The grace
period is --grace, else the secret's rotation.grace in keyward.yaml, else 24h.
--revoke-previous ends the grace of every previous value now (a breach).

A rotation is a sequence of steps (new value pending → current with the
previous in grace → previous retired when its grace ends), each one atomic.
If a rotation was interrupted, rotate refuses to start another one (exit 6)
until you rerun it with --resume (complete it) or --abort (roll it back,
when the new value is not current yet).

--due rotates every secret whose keyward.yaml policy is "method: automated"
and whose age reached "every", then retires previous values whose grace has
ended. --retire only does the latter: on GCP and Azure the previous version
is disabled, in bundles the KEY_OLD field is removed, on AWS per-key
secrets AWSPREVIOUS is removed.

--exec CMD runs CMD with sh -c after each rotation (a rollout, say), with
KEYWARD_ROTATED_KEY and KEYWARD_NEW_VERSION in its environment; never the
value, and never keyward's own credentials (KEYWARD_AGE_IDENTITY,
KEYWARD_AGE_IDENTITY_FILE, KEYWARD_SCAN_KEY, …) unless --pass-keyward-env. --dry-run prints the plan and writes nothing. Values are never printed.

See docs/rotation.md for how each provider keeps the previous value.`,
		Example: `  keyward rotate JWT_SECRET_KEY --env production
  keyward rotate JWT_SECRET_KEY --grace 48h --exec 'kubectl rollout restart deploy/backend'
  keyward rotate STRIPE_SECRET_KEY --stdin --revoke-previous < new-key.txt
  keyward rotate --due --env production          # from cron
  keyward rotate JWT_SECRET_KEY --dry-run --json
  keyward rotate JWT_SECRET_KEY --resume          # after an interrupted rotation`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Key = args[0]
			}
			if err := validate(opts, cmd, grace); err != nil {
				return err
			}
			return cmdutil.Run(cmd, opts, runF, run)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&grace, "grace", "", "How long the previous value stays valid (24h, 7d; default: keyward.yaml's rotation.grace, else 24h)")
	fl.StringVar(&opts.Generate, "generate", "", "Generate the new value with RECIPE[:SIZE] instead of keyward.yaml's recipe")
	fl.BoolVar(&opts.Stdin, "stdin", false, "Read the new value from stdin")
	fl.BoolVar(&opts.Revoke, "revoke-previous", false, "End the grace of every previous value now (breach or compromise)")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "Print the plan; write nothing")
	fl.BoolVar(&opts.Due, "due", false, "Rotate every automated secret that is due, then retire expired previous values")
	fl.BoolVar(&opts.Retire, "retire", false, "Retire previous values whose grace has ended (all secrets with a policy, or KEY)")
	fl.BoolVar(&opts.Resume, "resume", false, "Complete an interrupted rotation")
	fl.BoolVar(&opts.Abort, "abort", false, "Roll back an interrupted rotation")
	fl.StringVar(&opts.Exec, "exec", "", "Run this command (sh -c) after each rotation, with KEYWARD_ROTATED_KEY and KEYWARD_NEW_VERSION set")
	fl.BoolVar(&opts.PassKeywardEnv, "pass-keyward-env", false, cmdutil.PassKeywardEnvUsage)
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	return cmd
}

func validate(opts *Options, cmd *cobra.Command, grace string) error {
	if grace != "" {
		d, err := schema.ParseDuration(grace)
		if err != nil {
			return cmdutil.FlagErrorf("--grace: %v", err)
		}
		opts.Grace = d
	}
	modes := 0
	for _, b := range []bool{opts.Due, opts.Retire, opts.Resume, opts.Abort} {
		if b {
			modes++
		}
	}
	if modes > 1 {
		return cmdutil.FlagErrorf("--due, --retire, --resume and --abort cannot be combined")
	}
	if opts.Due && opts.Key != "" {
		return cmdutil.FlagErrorf("--due rotates every due secret; it takes no KEY")
	}
	if opts.Key == "" && !opts.Due && !opts.Retire {
		return cmdutil.FlagErrorf("rotate needs a KEY (or --due, or --retire)")
	}
	if opts.Generate != "" && opts.Stdin {
		return cmdutil.FlagErrorf("--generate and --stdin cannot be used together")
	}
	if (opts.Generate != "" || opts.Stdin) && (opts.Due || opts.Retire || opts.Resume || opts.Abort) {
		return cmdutil.FlagErrorf("--generate and --stdin only apply to rotating one KEY")
	}
	if opts.Generate != "" {
		if _, err := gen.Parse(opts.Generate); err != nil {
			return cmdutil.FlagErrorf("--generate: %v", err)
		}
	}
	if opts.Revoke && (opts.Retire || opts.Resume || opts.Abort) {
		return cmdutil.FlagErrorf("--revoke-previous applies to a new rotation")
	}
	return nil
}

// Output is rotate's --json shape: one result per rotated key, the values
// retired, and per-key errors of --due. Never values.
type Output struct {
	Store       string             `json:"store"`
	StoreSource string             `json:"store_source,omitempty"`
	Rotated     []*rotation.Result `json:"rotated"`
	Retired     []rotation.Retired `json:"retired,omitempty"`
	Skipped     []Skipped          `json:"skipped,omitempty"`
	Failures    []Failure          `json:"failures,omitempty"`
}

// Skipped is a secret --due looked at and left alone.
type Skipped struct {
	Key    string `json:"key"`
	Reason string `json:"reason"`
}

// Failure is a per-key error of --due or --retire.
type Failure struct {
	Key   string `json:"key"`
	Error string `json:"error"`
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *Options) project() (*schema.Config, error) {
	if o.Project == nil {
		return nil, nil
	}
	return o.Project()
}

func run(ctx context.Context, opts *Options) error {
	cfg, err := opts.project()
	if err != nil {
		return err
	}
	env := ""
	if opts.EnvName != nil {
		env = opts.EnvName()
	}
	s, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	out := &Output{Store: s.URL(), StoreSource: opts.Sources.Of(s), Rotated: []*rotation.Result{}}
	switch {
	case opts.Due:
		err = runDue(ctx, opts, s, cfg, env, out)
	case opts.Retire:
		err = runRetire(ctx, opts, s, cfg, env, out)
	default:
		err = runOne(ctx, opts, s, cfg, env, out)
	}
	if opts.JSON {
		if werr := cmdutil.WriteJSON(opts.IO.Out, out); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

func spec(cfg *schema.Config, key, env string) *schema.Spec {
	if cfg == nil {
		return nil
	}
	sp := cfg.Secrets[key]
	if sp == nil {
		return nil
	}
	return sp.For(env)
}

// policyOf returns the secret's rotation policy from keyward.yaml.
func policyOf(sp *schema.Spec) rotation.Policy {
	if sp == nil || sp.Rotation == nil {
		return rotation.Policy{}
	}
	r := sp.Rotation
	return rotation.Policy{Every: r.Every, Grace: r.Grace, Method: r.Method, Via: r.Via}
}

func (o *Options) rotationOptions(sp *schema.Spec) *rotation.Options {
	ro := &rotation.Options{Grace: o.Grace, RevokePrevious: o.Revoke, DryRun: o.DryRun, Resume: o.Resume, Abort: o.Abort, Clock: o.Now}
	if ro.Grace == 0 {
		ro.Grace = policyOf(sp).Grace
	}
	return ro
}

func runOne(ctx context.Context, opts *Options, s *keyward.Store, cfg *schema.Config, env string, out *Output) error {
	sp := spec(cfg, opts.Key, env)
	ro := opts.rotationOptions(sp)
	if !opts.Resume && !opts.Abort {
		switch {
		case opts.Stdin:
			b, err := cmdutil.ReadSecretInput(ctx, opts.IO.In, cmdutil.MaxSecretSize, true)
			if err != nil {
				return cmdutil.InputError("read the new value from stdin", err)
			}
			ro.NewValue = rotation.Fixed(keyward.NewSecret(b))
		case opts.Generate != "":
			ro.NewValue = rotation.Generator(opts.Generate)
		case sp != nil && sp.Generate != "":
			ro.NewValue = rotation.Generator(sp.Generate)
		default:
			return cmdutil.WithHint(
				keyward.Errorf(keyward.InvalidArgument, "rotate "+quote(opts.Key), "no way to make the new value: keyward.yaml has no generate: recipe for %s", opts.Key),
				"pass --generate RECIPE (e.g. urlsafe), or pipe the new value with --stdin")
		}
	}
	res, err := rotation.Rotate(ctx, s, opts.Key, ro)
	if err != nil {
		return hintFor(err, opts.Key, s.Can("put"))
	}
	out.Rotated = append(out.Rotated, res)
	report(opts, res)
	return opts.afterRotation(ctx, res)
}

func quote(k string) string { return `"` + k + `"` }

func hintFor(err error, key string, writable bool) error {
	switch {
	case errors.Is(err, rotation.ErrInProgress) && !errors.Is(err, rotation.ErrConflict):
		return cmdutil.WithHint(err, "if no other 'keyward rotate "+key+"' is running, complete the interrupted rotation with --resume or roll it back with --abort")
	case errors.Is(err, rotation.ErrConflict):
		return cmdutil.WithHint(err, "another rotation of "+key+" ran at the same time and won; 'keyward get "+key+" --ring --json' shows the result")
	case keyward.ErrorCode(err) == keyward.NotFound:
		return cmdutil.WithHint(err, "rotate replaces an existing value; create the first one with 'keyward set "+key+" --generate RECIPE'")
	case keyward.ErrorCode(err) == keyward.Unimplemented && writable:
		return cmdutil.WithHint(err, "the store is writable but its provider cannot do what this rotation needs (the error says what); rotate in a store that can (--store or --env)")
	case keyward.ErrorCode(err) == keyward.Unimplemented:
		return cmdutil.WithHint(err, "this store is read-only; rotate in the store the secret is written to (--store or --env)")
	}
	return err
}

func report(opts *Options, res *rotation.Result) {
	if opts.JSON {
		return
	}
	w := opts.IO.ErrOut
	if res.DryRun {
		w = opts.IO.Out
	}
	fmt.Fprintln(w, strings.ToUpper(rotation.Describe(res)[:1])+rotation.Describe(res)[1:])
	if res.DryRun {
		steps := make([]string, len(res.Steps))
		for i, s := range res.Steps {
			steps[i] = string(s)
		}
		fmt.Fprintf(w, "  steps: %s\n", strings.Join(steps, " → "))
	}
}

func (o *Options) afterRotation(ctx context.Context, res *rotation.Result) error {
	if o.Exec == "" || res.DryRun || res.Aborted {
		return nil
	}
	environ := os.Environ
	if o.Environ != nil {
		environ = o.Environ
	}
	env := append(cmdutil.ChildEnv(environ(), o.PassKeywardEnv), "KEYWARD_ROTATED_KEY="+res.Key, "KEYWARD_NEW_VERSION="+firstNonEmpty(res.NewVersion, res.To))
	if err := o.RunExec(ctx, o.Exec, env, o.IO); err != nil {
		return cmdutil.WithHint(keyward.Errorf(keyward.Unknown, "run --exec after rotating "+quote(res.Key), "%v", err),
			"the rotation itself succeeded; rerun the command by hand")
	}
	return nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func runExec(ctx context.Context, command string, env []string, ios *iostreams.IOStreams) error {
	var c *exec.Cmd
	if runtime.GOOS == "windows" {
		c = exec.CommandContext(ctx, "cmd", "/C", command)
	} else {
		c = exec.CommandContext(ctx, "sh", "-c", command)
	}
	c.Env = env
	c.Stdout, c.Stderr = ios.ErrOut, ios.ErrOut // stdout stays JSON-clean
	return c.Run()
}

// managed returns the names of keyward.yaml's secrets that have a rotation
// policy, in file order.
func managed(cfg *schema.Config) []string {
	var out []string
	if cfg == nil {
		return nil
	}
	for _, name := range cfg.Order {
		if sp := cfg.Secrets[name]; sp != nil && sp.Rotation != nil {
			out = append(out, name)
		}
	}
	return out
}

func runDue(ctx context.Context, opts *Options, s *keyward.Store, cfg *schema.Config, env string, out *Output) error {
	if cfg == nil {
		return cmdutil.WithHint(keyward.Errorf(keyward.InvalidArgument, "rotate --due", "there is no keyward.yaml to read rotation policies from"),
			"add rotation: {every: 90d, method: automated} to a secret in keyward.yaml (see docs/rotation.md)")
	}
	var errs keyward.MultiError
	now := opts.now()
	for _, name := range managed(cfg) {
		sp := spec(cfg, name, env)
		p := policyOf(sp)
		if !p.Automated() {
			out.Skipped = append(out.Skipped, Skipped{Key: name, Reason: "method " + p.Method + " is not automated"})
			continue
		}
		st, err := s.RotationState(ctx, name)
		if err != nil {
			if keyward.ErrorCode(err) == keyward.NotFound {
				out.Skipped = append(out.Skipped, Skipped{Key: name, Reason: "not in the store"})
				continue
			}
			errs = append(errs, err)
			out.Failures = append(out.Failures, Failure{Key: name, Error: err.Error()})
			continue
		}
		if !rotation.Due(p, st, now) {
			out.Skipped = append(out.Skipped, Skipped{Key: name, Reason: "not due until " + rotation.Evaluate(name, p, st, now).NextDue.UTC().Format(time.RFC3339)})
			continue
		}
		if sp.Generate == "" {
			err := keyward.Errorf(keyward.InvalidArgument, "rotate "+quote(name), "it is due, but keyward.yaml has no generate: recipe for it")
			errs = append(errs, err)
			out.Failures = append(out.Failures, Failure{Key: name, Error: err.Error()})
			continue
		}
		ro := opts.rotationOptions(sp)
		ro.NewValue = rotation.Generator(sp.Generate)
		res, err := rotation.Rotate(ctx, s, name, ro)
		if err != nil {
			errs = append(errs, err)
			out.Failures = append(out.Failures, Failure{Key: name, Error: err.Error()})
			continue
		}
		out.Rotated = append(out.Rotated, res)
		report(opts, res)
		if err := opts.afterRotation(ctx, res); err != nil {
			errs = append(errs, err)
		}
	}
	if !opts.JSON && len(out.Rotated) == 0 && len(errs) == 0 {
		fmt.Fprintln(opts.IO.ErrOut, "Nothing is due")
	}
	if err := sweep(ctx, opts, s, managed(cfg), out); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func runRetire(ctx context.Context, opts *Options, s *keyward.Store, cfg *schema.Config, env string, out *Output) error {
	keys := []string{opts.Key}
	if opts.Key == "" {
		keys = managed(cfg)
		if len(keys) == 0 {
			return cmdutil.WithHint(keyward.Errorf(keyward.InvalidArgument, "rotate --retire", "no KEY given and keyward.yaml names no secret with a rotation policy"),
				"name the key: keyward rotate KEY --retire")
		}
	}
	if err := sweep(ctx, opts, s, keys, out); err != nil {
		return err
	}
	if !opts.JSON && len(out.Retired) == 0 {
		fmt.Fprintln(opts.IO.ErrOut, "Nothing to retire")
	}
	return nil
}

func sweep(ctx context.Context, opts *Options, s *keyward.Store, keys []string, out *Output) error {
	var errs keyward.MultiError
	for _, k := range keys {
		ret, err := rotation.Retire(ctx, s, k, opts.Now, opts.DryRun)
		if err != nil && keyward.ErrorCode(err) != keyward.NotFound {
			errs = append(errs, err)
			out.Failures = append(out.Failures, Failure{Key: k, Error: err.Error()})
		}
		out.Retired = append(out.Retired, ret...)
		if !opts.JSON {
			for _, r := range ret {
				verb := "Retired"
				if opts.DryRun {
					verb = "Would retire"
				}
				fmt.Fprintf(opts.IO.ErrOut, "%s %s %s (grace ended %s): %s\n", verb, r.Key, r.ID, r.Expired.UTC().Format(time.RFC3339), r.How)
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}
