// Package auditcmd implements `keyward audit`: tail, search, verify, anchor,
// hash and path over the audit log.
package auditcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/audit"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/internal/fsutil"
)

// Options are shared by the audit subcommands.
type Options struct {
	IO     *iostreams.IOStreams
	Config func() (audit.Effective, error)
	Now    func() time.Time

	File   string // --file overrides the configured log
	JSON   bool
	Limit  int
	Filter audit.Filter
	Since  string
	Anchor string
}

// NewCmd builds `keyward audit` and its subcommands, each a cobra command
// with its own help and run function (runTail, runSearch, …). runF, when
// not nil, replaces every subcommand's run function in tests; cobra's
// ExecuteC tells which subcommand ran.
func NewCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Now: f.Now,
		Config: func() (audit.Effective, error) { return resolveForReading(f) }}
	cmd := &cobra.Command{
		Use:   "audit <command>",
		Short: "Read and verify the audit log of who read, wrote and rotated which secret",
		Long: `Every keyward command and every store operation appends one JSON record to
the audit log: time, actor (user, host, pid, CI job, Kubernetes service
account), action, environment, store, key, version, outcome. Never a value;
with audit.hmac_values, an HMAC of it under your audit key.

Records are hash-chained: 'keyward audit verify' finds an edited, deleted,
inserted, reordered or truncated record and names the first bad line.

The log is $KEYWARD_AUDIT_FILE, else $XDG_STATE_HOME/keyward/audit.log, else
~/.local/state/keyward/audit.log (see docs/audit.md).`,
		Example: `  keyward audit tail -n 20
  keyward audit search --key JWT_SECRET_KEY --since 24h --action get
  keyward audit verify
  keyward audit anchor > /secure/elsewhere/anchor.txt
  keyward audit verify --anchor "$(cat /secure/elsewhere/anchor.txt)"
  printf %s "$LEAKED_VALUE" | keyward audit hash`,
	}
	cmd.PersistentFlags().StringVar(&opts.File, "file", "", "Audit log to read (default: the configured one)")
	// sub makes c a subcommand that runs fn (runF in tests) with opts,
	// after setting the options only c's flags fill.
	sub := func(c *cobra.Command, fn func(context.Context, *Options) error, set func()) *cobra.Command {
		if runF != nil {
			fn = runF
		}
		c.Args = cobra.NoArgs
		c.RunE = func(c *cobra.Command, _ []string) error {
			if set != nil {
				set()
			}
			return fn(c.Context(), opts)
		}
		return c
	}

	var tailN int
	tail := sub(&cobra.Command{
		Use:     "tail",
		Short:   "Show the newest records",
		Long:    "Show the newest records of the audit log, oldest of them first: aligned columns\n(with a header on a terminal), or an array of records with --json.",
		Example: "  keyward audit tail\n  keyward audit tail -n 100 --json",
	}, runTail, func() { opts.Limit = tailN })
	tail.Flags().IntVarP(&tailN, "lines", "n", 20, "How many records")
	cmdutil.AddJSONFlag(tail, &opts.JSON)

	search := sub(&cobra.Command{
		Use:   "search",
		Short: "Find records by key, actor, action, environment, outcome and age",
		Long: `Show the records that match every filter given (none: all of them), oldest
first. --action matches an action or, with a prefix such as cli, every
cli.* action; --since takes a duration (24h, 7d) or an RFC 3339 time.`,
		Example: "  keyward audit search --key JWT_SECRET_KEY --since 24h\n  keyward audit search --actor bob --outcome denied --json",
	}, runSearch, nil)
	search.Flags().StringVar(&opts.Filter.Key, "key", "", "Secret name")
	search.Flags().StringVar(&opts.Filter.Actor, "actor", "", "User name, or part of user@host / ci:system/actor")
	search.Flags().StringVar(&opts.Filter.Action, "action", "", "Action (get, list, put, delete, history, rotate, cli.run, …; a prefix like cli matches cli.*)")
	search.Flags().StringVar(&opts.Filter.Env, "environment", "", "Environment name")
	search.Flags().StringVar(&opts.Filter.Outcome, "outcome", "", "ok, error or denied")
	search.Flags().StringVar(&opts.Since, "since", "", "Only records newer than this (24h, 7d, or an RFC 3339 time)")
	search.Flags().IntVarP(&opts.Limit, "lines", "n", 0, "At most this many (newest) records; 0 for all")
	cmdutil.AddJSONFlag(search, &opts.JSON)

	verify := sub(&cobra.Command{
		Use:   "verify",
		Short: "Check the hash chain; name the first bad line",
		Long: `Check every record's hash, its link to the previous record and the
sequence numbers. Exit 0 when the log is intact, 1 when it is not.

With --anchor SEQ:HASH (from 'keyward audit anchor', stored somewhere the
log's writer cannot change), also detect truncation and wholesale rewrites.`,
		Example: "  keyward audit verify\n  keyward audit verify --anchor \"$(cat /secure/elsewhere/anchor.txt)\" --json",
	}, runVerify, nil)
	verify.Flags().StringVar(&opts.Anchor, "anchor", "", "A chain head SEQ:HASH recorded earlier")
	cmdutil.AddJSONFlag(verify, &opts.JSON)

	anchor := sub(&cobra.Command{
		Use:   "anchor",
		Short: "Print the chain head (SEQ:HASH) to store elsewhere",
		Long: `Verify the log and print the head of its hash chain as SEQ:HASH. Keep it
where the log's writer cannot change it; 'keyward audit verify --anchor'
then also catches a truncated or rewritten log.`,
		Example: "  keyward audit anchor > /secure/elsewhere/anchor.txt",
	}, runAnchor, nil)
	cmdutil.AddJSONFlag(anchor, &opts.JSON)

	hash := sub(&cobra.Command{
		Use:   "hash",
		Short: "Read a value on stdin and list the records of whoever read or wrote it",
		Long: `Read a value (for example one found in a leak) on stdin, compute its HMAC
under your audit key, and list the records that carry the same HMAC: who
read or wrote that exact value, when, and from which store. Needs
audit.hmac_values: true when the records were written.`,
		Example: "  printf %s \"$LEAKED_VALUE\" | keyward audit hash",
	}, runHash, nil)
	cmdutil.AddJSONFlag(hash, &opts.JSON)

	path := sub(&cobra.Command{
		Use:     "path",
		Short:   "Print where the audit log is",
		Long:    "Print the audit log's path: --file, else the configured one (KEYWARD_AUDIT_FILE,\nyour config's audit.file, else the default under XDG_STATE_HOME).",
		Example: "  keyward audit path",
	}, runPath, nil)
	cmd.AddCommand(tail, search, verify, anchor, hash, path)
	return cmd
}

