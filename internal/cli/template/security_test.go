package template

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/provider/mem"
)

// TestSecurityNoValueInTemplateErrors: a key or reference computed while
// rendering can be a secret value ({{ secret (secret "K") }}). It is never
// quoted in an error, never looked up unless the store lists it (so it
// never becomes the key of an audit event), and nothing is written.
func TestSecurityNoValueInTemplateErrors(t *testing.T) {
	for _, tc := range []struct {
		name, tmpl string
		code       int
	}{
		{"secret of a secret", `{{ secret (secret "JWT") }}`, cmdutil.ExitNotFound},
		{"secret of a piped secret", `{{ secret "JWT" | secret }}`, cmdutil.ExitNotFound},
		{"secret of a printf", `{{ secret (printf "%s_X" (secret "JWT")) }}`, cmdutil.ExitNotFound},
		{"secret of a variable", `{{ $v := secret "JWT" }}{{ secret $v }}`, cmdutil.ExitNotFound},
		{"secret of a json", `{{ secret (secret "JWT" | json) }}`, cmdutil.ExitNotFound},
		{"ref of a secret", `{{ ref (secret "JWT") }}`, cmdutil.ExitUsage},
		{"ref of a built reference", `{{ ref (printf "ref+mem://other#/%s" (secret "JWT")) }}`, cmdutil.ExitUsage},
		{"index out of range", `{{ index (secret "JWT") 1000 }}`, cmdutil.ExitUsage},
		{"field of a secret", `{{ (secret "JWT").Field }}`, cmdutil.ExitUsage},
		{"call a secret", `{{ call (secret "JWT") }}`, cmdutil.ExitUsage},
		{"compare a secret", `{{ eq (secret "JWT") 1 }}`, cmdutil.ExitUsage},
		{"slice a secret", `{{ slice (secret "JWT") 9 2 }}`, cmdutil.ExitUsage},
		{"ring of a secret", `{{ range ring (secret "JWT") }}{{ . }}{{ end }}`, cmdutil.ExitNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var keys []string
			audit := func(_ context.Context, e *keyward.Event) error {
				mu.Lock()
				defer mu.Unlock()
				keys = append(keys, e.Key)
				return nil
			}
			ctx := context.Background()
			s := mem.NewBackend().OpenStore(&keyward.StoreOptions{URL: "mem://main", Audit: audit})
			other := mem.NewBackend().OpenStore(&keyward.StoreOptions{URL: "mem://other", Audit: audit})
			if _, err := s.Put(ctx, "JWT", keyward.NewSecretString(canary), nil); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			in := filepath.Join(dir, "in.tmpl")
			out := filepath.Join(dir, "out.conf")
			if err := os.WriteFile(in, []byte(tc.tmpl), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(out, []byte("old"), 0o600); err != nil {
				t.Fatal(err)
			}
			ios, _, stdout, stderr := iostreams.Test()
			opts := &Options{IO: ios, In: in, Out: out,
				OpenStore: func(context.Context) (*keyward.Store, error) { return s, nil },
				Resolver: func() *keyward.Resolver {
					return &keyward.Resolver{Open: func(context.Context, string) (*keyward.Store, error) { return other, nil }}
				},
			}
			err := run(ctx, opts)
			var buf bytes.Buffer
			cmdutil.PrintError(&buf, err)
			if err == nil {
				t.Fatal("rendered without an error")
			}
			if got := cmdutil.ExitCode(err); got != tc.code {
				t.Errorf("exit %d, want %d: %s", got, tc.code, strings.ReplaceAll(buf.String(), canary, "[CANARY]"))
			}
			for what, s := range map[string]string{"error": buf.String() + err.Error(), "stdout": stdout.String(), "stderr": stderr.String()} {
				if strings.Contains(s, canary) || strings.Contains(s, canary[2:len(canary)-2]) {
					t.Errorf("the %s holds the value: %s", what, strings.ReplaceAll(s, canary, "[CANARY]"))
				}
			}
			mu.Lock()
			for _, k := range keys {
				if strings.Contains(k, canary[2:len(canary)-2]) {
					t.Errorf("an audit event's key holds the value")
				}
			}
			mu.Unlock()
			if b, _ := os.ReadFile(out); string(b) != "old" {
				t.Errorf("the output file was changed")
			}
		})
	}
}

