package auditcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/audit"
	"github.com/keyward/keyward/internal/cli/cmdtest"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
)

func TestNewCmd(t *testing.T) {
	for _, tc := range []struct {
		args    string
		verb    string
		check   func(*Options) bool
		wantErr bool
	}{
		{"tail", "tail", func(o *Options) bool { return o.Limit == 20 }, false},
		{"tail -n 5 --json", "tail", func(o *Options) bool { return o.Limit == 5 && o.JSON }, false},
		{"search --key K --actor bob --action rotate --since 24h --environment production --outcome denied", "search",
			func(o *Options) bool {
				return o.Filter.Key == "K" && o.Filter.Actor == "bob" && o.Filter.Action == "rotate" && o.Since == "24h" &&
					o.Filter.Env == "production" && o.Filter.Outcome == "denied"
			}, false},
		{"verify --anchor 3:abc --file x.log", "verify", func(o *Options) bool { return o.Anchor == "3:abc" && o.File == "x.log" }, false},
		{"anchor", "anchor", func(*Options) bool { return true }, false},
		{"hash", "hash", func(*Options) bool { return true }, false},
		{"path --file y.log", "path", func(o *Options) bool { return o.File == "y.log" }, false},
		{"search -n 3", "search", func(o *Options) bool { return o.Limit == 3 }, false},
		{"tail extra", "", nil, true},
	} {
		t.Run(tc.args, func(t *testing.T) {
			got, ran, err := cmdtest.Parse(NewCmd, tc.args, false)
			if tc.wantErr {
				if err == nil {
					t.Fatal("want an error")
				}
				return
			}
			if err != nil || ran.Name() != tc.verb || got == nil || !tc.check(got) {
				t.Fatalf("err=%v ran=%q opts=%+v", err, ran.Name(), got)
			}
		})
	}
}

// TestSubcommandsHaveTheirOwnHelp: `keyward audit --help` lists every
// subcommand, and each has its own description and examples.
func TestSubcommandsHaveTheirOwnHelp(t *testing.T) {
	ios, _, out, _ := iostreams.Test()
	cmd := NewCmd(&cmdutil.Factory{IO: ios}, nil)
	subs := cmd.Commands() // before Execute adds cobra's help and completion
	cmd.SetArgs([]string{"--help"})
	cmd.SetOut(ios.Out)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	want := []string{"anchor", "hash", "path", "search", "tail", "verify"}
	var got []string
	for _, c := range subs {
		got = append(got, c.Name())
		if c.Short == "" || c.Long == "" || c.Example == "" {
			t.Errorf("audit %s: Short, Long and Example must all be set", c.Name())
		}
		if !strings.Contains(out.String(), "\n  "+c.Name()+" ") {
			t.Errorf("audit --help does not list %s:\n%s", c.Name(), out)
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("subcommands %v, want %v", got, want)
	}
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "audit.log")
	key := []byte("0123456789abcdef0123456789abcdef")
	keyPath := filepath.Join(dir, "audit.key")
	if err := writeKey(keyPath, key); err != nil {
		t.Fatal(err)
	}
	l, err := audit.Open(audit.Options{Path: logPath, NoFsync: true, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	old := time.Now().Add(-48 * time.Hour)
	_ = l.Append(ctx, &audit.Record{Action: "get", Key: "OLD", Time: old})
	_ = l.Append(ctx, &audit.Record{Action: "get", Key: "JWT", ValueHMAC: l.ValueHMAC([]byte("leaked-value"))})
	_ = l.Append(ctx, &audit.Record{Action: "put", Key: "JWT"})
	l.Close()
	cfg := func() (audit.Effective, error) { return audit.Effective{File: logPath, KeyFile: keyPath}, nil }

	ios, in, out, errOut := iostreams.Test()
	o := &Options{IO: ios, Config: cfg, JSON: true, Since: "24h", Filter: audit.Filter{Key: "JWT"}}
	if err := runSearch(ctx, o); err != nil {
		t.Fatal(err)
	}
	var recs []audit.Record
	if err := json.Unmarshal(out.Bytes(), &recs); err != nil || len(recs) != 2 {
		t.Fatalf("search --since 24h --key JWT: %v, %d records", err, len(recs))
	}

	out.Reset()
	in.WriteString("leaked-value\n")
	if err := runHash(ctx, &Options{IO: ios, Config: cfg, JSON: true}); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out.Bytes(), &recs); err != nil || len(recs) != 1 || recs[0].Key != "JWT" || recs[0].Action != "get" {
		t.Fatalf("hash found %d records", len(recs))
	}
	if bytes.Contains(out.Bytes(), []byte("leaked-value")) {
		t.Fatalf("hash output contains the value")
	}

	out.Reset()
	if err := runVerify(ctx, &Options{IO: ios, Config: cfg}); err != nil || !strings.HasPrefix(out.String(), "ok: 3 records intact") {
		t.Fatalf("verify: %v %q", err, out.String())
	}
	out.Reset()
	if err := runAnchor(ctx, &Options{IO: ios, Config: cfg}); err != nil {
		t.Fatal(err)
	}
	anchor := strings.TrimSpace(out.String())
	// A truncated log fails against the anchor with exit 1.
	b, _ := readFile(logPath)
	cut := b[:bytes.LastIndexByte(b[:len(b)-1], '\n')+1]
	if err := writeFile(logPath, cut); err != nil {
		t.Fatal(err)
	}
	err = runVerify(ctx, &Options{IO: ios, Config: cfg, Anchor: anchor})
	if cmdutil.ExitCode(err) != cmdutil.ExitError || !strings.Contains(errOut.String(), "truncated") {
		t.Fatalf("truncated log against its anchor: exit %d, stderr %q", cmdutil.ExitCode(err), errOut.String())
	}

	err = runTail(ctx, &Options{IO: ios, Config: func() (audit.Effective, error) {
		return audit.Effective{File: filepath.Join(dir, "nope.log")}, nil
	}})
	if cmdutil.ExitCode(err) != cmdutil.ExitNotFound {
		t.Fatalf("missing log: exit %d", cmdutil.ExitCode(err))
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"24h":                  now.Add(-24 * time.Hour),
		"7d":                   now.Add(-7 * 24 * time.Hour),
		"2026-11-01T00:00:00Z": time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
	} {
		got, err := parseSince(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseSince(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"yesterday", "-1h", "d"} {
		if _, err := parseSince(bad, now); err == nil {
			t.Errorf("parseSince(%q) accepted", bad)
		}
	}
}
