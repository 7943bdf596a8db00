// Package policy implements `keyward policy`: print the least-privilege
// policy an environment needs in its provider's own language, and (--check)
// prove with the credentials at hand that it reaches its own environment
// and no other.
package policy

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
	kwpolicy "github.com/keyward/keyward/policy"
	"github.com/keyward/keyward/schema"
)

// Options are policy's inputs.
type Options struct {
	IO     *iostreams.IOStreams
	Getenv func(string) string
	// Resolve says which store and environment the command is about.
	Resolve func() (url, env, source string, err error)
	Project func() (*schema.Config, error)
	// EnvURL is an environment's store URL from keyward.yaml, refused
	// (*keyward.TrustError) when the trust policy does not let the
	// repository's file steer the user's credentials there.
	EnvURL func(name string) (string, error)
	// OpenURL opens a store (with the audit hook) for --check.
	OpenURL func(ctx context.Context, rawURL, env string) (*keyward.Store, error)
	// Remote derives the policy of a plugin-backed provider through its
	// plugin program (kwpolicy.Request.Remote); nil (no plugin host): the
	// plain text document.
	Remote func(ctx context.Context, r *kwpolicy.Request) (*kwpolicy.Document, error)

	Access    string
	Keys      []string
	All       bool
	Format    string
	Rollout   []string
	Account   string
	Principal string
	Check     bool
	JSON      bool
}