// TestSecurityRenderBounds: a repository template cannot make rendering
// take unbounded time or memory: range iterations and template calls are
// counted, the output is capped, and nothing is written when a bound is hit.
// Ordinary loops (a key ring, a small range) still render.
func TestSecurityRenderBounds(t *testing.T) {
	// The real step limit costs seconds to reach under -race; a lower one
	// exercises the same counting.
	renderSteps = 10000
	t.Cleanup(func() { renderSteps = MaxRenderSteps })
	fanOut := `{{ define "t0" }}{{ end }}`
	for i := 1; i <= 40; i++ {
		fanOut += fmt.Sprintf(`{{ define "t%d" }}{{ template "t%d" }}{{ template "t%d" }}{{ end }}`, i, i-1, i-1)
	}
	big := strings.Repeat("x", 1<<20)
	doubled := `{{ $v0 := "ab" }}`
	for i := 1; i <= 60; i++ {
		doubled += fmt.Sprintf(`{{ $v%d := printf "%%s%%s" $v%d $v%d }}`, i, i-1, i-1)
	}
	for _, tc := range []struct{ name, tmpl, want string }{
		{"range over a huge int, empty body", `{{ range 1000000000000 }}{{ end }}`, "range iterations and template calls"},
		{"nested ranges", `{{ range 100000 }}{{ range 100000 }}{{ end }}{{ end }}`, "range iterations and template calls"},
		{"templates calling each other twice", fanOut + `{{ template "t40" }}`, "range iterations and template calls"},
		{"output larger than the limit", `{{ range 100 }}` + big + `{{ end }}`, "larger than the 64 MiB limit"},
		{"a value doubled by printf and never written", `{{ $x := "ab" }}{{ range 40 }}{{ $x = printf "%s%s" $x $x }}{{ end }}{{ len $x }}`, "more than the 64 MiB limit of values"},
		{"a value doubled without a range", doubled + `{{ len $v60 }}`, "more than the 64 MiB limit of values"},
		{"a value doubled by print", `{{ $x := "ab" }}{{ range 40 }}{{ $x = print $x $x }}{{ end }}{{ len $x }}`, "more than the 64 MiB limit of values"},
		{"a value grown by b64enc", `{{ $x := "abcdefgh" }}{{ range 100 }}{{ $x = b64enc $x }}{{ end }}{{ len $x }}`, "more than the 64 MiB limit of values"},
		{"one printf of many copies", `{{ $x := "` + big + `" }}{{ printf "%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s" $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x $x | len }}`, "more than the 64 MiB limit of values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts, dir := setup(t, tc.tmpl+`{{ secret "JWT" }}`)
			opts.Out = filepath.Join(dir, "out.conf")
			if err := os.WriteFile(opts.Out, []byte("old"), 0o600); err != nil {
				t.Fatal(err)
			}
			err := run(context.Background(), opts)
			if got := cmdutil.ExitCode(err); got != cmdutil.ExitUsage {
				t.Fatalf("exit %d, want %d (err: %v)", got, cmdutil.ExitUsage, err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "in.tmpl") {
				t.Errorf("error %q does not say %q and name the template", err, tc.want)
			}
			if b, _ := os.ReadFile(opts.Out); string(b) != "old" {
				t.Errorf("the output file was changed")
			}
		})
	}
	opts, _ := setup(t, `{{ range 3 }}{{ range ring "JWT" }}v{{ end }}{{ end }}{{ define "x" }}d{{ end }}{{ template "x" }}{{ printf "%s" "" }}{{ print "" }}{{ "" | html }}{{ len (b64enc (json (shquote ""))) | print | printf "%.0s" }}`)
	if err := run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if got := opts.IO.Out.(interface{ String() string }).String(); got != "vvvd" {
		t.Errorf("rendered %q, want %q", got, "vvvd")
	}
}
