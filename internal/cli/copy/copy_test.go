package copy

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/internal/cli/cmdtest"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/provider/mem"
)

func TestNewCmd(t *testing.T) {
	for _, tc := range []struct {
		args    string
		wantErr string
		check   func(*Options) bool
	}{
		{args: "--from a --to b", check: func(o *Options) bool { return o.From == "a" && o.To == "b" && !o.DryRun }},
		{args: "--from dotenv://.env --to local://x.age --only A,B --dry-run --json", check: func(o *Options) bool {
			return o.DryRun && o.JSON && strings.Join(o.Only, ",") == "A,B"
		}},
		{args: "--from a", wantErr: "needs both"},
		{args: "--to a", wantErr: "needs both"},
		{args: "--from a --to a", wantErr: "same store"},
		{args: "--from a --to b --only ,", wantErr: "empty key"},
		{args: "--from a --to b extra", wantErr: "unknown command"},
	} {
		t.Run(tc.args, func(t *testing.T) {
			got, _, err := cmdtest.Parse(NewCmd, tc.args, false)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !tc.check(got) {
				t.Fatalf("err %v options %+v", err, got)
			}
		})
	}
}

const canary = "KWCANARY-copy-value"

// flaky wraps a writable driver and fails writes after failAfter of them.
type flaky struct {
	driver.Store
	w         driver.Writer
	l         driver.Lister
	writes    int
	failAfter int
}

func (f *flaky) Put(ctx context.Context, key string, data []byte, o *driver.PutOptions) (driver.Version, error) {
	if f.writes >= f.failAfter {
		return driver.Version{}, keyward.ErrUnavailable
	}
	f.writes++
	return f.w.Put(ctx, key, data, o)
}
func (f *flaky) List(ctx context.Context) ([]driver.KeyInfo, error) { return f.l.List(ctx) }

// readOnly hides every ability but Get.
type readOnly struct{ d driver.Store }

func (r readOnly) Get(ctx context.Context, k, v string) (*driver.Value, error) {
	return r.d.Get(ctx, k, v)
}
func (r readOnly) ErrorCode(err error) keyward.Code { return r.d.ErrorCode(err) }
func (r readOnly) Close() error                     { return nil }

func stores(t *testing.T) (src, dstMem *keyward.Store, dst *flaky) {
	t.Helper()
	ctx := context.Background()
	src = mem.NewBackend().OpenStore(&keyward.StoreOptions{URL: "mem://src"})
	for _, k := range []string{"A", "B", "C", "D"} {
		if _, err := src.Put(ctx, k, keyward.NewSecretString(canary+"-"+k), nil); err != nil {
			t.Fatal(err)
		}
	}
	dstMem = mem.NewBackend().OpenStore(&keyward.StoreOptions{URL: "mem://dst", TTL: -1})
	d := dstMem.Driver()
	dst = &flaky{Store: d, w: d.(driver.Writer), l: d.(driver.Lister), failAfter: 1 << 30}
	return src, dstMem, dst
}

func opener(m map[string]*keyward.Store) func(context.Context, string) (*keyward.Store, error) {
	return func(_ context.Context, name string) (*keyward.Store, error) { return m[name], nil }
}