func (o *Options) logPath() (string, audit.Effective, error) {
	cfg, err := o.Config()
	if err != nil {
		return "", cfg, err
	}
	if o.File != "" {
		return o.File, cfg, nil
	}
	return cfg.File, cfg, nil
}

func (o *Options) openLog() (*os.File, error) {
	p, _, err := o.logPath()
	if err != nil {
		return nil, err
	}
	// The log is streamed line by line (each line bounded), so it has no
	// size limit; but it must be a regular file: a FIFO would block.
	f, _, err := fsutil.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, cmdutil.WithHint(keyward.Errorf(keyward.NotFound, "read the audit log", "%s does not exist", p),
			"no keyward command has written a record yet, or the log is elsewhere: see 'keyward audit path'")
	}
	if err != nil {
		return nil, keyward.NewError(fsutil.Code(err), "read the audit log", err)
	}
	return f, nil
}

// runPath prints where the audit log is.
func runPath(_ context.Context, o *Options) error {
	p, _, err := o.logPath()
	if err != nil {
		return err
	}
	fmt.Fprintln(o.IO.Out, p)
	return nil
}

// runTail shows the newest records.
func runTail(ctx context.Context, o *Options) error {
	return o.list(ctx, audit.Filter{}, o.Limit)
}

// runSearch shows the records that match the filter.
func runSearch(ctx context.Context, o *Options) error {
	if o.Since != "" {
		t, err := parseSince(o.Since, o.now())
		if err != nil {
			return cmdutil.FlagErrorf("--since: %v", err)
		}
		o.Filter.Since = t
	}
	return o.list(ctx, o.Filter, o.Limit)
}

// runHash reads a value on stdin and shows the records that carry its HMAC.
func runHash(ctx context.Context, o *Options) error {
	_, cfg, err := o.logPath()
	if err != nil {
		return err
	}
	value, err := cmdutil.ReadSecretInput(ctx, o.IO.In, cmdutil.MaxSecretSize, true)
	if err != nil {
		return err
	}
	key, err := audit.LoadOrCreateKey(cfg.KeyFile)
	if err != nil {
		return err
	}
	return o.list(ctx, audit.Filter{HMAC: audit.ValueHMAC(key, value)}, 0)
}

// verifyLog checks the log's chain (against --anchor when given). A
// broken chain is verr (with its Problem); err is any other failure.
func verifyLog(ctx context.Context, o *Options) (res *audit.Result, verr error, p *audit.Problem, err error) {
	f, err := o.openLog()
	if err != nil {
		return res, nil, nil, err
	}
	defer f.Close()
	var anchor *audit.Anchor
	if o.Anchor != "" {
		a, err := audit.ParseAnchor(o.Anchor)
		if err != nil {
			return res, nil, nil, cmdutil.FlagErrorf("--anchor: %v", err)
		}
		anchor = &a
	}
	res, verr = audit.Verify(ctxReader{ctx, f}, anchor)
	if verr != nil && !errors.As(verr, &p) {
		return res, nil, nil, verr
	}
	return res, verr, p, nil
}