// NewCmd builds the command; runF replaces the run function in tests.
func NewCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{
		IO: f.IO, Getenv: f.Getenv, Resolve: f.ResolveStoreURL, OpenURL: f.OpenURL,
		Project: func() (*schema.Config, error) { return f.Project() },
		EnvURL:  func(name string) (string, error) { return f.ResolveEnv(name) },
	}
	if host := f.Plugins; host != nil {
		opts.Remote = func(ctx context.Context, r *kwpolicy.Request) (*kwpolicy.Document, error) {
			var doc kwpolicy.Document
			if err := host.Action(ctx, r.URL.Scheme, kwpolicy.ActionDerive, r.Wire(), &doc); err != nil {
				return nil, err
			}
			return &doc, nil
		}
	}
	cmd := &cobra.Command{
		Use:   "policy [--env NAME | --store URL] [--access read|write|rotate] [--keys K1,K2 | --all]",
		Short: "Print the least-privilege access policy an environment needs, or check isolation",
		Long: `Print the policy granting exactly what keyward needs on one environment's
store, in the provider's own language, and nothing more:

  vault://   an HCL policy on the exact KV data/ and metadata/ paths, plus the
             sys/internal/ui/mounts path of mount detection (pin mount= and
             kv= in the URL to drop it)
  awssm://   an IAM policy on the secrets' ARNs with the "-??????" suffix AWS
             appends, in the store's region and (--account) account;
             --format terraform prints an aws_iam_policy_document
  gcpsm://   gcloud role bindings on each secret (--all: on the project with
             an IAM condition on the secrets' name prefix)
  azurekv:// the data-plane role (Key Vault Secrets User / Officer) on the
             vault, with the per-secret alternative
  k8s://     a Role naming the one Secret and the verbs used, and a
             RoleBinding; --rollout deployment/NAME adds patch on it
  local://   who holds access today (the recipients), and how to remove one

--access read (get, run, export, list, template) is the default; write adds
set; rotate adds rotation. The keys are --keys, else keyward.yaml's secrets;
--all grants every key in the store. Nothing is contacted to print a policy.

--check proves isolation with the credentials at hand: keyward reads the
selected environment's keys (never printing a value), then tries one key of
every other environment in keyward.yaml, which must be refused. Each attempt
is an ordinary read, recorded in the audit log. --check never writes, so
write and rotate grants are not exercised.

Exit status: 0 printed, or isolation holds; 1 when --check finds another
environment reachable (or the selected one refused), with a table; 2 usage.`,
		Example: `  keyward policy --env production
  keyward policy --env production --access rotate --format json
  keyward policy --env production --account 123456789012 --format terraform
  keyward policy --store k8s://production/dharmamind --all --rollout deployment/api
  keyward policy --env production --check
  keyward policy --env staging --check --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmdutil.Run(cmd, opts, runF, run)
		},
	}
	cmd.Flags().StringVar(&opts.Access, "access", "read", "What keyward must do: read, write or rotate")
	cmd.Flags().StringSliceVar(&opts.Keys, "keys", nil, "Keys to grant, comma-separated (default: keyward.yaml's secrets)")
	cmd.Flags().BoolVar(&opts.All, "all", false, "Grant every key in the store")
	cmd.Flags().StringVar(&opts.Format, "format", "native", "Output: native (the provider's language), json (the policy as JSON), terraform (awssm)")
	cmd.Flags().StringSliceVar(&opts.Rollout, "rollout", nil, "Workloads restarted by 'keyward sync kubernetes --rollout' (deployment/NAME), for k8s://")
	cmd.Flags().StringVar(&opts.Account, "account", "", "AWS account id for the ARNs (default \"*\")")
	cmd.Flags().StringVar(&opts.Principal, "principal", "", "Who is granted: GCP member, Azure object id, Kubernetes ServiceAccount")
	cmd.Flags().BoolVar(&opts.Check, "check", false, "Prove isolation: this environment readable, every other refused")
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	return cmd
}

func run(ctx context.Context, opts *Options) error {
	access, err := kwpolicy.ParseAccess(opts.Access)
	if err != nil {
		return cmdutil.FlagErrorf("--%v", err)
	}
	switch opts.Format {
	case "native", "json", "terraform":
	default:
		return cmdutil.FlagErrorf("--format %q must be native, json or terraform", opts.Format)
	}
	if opts.All && len(opts.Keys) > 0 {
		return cmdutil.FlagErrorf("--keys and --all cannot be used together")
	}
	raw, env, _, err := opts.Resolve()
	if err != nil {
		return err
	}
	var cfg *schema.Config
	if opts.Project != nil {
		if cfg, err = opts.Project(); err != nil {
			return err
		}
	}
	keys := opts.Keys
	if len(keys) == 0 && !opts.All && cfg != nil {
		keys = cfg.Order
	}
	if len(keys) == 0 && !opts.All {
		return cmdutil.WithHint(keyward.Errorf(keyward.InvalidArgument, "derive the policy", "no keys to grant"),
			"name them with --keys K1,K2, declare them in keyward.yaml, or grant the whole store with --all")
	}
	if opts.Check {
		if len(keys) == 0 && cfg != nil {
			keys = cfg.Order // --all: still read the declared keys (the store is listed when none are)
		}
		return check(ctx, opts, cfg, raw, env, access, uniq(keys))
	}
	u, err := kwpolicy.ParseURL(raw)
	if err != nil {
		return err
	}
	if mux := keyward.DefaultURLMux(); !mux.ValidScheme(u.Scheme) {
		return keyward.Errorf(keyward.InvalidArgument, "derive the policy", "unknown store scheme %q (known: %s)", u.Scheme, strings.Join(mux.Schemes(), ", "))
	}
	if len(opts.Rollout) > 0 && u.Scheme != "k8s" {
		return cmdutil.FlagErrorf("--rollout is for k8s:// stores (this one is %s://)", u.Scheme)
	}
	doc, err := kwpolicy.Derive(ctx, &kwpolicy.Request{URL: u, Environment: env, Access: access, Keys: keys, All: opts.All,
		Rollout: opts.Rollout, Account: opts.Account, Principal: opts.Principal, Getenv: opts.Getenv, Remote: opts.Remote})
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, doc)
	}
	switch opts.Format {
	case "json":
		if doc.Document == nil {
			return keyward.Errorf(keyward.Unimplemented, "print the policy", "%s:// has no policy document to print as JSON", u.Scheme)
		}
		return cmdutil.WriteJSON(opts.IO.Out, doc.Document)
	case "terraform":
		if doc.Terraform == "" {
			return cmdutil.FlagErrorf("--format terraform is for awssm:// stores (aws_iam_policy_document); this one is %s://", u.Scheme)
		}
		_, err = io.WriteString(opts.IO.Out, doc.Terraform)
		return err
	}
	if doc.Language == "json" {
		// JSON has no comments: the notes go to stderr.
		for _, n := range doc.Notes {
			fmt.Fprintln(opts.IO.ErrOut, "keyward: note: "+n)
		}
	}
	_, err = io.WriteString(opts.IO.Out, doc.Native)
	return err
}

// Probe is one row of --check.
type Probe struct {
	Environment string `json:"environment"`
	Store       string `json:"store"`
	// Key is the key read, or "" when the store was listed.
	Key string `json:"key,omitempty"`
	// Expected is allowed (the selected environment) or refused.
	Expected string `json:"expected"`
	// Got is allowed, refused, unreachable or error.
	Got string `json:"got"`
	// Code is the error's code when the read failed (not found counts as
	// allowed: the credentials reached the store).
	Code   string `json:"code,omitempty"`
	Detail string `json:"detail,omitempty"`
	OK     bool   `json:"ok"`
}

// CheckOutput is --check --json.
type CheckOutput struct {
	Environment string  `json:"environment,omitempty"`
	Store       string  `json:"store"`
	Access      string  `json:"access"`
	Isolated    bool    `json:"isolated"`
	Probes      []Probe `json:"probes"`
	// Reachable lists the other environments the credentials could read.
	Reachable []string `json:"reachable"`
	Note      string   `json:"note,omitempty"`
}

func check(ctx context.Context, opts *Options, cfg *schema.Config, raw, env string, access kwpolicy.Access, keys []string) error {
	if cfg == nil || len(cfg.EnvOrder) == 0 {
		return cmdutil.WithHint(keyward.Errorf(keyward.InvalidArgument, "check isolation", "--check compares environments, and there is no keyward.yaml with environments:"),
			"declare the environments in keyward.yaml (docs/schema.md)")
	}
	out := &CheckOutput{Environment: env, Store: redact(raw), Access: string(access), Probes: []Probe{}, Reachable: []string{}}
	if access != kwpolicy.Read {
		out.Note = "--check reads only: the " + string(access) + " grant's writes are not exercised"
	}
	self := Probe{Environment: env, Store: redact(raw), Expected: "allowed"}
	selfProbes := probe(ctx, opts, raw, env, keys, self)
	out.Probes = append(out.Probes, selfProbes...)
	probeKey := keys
	if len(probeKey) > 1 {
		probeKey = probeKey[:1]
	}
	for _, name := range cfg.EnvOrder {
		if name == env {
			continue
		}
		// keyward.yaml is the repository's: probing another environment
		// sends the user's credentials to its store, so its URL passes the
		// trust policy first, as --env's does.
		u, err := opts.EnvURL(name)
		if err != nil {
			return err
		}
		if u == raw {
			continue // the same store under another name: nothing to isolate
		}
		p := probe(ctx, opts, u, name, probeKey, Probe{Environment: name, Store: redact(u), Expected: "refused"})
		out.Probes = append(out.Probes, p...)
		for _, x := range p {
			if x.Got == "allowed" {
				out.Reachable = append(out.Reachable, name)
				break
			}
		}
	}
	out.Isolated = true
	for _, p := range out.Probes {
		out.Isolated = out.Isolated && p.OK
	}
	if opts.JSON {
		if err := cmdutil.WriteJSON(opts.IO.Out, out); err != nil {
			return err
		}
	} else {
		writeCheck(opts.IO.Out, out)
	}
	if !out.Isolated {
		return &cmdutil.SilentError{Code: cmdutil.ExitError}
	}
	return nil
}

// probe reads keys (or lists the store when there are none) and classifies
// the outcome. Values are discarded unseen.
func probe(ctx context.Context, opts *Options, raw, env string, keys []string, base Probe) []Probe {
	s, err := opts.OpenURL(ctx, raw, env)
	if err != nil {
		p := base
		classify(&p, err)
		return []Probe{p}
	}
	if len(keys) == 0 {
		p := base
		_, err := s.List(ctx)
		classify(&p, err)
		return []Probe{p}
	}
	var out []Probe
	for _, k := range keys {
		p := base
		p.Key = k
		_, err := s.Get(ctx, k) // the value is dropped unread
		classify(&p, err)
		out = append(out, p)
	}
	return out
}

func classify(p *Probe, err error) {
	switch code := keyward.ErrorCode(err); {
	case err == nil:
		p.Got = "allowed"
	case code == keyward.NotFound:
		p.Got, p.Code = "allowed", code.String() // reached the store; the key is missing
	case code == keyward.PermissionDenied:
		p.Got, p.Code = "refused", code.String()
	case code == keyward.Unavailable || code == keyward.DeadlineExceeded:
		p.Got, p.Code = "unreachable", code.String()
	default:
		p.Got, p.Code = "error", code.String()
	}
	if err != nil {
		p.Detail = err.Error() // keyward errors never carry values
	}
	if p.Expected == "allowed" {
		p.OK = p.Got == "allowed"
	} else {
		p.OK = p.Got == "refused" || p.Got == "unreachable"
	}
}

func writeCheck(w io.Writer, out *CheckOutput) {
	what := out.Store
	if out.Environment != "" {
		what = "environment " + out.Environment + " (" + out.Store + ")"
	}
	fmt.Fprintf(w, "keyward policy --check: %s access to %s\n\n", out.Access, what)
	tw := cmdutil.Table(w)
	fmt.Fprintln(tw, "ENVIRONMENT\tSTORE\tKEY\tEXPECTED\tGOT\t")
	for _, p := range out.Probes {
		got := p.Got
		if p.Code != "" && p.Got != "refused" {
			got += " (" + p.Code + ")"
		}
		mark := ""
		if !p.OK {
			mark = "<- "
			if p.Expected == "refused" {
				mark += "reachable but should not be"
			} else {
				mark += "keyward cannot do what it needs"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", orDash(p.Environment), p.Store, orDash(p.Key), p.Expected, got, mark)
	}
	tw.Flush()
	fmt.Fprintln(w)
	if out.Note != "" {
		fmt.Fprintln(w, "note: "+out.Note)
	}
	if out.Isolated {
		fmt.Fprintln(w, "isolation holds: this environment is readable and every other one is refused")
		return
	}
	var bad []string
	for _, p := range out.Probes {
		if !p.OK && p.Expected == "allowed" {
			bad = append(bad, "the selected environment is not readable")
			break
		}
	}
	if len(out.Reachable) > 0 {
		bad = append(bad, "reachable but should not be: "+strings.Join(out.Reachable, ", "))
	}
	for _, p := range out.Probes {
		if !p.OK && p.Expected == "refused" && p.Got == "error" {
			bad = append(bad, "could not tell for "+p.Environment)
		}
	}
	fmt.Fprintln(w, "isolation FAILED: "+strings.Join(bad, "; "))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func redact(raw string) string {
	u, err := keyward.ParseStoreURL(raw)
	if err != nil {
		return raw
	}
	return keyward.RedactURL(u)
}

// uniq drops duplicates and empty keys, keeping the order (keyward.yaml's:
// the other environments are probed with the first declared key).
func uniq(keys []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, k := range keys {
		if k = strings.TrimSpace(k); k != "" && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}
