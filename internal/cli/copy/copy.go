// Package copy implements `keyward copy`: copy secrets from one store to
// another as new versions, safely re-runnable.
package copy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdutil"
)

// Options are copy's inputs.
type Options struct {
	cmdutil.NamedStoreDeps

	From, To string
	Only     []string
	DryRun   bool
	JSON     bool
}

// NewCmd builds the command; runF replaces the run function in tests.
func NewCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{NamedStoreDeps: f.NamedStoreDeps()}
	cmd := &cobra.Command{
		Use:   "copy --from A --to B [--only K1,K2] [--dry-run]",
		Short: "Copy secrets between stores as new versions",
		Long: `Copy secrets from one store to another — .env to Vault, Vault to AWS — each
named by a store URL (anything containing "://") or an environment of
keyward.yaml.

copy reads every value from --from first, and checks that --to can be
written, before it writes anything: a read-only target (dotenv://, env://,
file://) is an Unimplemented error (exit 7) with nothing written. Each key is
then written as a new version, unless the target already holds the
identical value (compared in constant time), which is skipped. So when a
write fails half-way, copy reports what was copied and what was not, and
running the same command again completes the copy.

References are copied as they are (they are not resolved). Values are never
printed; --dry-run reports what would be copied without writing.

Exit codes: 0 all copied or already identical; the failed write's code
otherwise (see docs/cli.md).`,
		Example: `  keyward copy --from dotenv://.env --to local://keyward.age
  keyward copy --from staging --to 'vault://vault.example.com/dharmamind/production' --dry-run
  keyward copy --from vault://vault:8200/app --to awssm://app/production --only JWT_SECRET_KEY`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.From == "" || opts.To == "" {
				return cmdutil.FlagErrorf("copy needs both --from and --to")
			}
			if opts.From == opts.To {
				return cmdutil.FlagErrorf("--from and --to name the same store")
			}
			if err := cmdutil.CleanOnly(opts.Only); err != nil {
				return err
			}
			return cmdutil.Run(cmd, opts, runF, run)
		},
	}
	cmd.Flags().StringVar(&opts.From, "from", "", "Source store: URL or keyward.yaml environment")
	cmd.Flags().StringVar(&opts.To, "to", "", "Target store: URL or keyward.yaml environment")
	cmd.Flags().StringSliceVar(&opts.Only, "only", nil, "Only these keys (comma-separated or repeated)")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "Report what would be copied; write nothing")
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	return cmd
}

// The statuses of a key.
const (
	StatusCopied    = "copied"
	StatusWouldCopy = "would-copy"
	StatusSkipped   = "skipped"    // the target already holds the identical value
	StatusFailed    = "failed"     // the write failed
	StatusNotCopied = "not-copied" // not attempted after a failure
)