// runVerify checks the hash chain and names the first bad line (exit 1).
func runVerify(ctx context.Context, o *Options) error {
	res, verr, p, err := verifyLog(ctx, o)
	if err != nil {
		return err
	}
	if o.JSON {
		out := map[string]any{"intact": verr == nil, "records": res.Records, "head": res.Head.String()}
		if p != nil {
			out["line"], out["reason"] = p.Line, p.Reason
		}
		if err := cmdutil.WriteJSON(o.IO.Out, out); err != nil {
			return err
		}
		if verr != nil {
			return &cmdutil.SilentError{Code: cmdutil.ExitError}
		}
		return nil
	}
	if verr != nil {
		fmt.Fprintf(o.IO.ErrOut, "keyward: %v\n", verr)
		fmt.Fprintf(o.IO.ErrOut, "keyward: hint: %d records before it are intact; keep the log as evidence and see docs/audit.md\n", res.Records)
		return &cmdutil.SilentError{Code: cmdutil.ExitError}
	}
	fmt.Fprintf(o.IO.Out, "ok: %d records intact, head %s\n", res.Records, res.Head.String())
	return nil
}

// runAnchor prints the head of an intact chain.
func runAnchor(ctx context.Context, o *Options) error {
	res, verr, _, err := verifyLog(ctx, o)
	if err != nil {
		return err
	}
	if verr != nil {
		return verr
	}
	if o.JSON {
		return cmdutil.WriteJSON(o.IO.Out, map[string]any{"seq": res.Head.Seq, "hash": res.Head.Hash, "anchor": res.Head.String()})
	}
	fmt.Fprintln(o.IO.Out, res.Head.String())
	return nil
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *Options) list(ctx context.Context, filter audit.Filter, limit int) error {
	f, err := o.openLog()
	if err != nil {
		return err
	}
	defer f.Close()
	// A line Verify would report (longer than 1 MiB, or an incomplete last
	// line) is stepped over with a warning; the records after it are listed.
	recs, err := audit.SearchWarn(ctxReader{ctx, f}, filter, limit, func(line int, reason string) {
		fmt.Fprintf(o.IO.ErrOut, "keyward: warning: %s: line %d: %s; skipped (see 'keyward audit verify')\n", f.Name(), line, reason)
	})
	if err != nil {
		return err
	}
	if o.JSON {
		if recs == nil {
			recs = []audit.Record{}
		}
		return cmdutil.WriteJSON(o.IO.Out, recs)
	}
	return writeTable(o.IO.Out, recs, o.IO.IsStdoutTTY())
}

func writeTable(w io.Writer, recs []audit.Record, tty bool) error {
	t := cmdutil.Table(w)
	if tty {
		fmt.Fprintln(t, "TIME\tACTOR\tACTION\tENV\tKEY\tVERSION\tOUTCOME")
	}
	for _, r := range recs {
		outcome := r.Outcome
		if r.Code != "" {
			outcome += " (" + r.Code + ")"
		}
		if r.Stale {
			outcome += " stale"
		}
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Time.UTC().Format(time.RFC3339), r.Actor.String(), r.Action,
			dash(r.Env), dash(keyColumn(&r)), dash(r.Version), outcome)
	}
	return t.Flush()
}

// keyColumn is the KEY column: the record's key, or for a record naming
// many keys (a v2 delivery record, docs/audit.md) the first few and how
// many in all; --json prints them all with their versions.
func keyColumn(r *audit.Record) string {
	if len(r.Keys) == 0 {
		return r.Key
	}
	const show = 3
	names := make([]string, 0, show)
	for i, k := range r.Keys {
		if i == show {
			break
		}
		names = append(names, k.Key)
	}
	if len(r.Keys) == 1 {
		return names[0]
	}
	more := ""
	if len(r.Keys) > show {
		more = ",…"
	}
	return fmt.Sprintf("%d keys: %s%s", len(r.Keys), strings.Join(names, ","), more)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// parseSince accepts Go durations, a day suffix (7d) or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if strings.HasSuffix(s, "d") {
		if n, err := strconv.Atoi(strings.TrimSuffix(s, "d")); err == nil && n >= 0 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a duration (24h, 7d) or an RFC 3339 time", s)
}

// resolveForReading is the configuration the audit verbs read the log with.
// Only the user decides where the log is, so a project keyward.yaml whose
// audit: section is broken does not stop `audit tail` or `verify`: its
// error is dropped (verbs that read secrets refuse to run under it).
func resolveForReading(f *cmdutil.Factory) (audit.Effective, error) {
	cfg, err := f.AuditConfig()
	var pe *audit.ProjectError
	if err != nil && errors.As(err, &pe) {
		var ue *audit.UserError
		if !errors.As(err, &ue) {
			return cfg, nil
		}
	}
	return cfg, err
}

// ctxReader stops a long read of the log as soon as ctx is done (SIGINT,
// SIGTERM).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
