// Package diff implements `keyward diff`: compare two stores' keys, and
// which values are identical, without ever showing a value.
package diff

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdutil"
)

// Options are diff's inputs.
type Options struct {
	cmdutil.NamedStoreDeps

	A, B       string
	Only       []string
	FailOnSame bool
	JSON       bool
}

// NewCmd builds the command; runF replaces the run function in tests.
func NewCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{NamedStoreDeps: f.NamedStoreDeps()}
	cmd := &cobra.Command{
		Use:   "diff A B",
		Short: "Compare two stores: keys on one side only, and which values are identical",
		Long: `Compare two stores, each named by an environment of keyward.yaml or by a
store URL (anything containing "://"). diff lists the keys only in A, only
in B, and in both, and says for each key in both whether the values are
identical or different. Values are never shown: they are compared by
HMAC-SHA256 fingerprints under a random key made for this run and thrown
away, so not even a fingerprint leaves the process.

Exit codes:
  0  no differences: the same keys, with the same values
  1  differences (a key on one side only, or a different value)
  with --fail-on-same, instead:
  0  no key in both has the same value (the guide's "Dev ≠ Staging ≠ Prod")
  1  some key has the same value in both
  2, 3, 4, 5…  the usual errors (see docs/cli.md)`,
		Example: `  keyward diff staging production
  keyward diff development production --fail-on-same
  keyward diff dotenv://.env local://keyward.age --json
  keyward diff staging production --only JWT_SECRET_KEY,DATABASE_URL`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.A, opts.B = args[0], args[1]
			if err := cmdutil.CleanOnly(opts.Only); err != nil {
				return err
			}
			return cmdutil.Run(cmd, opts, runF, run)
		},
	}
	cmd.Flags().StringSliceVar(&opts.Only, "only", nil, "Only compare these keys (comma-separated or repeated)")
	cmd.Flags().BoolVar(&opts.FailOnSame, "fail-on-same", false, "Exit 1 only when a key has the same value in both (Dev ≠ Prod)")
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	return cmd
}

// Side names one store in the JSON output.
type Side struct {
	Name  string `json:"name"`
	Store string `json:"store"`
}

// Output is diff's --json shape. It never holds a value or a fingerprint.
type Output struct {
	A         Side     `json:"a"`
	B         Side     `json:"b"`
	OnlyA     []string `json:"only_a"`
	OnlyB     []string `json:"only_b"`
	Same      []string `json:"same"`
	Different []string `json:"different"`
	// Equal: same keys and same values.
	Equal bool `json:"equal"`
}

func run(ctx context.Context, opts *Options) error {
	a, err := opts.Open(ctx, opts.A)
	if err != nil {
		return err
	}
	b, err := opts.Open(ctx, opts.B)
	if err != nil {
		return err
	}
	ka, err := keys(ctx, a, opts.Only)
	if err != nil {
		return err
	}
	kb, err := keys(ctx, b, opts.Only)
	if err != nil {
		return err
	}
	out := Output{A: Side{opts.A, a.URL()}, B: Side{opts.B, b.URL()}, OnlyA: []string{}, OnlyB: []string{}, Same: []string{}, Different: []string{}}
	var both []string
	for _, k := range ka {
		if slices.Contains(kb, k) {
			both = append(both, k)
		} else {
			out.OnlyA = append(out.OnlyA, k)
		}
	}
	for _, k := range kb {
		if !slices.Contains(ka, k) {
			out.OnlyB = append(out.OnlyB, k)
		}
	}
	if len(both) > 0 {
		fa, err := fingerprints(ctx, a, both, nil)
		if err != nil {
			return err
		}
		fb, err := fingerprints(ctx, b, both, fa.key)
		if err != nil {
			return err
		}
		for _, k := range both {
			if hmac.Equal(fa.sums[k], fb.sums[k]) {
				out.Same = append(out.Same, k)
			} else {
				out.Different = append(out.Different, k)
			}
		}
	}
	out.Equal = len(out.OnlyA) == 0 && len(out.OnlyB) == 0 && len(out.Different) == 0
	if opts.JSON {
		if err := cmdutil.WriteJSON(opts.IO.Out, out); err != nil {
			return err
		}
	} else {
		print(opts, &out)
	}
	failed := !out.Equal
	if opts.FailOnSame {
		failed = len(out.Same) > 0
	}
	if failed {
		return &cmdutil.SilentError{Code: cmdutil.ExitError}
	}
	return nil
}

func print(opts *Options, out *Output) {
	w := opts.IO.Out
	if opts.IO.IsStdoutTTY() {
		fmt.Fprintf(w, "A: %s (%s)\nB: %s (%s)\n\n", out.A.Name, out.A.Store, out.B.Name, out.B.Store)
		t := cmdutil.Table(w)
		fmt.Fprintln(t, "KEY\tSTATUS")
		rows := map[string]string{}
		for _, k := range out.OnlyA {
			rows[k] = "only in A"
		}
		for _, k := range out.OnlyB {
			rows[k] = "only in B"
		}
		for _, k := range out.Same {
			rows[k] = "same value"
		}
		for _, k := range out.Different {
			rows[k] = "different value"
		}
		ks := make([]string, 0, len(rows))
		for k := range rows {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		for _, k := range ks {
			fmt.Fprintf(t, "%s\t%s\n", k, rows[k])
		}
		_ = t.Flush()
		fmt.Fprintf(w, "\n%d only in A, %d only in B, %d with the same value, %d with different values\n",
			len(out.OnlyA), len(out.OnlyB), len(out.Same), len(out.Different))
		return
	}
	// Piped: one "STATUS KEY" line per key, grouped.
	for _, g := range []struct {
		status string
		keys   []string
	}{{"only-a", out.OnlyA}, {"only-b", out.OnlyB}, {"same", out.Same}, {"different", out.Different}} {
		for _, k := range g.keys {
			fmt.Fprintf(w, "%s %s\n", g.status, k)
		}
	}
}

func keys(ctx context.Context, s *keyward.Store, only []string) ([]string, error) {
	out, named, err := cmdutil.SelectKeys(ctx, s, only)
	if err != nil {
		return nil, err
	}
	if named {
		// A key named with --only is on this side if it can be read.
		var present []string
		for _, k := range out {
			_, err := s.Get(ctx, k)
			switch keyward.ErrorCode(err) {
			case keyward.OK:
				present = append(present, k)
			case keyward.NotFound:
			default:
				return nil, err
			}
		}
		out = present
	}
	slices.Sort(out)
	return out, nil
}

type prints struct {
	key  []byte
	sums map[string][]byte
}

// fingerprints reads keys and keeps only HMAC-SHA256(key, value); the
// values are dropped at once. A nil hkey makes a fresh random one.
func fingerprints(ctx context.Context, s *keyward.Store, keys []string, hkey []byte) (*prints, error) {
	if hkey == nil {
		hkey = make([]byte, 32)
		if _, err := rand.Read(hkey); err != nil {
			return nil, err
		}
	}
	vals, err := s.GetMany(ctx, keys)
	if err != nil {
		return nil, err
	}
	p := &prints{key: hkey, sums: make(map[string][]byte, len(keys))}
	for _, k := range keys {
		v, ok := vals[k]
		if !ok {
			return nil, keyward.Errorf(keyward.NotFound, "diff", "%q disappeared from %s", k, s.URL())
		}
		m := hmac.New(sha256.New, hkey)
		m.Write(v.Secret.Reveal())
		p.sums[k] = m.Sum(nil)
	}
	return p, nil
}
