package run

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/provider/mem"
)

// These tests cover the redaction and reference additions to run.

func shChild(t *testing.T, s *keyward.Store, o Options, script string, args ...string) (string, string, error) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	o.IO = ios
	o.OpenStore = func(context.Context) (*keyward.Store, error) { return s, nil }
	base := o.Environ
	o.Environ = func() []string {
		env := []string{"PATH=" + os.Getenv("PATH")}
		if base != nil {
			env = append(env, base()...)
		}
		return env
	}
	o.Command = append([]string{"sh", "-c", script, "sh"}, args...)
	err := run(context.Background(), &o)
	return out.String(), errOut.String(), err
}

func TestRunRedactsOutput(t *testing.T) {
	ctx := context.Background()
	s := mem.NewBackend().OpenStore(&keyward.StoreOptions{URL: "mem://redact"})
	val := canaryA + "/+?&=é"
	for k, v := range map[string]string{"TOKEN": val, "SHORT": "abc"} {
		if _, err := s.Put(ctx, k, keyward.NewSecretString(v), nil); err != nil {
			t.Fatal(err)
		}
	}
	b64 := base64.StdEncoding.EncodeToString([]byte(val))
	hx := hex.EncodeToString([]byte(val))
	q := url.QueryEscape(val)
	// The value in clear on stdout (split across two writes), and its
	// base64, hex and query-escaped forms on stderr.
	half := len(val) / 2
	script := `printf '%s' "$1"; printf '%s\n' "$2"; printf 'b64=%s hex=%s q=%s\n' "$3" "$4" "$5" >&2; printf 'short=%s\n' "$SHORT"`
	out, errOut, err := shChild(t, s, Options{Redact: true}, script, val[:half], val[half:], b64, hx, q)
	if err != nil {
		t.Fatal(err)
	}
	for _, form := range []string{val, b64, hx, q, canaryA} {
		if strings.Contains(out+errOut, form) {
			t.Fatalf("a form of the value (%d bytes) passed the filter", len(form))
		}
	}
	if out != "[REDACTED:TOKEN]\nshort=abc\n" {
		t.Fatalf("stdout: %d bytes, want the redaction marker and the short value", len(out))
	}
	if !strings.Contains(errOut, "b64=[REDACTED:TOKEN] hex=[REDACTED:TOKEN] q=[REDACTED:TOKEN]\n") {
		t.Fatal("stderr forms were not redacted")
	}
	if !strings.Contains(errOut, "keyward: note: not redacting SHORT: values shorter than 8 bytes") {
		t.Fatal("no note about the short value")
	}
	// Redact off (the Options zero value; --no-redact on the CLI).
	out, errOut, err = shChild(t, s, Options{}, `printf '%s' "$TOKEN"`)
	if err != nil || out != val || errOut != "" {
		t.Fatalf("without redaction the child's output must pass untouched (%d bytes, %v)", len(out), err)
	}
	// --prefix: the marker names the variable.
	out, _, err = shChild(t, s, Options{Redact: true, Prefix: "APP_", Only: []string{"TOKEN"}}, `printf '%s' "$APP_TOKEN"`)
	if err != nil || out != "[REDACTED:APP_TOKEN]" {
		t.Fatalf("prefix: %d bytes, %v", len(out), err)
	}
	// Exit codes pass through the filter path too.
	if _, _, err := shChild(t, s, Options{Redact: true}, `exit 5`); cmdutil.ExitCode(err) != 5 {
		t.Fatalf("exit code through the filter: %v", err)
	}
}

func TestNewCmdRedactFlag(t *testing.T) {
	for args, want := range map[string]bool{"-- env": true, "--no-redact -- env": false} {
		ios, _, _, _ := iostreams.Test()
		var got *Options
		cmd := NewCmd(&cmdutil.Factory{IO: ios}, func(_ context.Context, o *Options) error { got = o; return nil })
		cmd.SetArgs(strings.Fields(args))
		if err := cmd.Execute(); err != nil || got.Redact != want || got.Resolver == nil {
			t.Fatalf("%s: redact %v, want %v (%v)", args, got != nil && got.Redact, want, err)
		}
	}
}

func TestRunResolvesReferences(t *testing.T) {
	ctx := context.Background()
	s := mem.NewBackend().OpenStore(&keyward.StoreOptions{URL: "mem://main"})
	other := mem.NewBackend().OpenStore(&keyward.StoreOptions{URL: "mem://other"})
	if _, err := other.Put(ctx, "DB", keyward.NewSecretString(`{"password":"`+canaryB+`"}`), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "FROM_STORE", keyward.NewSecretString("ref+mem://other#/DB/password"), nil); err != nil {
		t.Fatal(err)
	}
	resolver := func() *keyward.Resolver {
		return &keyward.Resolver{Open: func(context.Context, string) (*keyward.Store, error) { return other, nil }}
	}
	o := Options{Redact: true, Resolver: resolver, Environ: func() []string {
		return []string{"INHERITED=ref+mem://other#/DB/password", "PLAIN=ref-but-not-really"}
	}}
	out, _, err := shChild(t, s, o, `[ "$FROM_STORE" = "$1" ] && [ "$INHERITED" = "$1" ] && printf '%s|%s' "$PLAIN" "$INHERITED"`, canaryB)
	if err != nil {
		t.Fatalf("references were not resolved to the exact value: %v", err)
	}
	// The inherited reference's value is a secret too: redacted (named by
	// the first variable, in sorted order, that holds it).
	if out != "ref-but-not-really|[REDACTED:FROM_STORE]" {
		t.Fatalf("stdout %d bytes", len(out))
	}
	// A malformed reference names the variable; the child never starts.
	o.Environ = func() []string { return []string{"BROKEN=ref+mem://other"} }
	out, errOut, err := shChild(t, s, o, `echo started`)
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "BROKEN") || out != "" || errOut != "" {
		t.Fatalf("malformed reference: exit %d %v", cmdutil.ExitCode(err), err)
	}
	// A reference to a missing key: NotFound, naming the variable.
	o.Environ = func() []string { return []string{"GONE=ref+mem://other#/NOPE"} }
	_, _, err = shChild(t, s, o, `echo started`)
	if cmdutil.ExitCode(err) != cmdutil.ExitNotFound || !strings.Contains(err.Error(), "GONE") {
		t.Fatalf("missing target: %v", err)
	}
	if strings.Contains(err.Error(), canaryB) {
		t.Fatal("value in error")
	}
}

// TestRunInterruptedBeforeTheChildStartsRunsNothing: a signal that
// cancelled the command before run could forward signals (ctx is done by
// the time the child would start) is keyward's own interrupt: exit 130 and
// no child, rather than a child that never hears of it.
func TestRunInterruptedBeforeTheChildStartsRunsNothing(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "started")
	for _, redacted := range []bool{true, false} {
		ios, _, _, _ := iostreams.Test()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		o := &Options{IO: ios, Redact: redacted, Command: []string{"sh", "-c", "touch " + marker}}
		err := execChild(ctx, o, []string{"PATH=" + os.Getenv("PATH")})
		if code := cmdutil.ExitCode(err); code != cmdutil.ExitCancel {
			t.Fatalf("redact=%v: exit code %d (%v), want %d", redacted, code, err, cmdutil.ExitCancel)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatalf("redact=%v: the child ran", redacted)
		}
		if cmdutil.ForwardingSignals.Load() {
			t.Fatal("run still claims to forward signals")
		}
	}
}
