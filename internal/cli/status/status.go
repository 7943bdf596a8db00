// Package status implements `keyward status`.
package status

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/rotation"
	"github.com/keyward/keyward/schema"
)

// ExitOverdue is status's exit code when a secret is overdue for rotation
// (documented in docs/rotation.md), so cron and CI can alert on it apart
// from errors (1, 3, 4, 5…).
const ExitOverdue = cmdutil.ExitOverdue

// Options are status's inputs.
type Options struct {
	IO        *iostreams.IOStreams
	OpenStore func(context.Context) (*keyward.Store, error)
	// Sources says which rule chose the store (its --json store_source).
	Sources *cmdutil.SourceBook
	Project func() (*schema.Config, error)
	EnvName func() string
	Now     func() time.Time

	Keys []string
	All  bool
	JSON bool
}

// NewCmd builds the command; runF replaces the run function in tests.
func NewCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{
		IO: f.IO, OpenStore: f.OpenStore, Sources: f.Sources(), Now: f.Now,
		Project: func() (*schema.Config, error) { return f.Project() },
		EnvName: func() string {
			_, env, _, err := f.ResolveStoreURL()
			if err != nil {
				return ""
			}
			return env
		},
	}
	cmd := &cobra.Command{
		Use:   "status [KEY...]",
		Short: "Show each secret's rotation schedule: age, next due date, overdue",
		Long: `For every secret with a rotation policy in keyward.yaml (or the KEYs named),
show its age (since it was last rotated or written), its policy, when the
next rotation is due, whether it is overdue, any rotation left unfinished,
and any previous value still inside its grace period with its expiry.

Exit status: 0 when nothing is overdue; 8 when at least one secret is
overdue (so a cron job or CI step can alert); other codes for errors as
everywhere (docs/cli.md). A secret missing from the store is reported, not
counted as overdue ('keyward validate' checks presence); a KEY named on the
command line that neither keyward.yaml nor the store knows (a typo) exits 3.

Values are never read into the output: only versions and times.`,
		Example: `  keyward status --env production
  keyward status --env production --json | jq '.secrets[] | select(.overdue)'
  keyward status JWT_SECRET_KEY
  keyward status --all          # every secret in keyward.yaml, with or without a policy`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Keys = args
			return cmdutil.Run(cmd, opts, runF, run)
		},
	}
	cmd.Flags().BoolVar(&opts.All, "all", false, "Include secrets that have no rotation policy")
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	return cmd
}

// Output is status's --json shape.
type Output struct {
	Store       string            `json:"store"`
	StoreSource string            `json:"store_source,omitempty"`
	Environment string            `json:"environment,omitempty"`
	Now         time.Time         `json:"now"`
	Overdue     bool              `json:"overdue"`
	Secrets     []rotation.Status `json:"secrets"`
	Errors      []KeyError        `json:"errors,omitempty"`
}

// KeyError is a secret whose state could not be read.
type KeyError struct {
	Key   string `json:"key"`
	Error string `json:"error"`
}

func run(ctx context.Context, opts *Options) error {
	var cfg *schema.Config
	if opts.Project != nil {
		var err error
		if cfg, err = opts.Project(); err != nil {
			return err
		}
	}
	env := ""
	if opts.EnvName != nil {
		env = opts.EnvName()
	}
	keys := opts.Keys
	if len(keys) == 0 {
		if cfg == nil {
			return cmdutil.WithHint(keyward.Errorf(keyward.InvalidArgument, "status", "there is no keyward.yaml with rotation policies here"),
				"name the keys (keyward status KEY…), or add rotation: to secrets in keyward.yaml (see docs/rotation.md)")
		}
		for _, name := range cfg.Order {
			if sp := cfg.Secrets[name]; sp != nil && (opts.All || sp.Rotation != nil) {
				keys = append(keys, name)
			}
		}
	}
	s, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	if opts.Now != nil {
		now = opts.Now()
	}
	out := &Output{Store: s.URL(), StoreSource: opts.Sources.Of(s), Environment: env, Now: now.UTC(), Secrets: []rotation.Status{}}
	var errs keyward.MultiError
	var missing []string // KEYs named on the command line that neither keyward.yaml nor the store knows
	for _, k := range keys {
		p := policy(cfg, k, env)
		st, err := s.RotationState(ctx, k)
		if err != nil && keyward.ErrorCode(err) == keyward.NotFound && len(opts.Keys) > 0 && (cfg == nil || cfg.Secrets[k] == nil) {
			missing = append(missing, k)
		}
		if err != nil && keyward.ErrorCode(err) != keyward.NotFound {
			errs = append(errs, err)
			out.Errors = append(out.Errors, KeyError{Key: k, Error: err.Error()})
			continue
		}
		ks := rotation.Evaluate(k, p, st, now)
		out.Overdue = out.Overdue || ks.Overdue
		out.Secrets = append(out.Secrets, ks)
	}
	if opts.JSON {
		if err := cmdutil.WriteJSON(opts.IO.Out, out); err != nil {
			return err
		}
	} else if err := writeTable(opts.IO.Out, out, opts.IO.IsStdoutTTY()); err != nil {
		return err
	}
	if len(errs) > 0 {
		return errs
	}
	if len(missing) > 0 {
		return cmdutil.WithHint(keyward.Errorf(keyward.NotFound, "status", "%s: no such secret in %s", strings.Join(missing, ", "), s.URL()),
			"'keyward list' shows the keys in this store")
	}
	if out.Overdue {
		if !opts.JSON {
			fmt.Fprintln(opts.IO.ErrOut, "keyward: some secrets are overdue for rotation")
			fmt.Fprintln(opts.IO.ErrOut, "keyward: hint: 'keyward rotate --due' rotates the automated ones; rotate the others where the policy says (via)")
		}
		return &cmdutil.SilentError{Code: ExitOverdue}
	}
	return nil
}