// Result is one key's outcome. It never holds a value.
type Result struct {
	Key     string `json:"key"`
	Status  string `json:"status"`
	Version string `json:"version,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// Output is copy's --json shape.
type Output struct {
	From   string   `json:"from"`
	To     string   `json:"to"`
	DryRun bool     `json:"dry_run"`
	Keys   []Result `json:"keys"`
}

func run(ctx context.Context, opts *Options) error {
	src, err := opts.Open(ctx, opts.From)
	if err != nil {
		return err
	}
	dst, err := opts.Open(ctx, opts.To)
	if err != nil {
		return err
	}
	if src.URL() == dst.URL() {
		return cmdutil.FlagErrorf("--from and --to are the same store (%s)", src.URL())
	}
	// Nothing is written unless the target can take writes.
	if !dst.Can("put") {
		return cmdutil.WithHint(
			keyward.Errorf(keyward.Unimplemented, "copy", "the target %s is read-only: its provider cannot write secrets; nothing was copied", dst.URL()),
			"copy into a store that can be written", cmdutil.ProvidersHint("write secrets"))
	}
	// Read everything first: a missing or unreadable key stops the copy
	// before any write.
	keys, vals, err := cmdutil.ReadKeys(ctx, src, opts.Only)
	if err != nil {
		return err
	}
	slices.Sort(keys)
	out := Output{From: src.URL(), To: dst.URL(), DryRun: opts.DryRun, Keys: []Result{}}
	var failure error
	if dst.Can("batch-put") {
		// One read of the target and one atomic write (the local store):
		// all keys land or none does.
		failure = copyBatch(ctx, opts, dst, keys, vals, &out)
		keys = nil
	}
	for _, k := range keys {
		if failure != nil {
			out.Keys = append(out.Keys, Result{Key: k, Status: StatusNotCopied, Reason: "stopped after an earlier failure"})
			continue
		}
		v := vals[k].Secret
		cur, err := dst.GetValue(ctx, k, &keyward.GetOptions{NoCache: true})
		ifVersion := ""
		switch {
		case err == nil && cur.Secret.Equal(v):
			out.Keys = append(out.Keys, Result{Key: k, Status: StatusSkipped, Version: cur.Version.ID, Reason: "the target already holds this value"})
			continue
		case err == nil:
			ifVersion = cur.Version.ID
		case keyward.ErrorCode(err) == keyward.NotFound:
			ifVersion = "0"
		default:
			failure = err
			out.Keys = append(out.Keys, Result{Key: k, Status: StatusFailed, Reason: reason(err)})
			continue
		}
		if opts.DryRun {
			out.Keys = append(out.Keys, Result{Key: k, Status: StatusWouldCopy})
			continue
		}
		// Check-and-set against what was just compared, where the provider
		// supports it (a check just before the write where that is all the
		// backend offers); a provider that does not is written
		// unconditionally.
		ver, err := dst.Put(ctx, k, v, &keyward.PutOptions{IfVersion: ifVersion, BestEffortCheck: true})
		if err != nil && keyward.ErrorCode(err) == keyward.Unimplemented && ifVersion != "" {
			ver, err = dst.Put(ctx, k, v, nil)
		}
		if err != nil {
			failure = err
			out.Keys = append(out.Keys, Result{Key: k, Status: StatusFailed, Reason: reason(err)})
			continue
		}
		out.Keys = append(out.Keys, Result{Key: k, Status: StatusCopied, Version: ver.ID})
	}
	if opts.JSON {
		if err := cmdutil.WriteJSON(opts.IO.Out, out); err != nil {
			return err
		}
	} else {
		report(opts, &out)
	}
	if failure != nil {
		n := 0
		for _, r := range out.Keys {
			if r.Status == StatusCopied {
				n++
			}
		}
		return cmdutil.WithHint(&copyError{copied: n, total: len(out.Keys), err: failure},
			"fix the cause and run the same command again: keys already copied are skipped")
	}
	return nil
}

// copyBatch compares against the target's current values in one read
// and writes every changed key in one atomic PutMany, with check-and-set
// against what it compared.
func copyBatch(ctx context.Context, opts *Options, dst *keyward.Store, keys []string, vals map[string]*keyward.Value, out *Output) error {
	// List first: only keys the target holds are fetched (a new store
	// holds none), so absent keys cost nothing.
	infos, err := dst.List(ctx)
	if err != nil && keyward.ErrorCode(err) != keyward.NotFound {
		return batchFailed(out, keys, err)
	}
	present := map[string]bool{}
	for _, in := range infos {
		present[in.Key] = true
	}
	var held []string
	for _, k := range keys {
		if present[k] {
			held = append(held, k)
		}
	}
	cur := map[string]*keyward.Value{}
	err = nil
	if len(held) > 0 {
		cur, err = dst.GetMany(ctx, held)
	}
	if err != nil {
		var me keyward.MultiError
		if !errors.As(err, &me) {
			return batchFailed(out, keys, err)
		}
		for _, e := range me {
			if keyward.ErrorCode(e) != keyward.NotFound {
				return batchFailed(out, keys, e)
			}
		}
	}
	var items []keyward.PutItem
	var idx []int
	for _, k := range keys {
		v := vals[k].Secret
		c := cur[k]
		switch {
		case c != nil && c.Secret.Equal(v):
			out.Keys = append(out.Keys, Result{Key: k, Status: StatusSkipped, Version: c.Version.ID, Reason: "the target already holds this value"})
			continue
		case opts.DryRun:
			out.Keys = append(out.Keys, Result{Key: k, Status: StatusWouldCopy})
			continue
		}
		ifVersion := "0"
		if c != nil {
			ifVersion = c.Version.ID
		}
		items = append(items, keyward.PutItem{Key: k, Value: v, Opts: &keyward.PutOptions{IfVersion: ifVersion}})
		idx = append(idx, len(out.Keys))
		out.Keys = append(out.Keys, Result{Key: k, Status: StatusCopied})
	}
	if len(items) == 0 {
		return nil
	}
	vers, err := dst.PutMany(ctx, items)
	if err != nil {
		for _, i := range idx {
			out.Keys[i] = Result{Key: out.Keys[i].Key, Status: StatusNotCopied, Reason: "the batch write failed; nothing was written"}
		}
		out.Keys[idx[0]].Status, out.Keys[idx[0]].Reason = StatusFailed, reason(err)
		return err
	}
	for j, i := range idx {
		out.Keys[i].Version = vers[j].ID
	}
	return nil
}

func batchFailed(out *Output, keys []string, err error) error {
	for i, k := range keys {
		r := Result{Key: k, Status: StatusNotCopied, Reason: "stopped after an earlier failure"}
		if i == 0 {
			r = Result{Key: k, Status: StatusFailed, Reason: reason(err)}
		}
		out.Keys = append(out.Keys, r)
	}
	return err
}

func reason(err error) string {
	return strings.TrimPrefix(err.Error(), "keyward: ")
}

func report(opts *Options, out *Output) {
	w := opts.IO.Out
	counts := map[string]int{}
	for _, r := range out.Keys {
		counts[r.Status]++
		line := r.Status + " " + r.Key
		if r.Version != "" && r.Status == StatusCopied {
			line += " (version " + r.Version + ")"
		}
		if r.Status == StatusFailed {
			line += ": " + r.Reason
		}
		fmt.Fprintln(w, line)
	}
	verb := "copied"
	n := counts[StatusCopied]
	if out.DryRun {
		verb, n = "would copy", counts[StatusWouldCopy]
	}
	fmt.Fprintf(opts.IO.ErrOut, "keyward: %s %d, skipped %d (identical), failed %d, not copied %d — from %s to %s\n",
		verb, n, counts[StatusSkipped], counts[StatusFailed], counts[StatusNotCopied], out.From, out.To)
}

// copyError keeps the failed write's code (for the exit code).
type copyError struct {
	copied, total int
	err           error
}

func (e *copyError) Error() string {
	return fmt.Sprintf("keyward: failed to copy: %d of %d keys copied before the failure: %s", e.copied, e.total, reason(e.err))
}

func (e *copyError) Unwrap() error { return e.err }