func TestRunPartialFailureThenRerun(t *testing.T) {
	ctx := context.Background()
	src, dstMem, fl := stores(t)
	// B already holds the same value: skipped; C holds another: new version.
	if _, err := dstMem.Put(ctx, "B", keyward.NewSecretString(canary+"-B"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := dstMem.Put(ctx, "C", keyward.NewSecretString("old"), nil); err != nil {
		t.Fatal(err)
	}
	fl.failAfter = 2 // A and C are written, D fails
	dst := keyward.NewStore(fl, &keyward.StoreOptions{URL: "mem://dst", TTL: -1})
	ios, _, out, errOut := iostreams.Test()
	opts := &Options{NamedStoreDeps: cmdutil.NamedStoreDeps{IO: ios, Open: opener(map[string]*keyward.Store{"src": src, "dst": dst})}, From: "src", To: "dst", JSON: true}
	err := run(ctx, opts)
	if cmdutil.ExitCode(err) != cmdutil.ExitUnavailable {
		t.Fatalf("exit %d: %v", cmdutil.ExitCode(err), err)
	}
	var o Output
	if err := json.Unmarshal(out.Bytes(), &o); err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, r := range o.Keys {
		got += r.Key + "=" + r.Status + " "
	}
	if got != "A=copied B=skipped C=copied D=failed " {
		t.Fatalf("statuses: %s", got)
	}
	var eb bytes.Buffer
	cmdutil.PrintError(&eb, err)
	if !strings.Contains(eb.String(), "2 of 4 keys copied") || !strings.Contains(eb.String(), "run the same command again") {
		t.Fatalf("error:\n%s", eb.String())
	}
	for _, s := range []string{out.String(), errOut.String(), eb.String()} {
		if strings.Contains(s, canary) {
			t.Fatal("a value leaked into the report")
		}
	}
	// Re-run: completes, skipping what is there.
	fl.failAfter = 1 << 30
	ios, _, out, _ = iostreams.Test()
	opts.IO, opts.JSON = ios, false
	if err := run(ctx, opts); err != nil {
		t.Fatal(err)
	}
	if out.String() != "skipped A\nskipped B\nskipped C\ncopied D (version 1)\n" {
		t.Fatalf("re-run report:\n%s", out.String())
	}
	for _, k := range []string{"A", "B", "C", "D"} {
		v, err := dstMem.Get(ctx, k)
		if err != nil || v.RevealString() != canary+"-"+k {
			t.Fatalf("%s not copied exactly: %v", k, err)
		}
	}
	h, _ := dstMem.History(ctx, "C")
	if len(h) != 2 {
		t.Fatalf("C: %d versions, want a new version over the old one", len(h))
	}
}

func TestRunReadOnlyTargetWritesNothing(t *testing.T) {
	ctx := context.Background()
	src, dstMem, _ := stores(t)
	ro := keyward.NewStore(readOnly{dstMem.Driver()}, &keyward.StoreOptions{URL: "ro://dst"})
	ios, _, out, _ := iostreams.Test()
	err := run(ctx, &Options{NamedStoreDeps: cmdutil.NamedStoreDeps{IO: ios, Open: opener(map[string]*keyward.Store{"src": src, "dst": ro})}, From: "src", To: "dst"})
	if cmdutil.ExitCode(err) != cmdutil.ExitUnimplemented || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("exit %d: %v", cmdutil.ExitCode(err), err)
	}
	if out.Len() != 0 {
		t.Fatal("output before the refusal")
	}
}

func TestRunDryRunAndMissing(t *testing.T) {
	ctx := context.Background()
	src, dstMem, _ := stores(t)
	ios, _, out, _ := iostreams.Test()
	opts := &Options{NamedStoreDeps: cmdutil.NamedStoreDeps{IO: ios, Open: opener(map[string]*keyward.Store{"src": src, "dst": dstMem})}, From: "src", To: "dst", DryRun: true, Only: []string{"A", "B"}}
	if err := run(ctx, opts); err != nil {
		t.Fatal(err)
	}
	if out.String() != "would-copy A\nwould-copy B\n" {
		t.Fatalf("dry run:\n%s", out.String())
	}
	if l, _ := dstMem.List(ctx); len(l) != 0 {
		t.Fatal("--dry-run wrote")
	}
	// A missing source key stops everything before any write.
	opts.DryRun, opts.Only = false, []string{"A", "NOPE"}
	if err := run(ctx, opts); cmdutil.ExitCode(err) != cmdutil.ExitNotFound {
		t.Fatalf("missing key: %v", err)
	}
	if l, _ := dstMem.List(ctx); len(l) != 0 {
		t.Fatal("a write happened although a source key was missing")
	}
}
