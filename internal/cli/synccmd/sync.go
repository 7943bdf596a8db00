// Package synccmd implements `keyward sync kubernetes`: keep a Kubernetes
// Secret equal to the store (key rings in grace included) through the API,
// and roll the workloads that use it when a value changes.
package synccmd

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/export"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	cliexport "github.com/keyward/keyward/internal/cli/export"
	"github.com/keyward/keyward/internal/cli/iostreams"
	clirun "github.com/keyward/keyward/internal/cli/run"
	"github.com/keyward/keyward/internal/k8ssync"
)

// Defaults of the watch flags: run --watch's.
const (
	DefaultInterval = clirun.DefaultWatchInterval
	DefaultDebounce = clirun.DefaultDebounce
)

// Options are sync kubernetes' inputs.
type Options struct {
	IO        *iostreams.IOStreams
	OpenStore func(context.Context) (*keyward.Store, error)
	Resolver  func() *keyward.Resolver

	Only       []string
	Secret     string
	Namespace  string
	Context    string
	Kubeconfig string
	Rollouts   []k8ssync.Workload
	Labels     map[string]string
	NoResolve  bool
	JSON       bool

	Ring         export.RingOptions
	NumberedRing bool

	Watch    bool
	Interval time.Duration
	Debounce time.Duration
	Splay    time.Duration

	// Sync performs one sync. The CLI sends it to keyward-provider-k8s as
	// the "kubernetes.sync" plugin action, so keyward itself links no
	// Kubernetes client; tests run provider/k8s in-process.
	Sync func(ctx context.Context, req *k8ssync.Request, secrets [][]byte) (*k8ssync.Result, error)

	// Tests: after replaces time.After ("interval", "debounce", "splay");
	// events receives what the watch loop does.
	after  func(what string, d time.Duration) <-chan time.Time
	events chan<- string
}

// NewCmd builds `keyward sync` with its kubernetes subcommand.
func NewCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	parent := &cobra.Command{
		Use:   "sync",
		Short: "Keep a delivery target (a Kubernetes Secret) in step with the store",
	}
	parent.AddCommand(newKubernetesCmd(f, runF))
	return parent
}

func newKubernetesCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, OpenStore: f.OpenStore, Resolver: f.Resolver,
		Sync: func(ctx context.Context, req *k8ssync.Request, secrets [][]byte) (*k8ssync.Result, error) {
			if f.Plugins == nil {
				return nil, keyward.Errorf(keyward.FailedPrecondition, "sync kubernetes", "no plugin host")
			}
			var res k8ssync.Result
			if err := f.Plugins.Action(ctx, "k8s", k8ssync.Action, req, &res, secrets...); err != nil {
				return nil, err
			}
			return &res, nil
		}}
	var rollouts, labels []string
	cmd := &cobra.Command{
		Use:     "kubernetes --secret NAME [--namespace NS] [--rollout KIND/NAME...] [--watch]",
		Aliases: []string{"k8s"},
		Short:   "Write the store's secrets into a Kubernetes Secret and roll the workloads that use it",
		Long: `Write the store's secrets (or --only these) into the Kubernetes Secret --secret
NAME through the API server — never through a manifest, so nothing lands in
kubectl's last-applied-configuration annotation. While a key has a previous
value in its rotation grace period the Secret also holds KEY_OLD (see
keyward.yaml delivery:), so pods that read it with envFrom verify old tokens
until the grace ends.

The Secret is written only when its content checksum changes; the data is
replaced as a whole (keys no longer in the store are removed). Each write
increments the Secret's keyward.dev/generation annotation, and every
workload named with --rollout (deployment/NAME, statefulset/NAME,
daemonset/NAME) gets the pod-template annotation
secret.keyward.dev/NAME=GENERATION, so Kubernetes rolls its pods exactly
when a value changed. The annotation is a counter: it reveals nothing
about the values.

--watch repeats every --interval, with --debounce (a rotation that writes
several keys makes one write and one rollout) and --splay, as run --watch
does; a store outage keeps the Secret as it is and says so on stderr.

The Kubernetes connection comes from $KUBECONFIG or ~/.kube/config (or the
pod's service account), --context and --kubeconfig as for k8s:// stores.
Least privilege: get, create and update on the Secret; get and patch on
the named workloads (docs/delivery.md has the Role).`,
		Example: `  keyward sync kubernetes --env production --secret dharmamind-secrets --namespace dharmamind \
      --rollout deployment/dharmamind-backend
  keyward sync kubernetes --env production --secret dharmamind-secrets --watch --interval 1m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Secret == "" {
				return cmdutil.FlagErrorf("--secret NAME is required")
			}
			for _, r := range rollouts {
				w, err := k8ssync.ParseWorkload(r)
				if err != nil {
					return cmdutil.FlagErrorf("--rollout %v", err)
				}
				opts.Rollouts = append(opts.Rollouts, w)
			}
			labelMap, err := cmdutil.ParseLabels(labels)
			if err != nil {
				return err
			}
			opts.Labels = labelMap
			for _, n := range []string{"interval", "debounce", "splay"} {
				if cmd.Flags().Changed(n) && !opts.Watch {
					return cmdutil.FlagErrorf("--%s only applies with --watch", n)
				}
			}
			if opts.Interval <= 0 || opts.Debounce < 0 || opts.Splay < 0 {
				return cmdutil.FlagErrorf("--interval must be positive; --debounce and --splay cannot be negative")
			}
			if err := cmdutil.CleanOnly(opts.Only); err != nil {
				return err
			}
			ro, err := cliexport.RingOptions(f, opts.NumberedRing)
			if err != nil {
				return err
			}
			opts.Ring = ro
			return cmdutil.Run(cmd, opts, runF, run)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Secret, "secret", "", "The Secret to write (required)")
	fl.StringVarP(&opts.Namespace, "namespace", "n", "", "Its namespace (default: the kubeconfig context's)")
	fl.StringVar(&opts.Context, "context", "", "The kubeconfig context")
	fl.StringVar(&opts.Kubeconfig, "kubeconfig", "", "The kubeconfig file")
	fl.StringArrayVar(&rollouts, "rollout", nil, "Roll this workload when a value changes: deployment/NAME, statefulset/NAME, daemonset/NAME (repeatable)")
	fl.StringArrayVar(&labels, "label", nil, "A label KEY=VALUE on the Secret (repeatable)")
	fl.StringSliceVar(&opts.Only, "only", nil, "Only these keys (comma-separated or repeated)")
	fl.BoolVar(&opts.NoResolve, "no-resolve", false, "Write references as they are instead of resolving them")
	fl.BoolVar(&opts.Watch, "watch", false, "Keep syncing every --interval")
	fl.DurationVar(&opts.Interval, "interval", DefaultInterval, "--watch: how often to read the store")
	fl.DurationVar(&opts.Debounce, "debounce", DefaultDebounce, "--watch: how long the store must stay unchanged before writing")
	fl.DurationVar(&opts.Splay, "splay", 0, "--watch: wait a random delay up to this before each write")
	cliexport.AddRingFlags(cmd, &opts.NumberedRing)
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	return cmd
}

// read returns the entries the Secret should hold.
func read(ctx context.Context, opts *Options, s *keyward.Store) ([]export.Entry, error) {
	keys, explicit, err := cmdutil.SelectKeys(ctx, s, opts.Only)
	if err != nil {
		return nil, err
	}
	es, err := cliexport.DeliveryEntries(ctx, s, keys, opts.Ring, !explicit)
	if err != nil {
		return nil, err
	}
	if !opts.NoResolve && opts.Resolver != nil {
		if err := export.ResolveRefs(ctx, opts.Resolver(), es); err != nil {
			return nil, err
		}
	}
	return es, nil
}

// request is the wire form of one sync of es, and the values inside it.
func (opts *Options) request(es []export.Entry) (*k8ssync.Request, [][]byte) {
	req := &k8ssync.Request{Namespace: opts.Namespace, Name: opts.Secret, Labels: opts.Labels, Rollouts: opts.Rollouts,
		Context: opts.Context, Kubeconfig: opts.Kubeconfig, Entries: make([]k8ssync.Entry, len(es))}
	secrets := make([][]byte, len(es))
	for i, e := range es {
		req.Entries[i] = k8ssync.Entry{Key: e.Key, Data: e.Value.Reveal()}
		secrets[i] = e.Value.Reveal()
	}
	return req, secrets
}

func (opts *Options) event(format string, args ...any) {
	if opts.events != nil {
		opts.events <- fmt.Sprintf(format, args...)
	}
}

func (opts *Options) wait(what string, d time.Duration) <-chan time.Time {
	if d <= 0 && what != "interval" {
		c := make(chan time.Time, 1)
		c <- time.Now()
		return c
	}
	if opts.after != nil {
		return opts.after(what, d)
	}
	return time.After(d)
}

// syncOnce writes es, reports and audits what changed.
func syncOnce(ctx context.Context, opts *Options, s *keyward.Store, es []export.Entry) (*k8ssync.Result, error) {
	req, secrets := opts.request(es)
	res, err := opts.Sync(ctx, req, secrets)
	if res != nil && (res.Changed || len(res.RolledOut) > 0) {
		detail := fmt.Sprintf("Secret %s/%s generation %s", res.Namespace, res.Secret, res.Revision)
		if len(res.RolledOut) > 0 {
			detail += "; rolled out " + strings.Join(res.RolledOut, ", ")
		}
		if aerr := s.Audit(ctx, &keyward.Event{Action: "sync.kubernetes", Detail: detail}); aerr != nil && err == nil {
			err = aerr
		}
	}
	return res, err
}

func report(opts *Options, res *k8ssync.Result) error {
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, res)
	}
	what := "unchanged"
	switch {
	case res.Created:
		what = "created"
	case res.Changed:
		what = "updated"
	}
	fmt.Fprintf(opts.IO.ErrOut, "keyward: Secret %s/%s %s (generation %s)\n", res.Namespace, res.Secret, what, res.Revision)
	for _, w := range res.RolledOut {
		fmt.Fprintf(opts.IO.ErrOut, "keyward: rolling out %s\n", w)
	}
	return nil
}

func run(ctx context.Context, opts *Options) error {
	s, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	es, err := read(ctx, opts, s)
	if err != nil {
		return err
	}
	res, err := syncOnce(ctx, opts, s, es)
	if err != nil {
		return err
	}
	if err := report(opts, res); err != nil || !opts.Watch {
		return err
	}
	return watch(ctx, opts, s, export.Checksum(es))
}

// watch re-reads the store every interval and syncs when the content
// changed and then stayed the same for the debounce period.
func watch(ctx context.Context, opts *Options, s *keyward.Store, synced string) error {
	var (
		pending           []export.Entry
		pendingSum        string
		debounceC, splayC <-chan time.Time
		stale             bool
	)
	readSum := func() ([]export.Entry, string, bool) {
		es, err := read(ctx, opts, s)
		if err != nil {
			if ctx.Err() != nil {
				return nil, "", false
			}
			if !stale {
				stale = true
				fmt.Fprintf(opts.IO.ErrOut, "keyward: warning: cannot read the store (%s); the Secret keeps its last values\n",
					strings.TrimPrefix(err.Error(), "keyward: "))
			}
			opts.event("stale")
			return nil, "", false
		}
		if stale {
			stale = false
			fmt.Fprintln(opts.IO.ErrOut, "keyward: the store is reachable again")
			opts.event("recovered")
		}
		return es, export.Checksum(es), true
	}
	intervalC := opts.wait("interval", opts.Interval)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-intervalC:
			intervalC = opts.wait("interval", opts.Interval)
			if pending != nil {
				continue
			}
			es, sum, ok := readSum()
			if !ok {
				continue
			}
			if sum == synced {
				opts.event("unchanged")
				continue
			}
			opts.event("changed")
			pending, pendingSum = es, sum
			debounceC = opts.wait("debounce", opts.Debounce)
		case <-debounceC:
			debounceC = nil
			if opts.Debounce > 0 {
				es, sum, ok := readSum()
				if ok && sum != pendingSum {
					opts.event("changed")
					pending, pendingSum = es, sum
					debounceC = opts.wait("debounce", opts.Debounce)
					continue
				}
			}
			var d time.Duration
			if opts.Splay > 0 {
				d = rand.N(opts.Splay)
			}
			splayC = opts.wait("splay", d)
		case <-splayC:
			splayC = nil
			res, err := syncOnce(ctx, opts, s, pending)
			if err != nil {
				// Retried at the next interval.
				fmt.Fprintf(opts.IO.ErrOut, "keyward: warning: %s\n", strings.TrimPrefix(err.Error(), "keyward: "))
				opts.event("sync failed")
				pending = nil
				continue
			}
			synced, pending = pendingSum, nil
			if err := report(opts, res); err != nil {
				return err
			}
			opts.event("synced %s", res.Revision)
		}
	}
}