func policy(cfg *schema.Config, key, env string) rotation.Policy {
	if cfg == nil {
		return rotation.Policy{}
	}
	sp := cfg.Secrets[key]
	if sp == nil || sp.Rotation == nil {
		return rotation.Policy{}
	}
	r := sp.For(env).Rotation
	return rotation.Policy{Every: r.Every, Grace: r.Grace, Method: r.Method, Via: r.Via}
}

// PolicyText renders a policy like the guide's schedule table.
func PolicyText(p rotation.Policy) string {
	var s string
	switch {
	case p.Every > 0:
		s = "every " + schema.FormatDuration(p.Every)
	case p.Method != "":
		s = "on breach"
	default:
		return "none"
	}
	if p.Method != "" {
		s += ", " + p.Method
	}
	if p.Via != "" {
		s += " (" + p.Via + ")"
	}
	return s
}

func days(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	if d >= 48*time.Hour {
		return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	}
	if d >= time.Hour {
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dm", int(d/time.Minute))
}

func state(s rotation.Status, now time.Time) string {
	switch {
	case !s.Exists:
		return "missing"
	case s.InFlight:
		return "unfinished rotation (rotate --resume)"
	case s.Overdue:
		return "OVERDUE by " + days(now.Sub(s.NextDue))
	case s.NextDue.IsZero():
		return "ok"
	}
	return "ok, due in " + days(s.NextDue.Sub(now))
}

func writeTable(w io.Writer, out *Output, tty bool) error {
	if !tty {
		// Plain lines for scripts: key, state, age, next due, policy.
		for _, s := range out.Secrets {
			next := "-"
			if !s.NextDue.IsZero() {
				next = s.NextDue.UTC().Format(time.RFC3339)
			}
			age := "-"
			if s.Exists && !s.RotatedAt.IsZero() {
				age = days(time.Duration(s.Age))
			}
			st := "ok"
			switch {
			case !s.Exists:
				st = "missing"
			case s.InFlight:
				st = "unfinished"
			case s.Overdue:
				st = "overdue"
			}
			line := fmt.Sprintf("%s\t%s\tage=%s\tnext=%s\tpolicy=%s", s.Key, st, age, next, PolicyText(s.Policy))
			for _, p := range s.Previous {
				line += "\tprevious=" + p.ID + "@" + expiry(p.Expires)
			}
			fmt.Fprintln(w, line)
		}
		return nil
	}
	tw := cmdutil.Table(w)
	fmt.Fprintln(tw, "SECRET\tPOLICY\tAGE\tNEXT DUE\tSTATUS\tPREVIOUS IN GRACE")
	for _, s := range out.Secrets {
		age, next := "-", "-"
		if s.Exists && !s.RotatedAt.IsZero() {
			age = days(time.Duration(s.Age))
		}
		if !s.NextDue.IsZero() {
			next = s.NextDue.UTC().Format(time.RFC3339)
		}
		var prev []string
		for _, p := range s.Previous {
			if p.Expired {
				prev = append(prev, p.ID+" expired (rotate --retire)")
			} else {
				prev = append(prev, p.ID+" until "+expiry(p.Expires))
			}
		}
		if len(prev) == 0 {
			prev = []string{"-"}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Key, PolicyText(s.Policy), age, next, state(s, out.Now), strings.Join(prev, ", "))
	}
	return tw.Flush()
}

func expiry(t time.Time) string {
	if t.IsZero() {
		return "no recorded end"
	}
	return t.UTC().Format(time.RFC3339)
}
