package template

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/provider/mem"
)

func TestNewCmd(t *testing.T) {
	for _, tc := range []struct {
		args    string
		in, out string
		wantErr bool
	}{
		{args: "in.tmpl", in: "in.tmpl"},
		{args: "in.tmpl -o out.conf", in: "in.tmpl", out: "out.conf"},
		{args: "", wantErr: true},
		{args: "a b", wantErr: true},
	} {
		t.Run(tc.args, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			var got *Options
			cmd := NewCmd(&cmdutil.Factory{IO: ios}, func(_ context.Context, o *Options) error { got = o; return nil })
			cmd.SetArgs(strings.Fields(tc.args))
			cmd.SetOut(ios.Out)
			cmd.SetErr(ios.ErrOut)
			err := cmd.Execute()
			if tc.wantErr {
				if err == nil {
					t.Fatal("want an error")
				}
				return
			}
			if err != nil || got.In != tc.in || got.Out != tc.out {
				t.Fatalf("err %v, options %+v", err, got)
			}
		})
	}
}

const canary = "KWCANARY-template-value"

func setup(t *testing.T, tmpl string) (*Options, string) {
	t.Helper()
	ctx := context.Background()
	s := mem.NewBackend().OpenStore(&keyward.StoreOptions{URL: "mem://main"})
	other := mem.NewBackend().OpenStore(&keyward.StoreOptions{URL: "mem://other"})
	for k, v := range map[string]string{"JWT": canary, "DB": "postgres://x", "VIA_REF": "ref+mem://other#/T", "BAD_REF": "ref+mem://other"} {
		if _, err := s.Put(ctx, k, keyward.NewSecretString(v), nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := other.Put(ctx, "T", keyward.NewSecretString(`{"user":"u","pass":"other-p"}`), nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "in.tmpl")
	if err := os.WriteFile(in, []byte(tmpl), 0o644); err != nil {
		t.Fatal(err)
	}
	ios, _, _, _ := iostreams.Test()
	return &Options{
		IO: ios, In: in,
		OpenStore: func(context.Context) (*keyward.Store, error) { return s, nil },
		Resolver: func() *keyward.Resolver {
			return &keyward.Resolver{Open: func(context.Context, string) (*keyward.Store, error) { return other, nil }}
		},
	}, dir
}

func TestRender(t *testing.T) {
	tmpl := "jwt={{ secret \"JWT\" }}\n" +
		"b64={{ secret \"JWT\" | b64enc }} json={{ secret \"DB\" | json }} sh={{ secret \"DB\" | shquote }}\n" +
		"ref={{ ref \"ref+mem://other#/T/pass\" }}\n" +
		"text: ref+mem://other#/T/user and 'ref+mem://other#/T/pass' and ref+mem://other#/T/user+suffix\n" +
		"via={{ secret \"VIA_REF\" }}\n" +
		"{{ range $k := list }}{{ end }}"
	tmpl = strings.ReplaceAll(tmpl, "{{ range $k := list }}{{ end }}", "{{ if true }}ref+mem://other#/T/user{{ end }}\n")
	opts, dir := setup(t, tmpl)
	out := filepath.Join(dir, "out.conf")
	opts.Out = out
	if err := run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := "jwt=" + canary + "\n" +
		"b64=S1dDQU5BUlktdGVtcGxhdGUtdmFsdWU= json=\"postgres://x\" sh='postgres://x'\n" +
		"ref=other-p\n" +
		"text: u and 'other-p' and usuffix\n" +
		"via={\"user\":\"u\",\"pass\":\"other-p\"}\n" +
		"u\n"
	if string(b) != want {
		t.Fatalf("rendered output differs from the expected text (%d vs %d bytes)", len(b), len(want))
	}
	fi, _ := os.Stat(out)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
}

func TestRenderErrors(t *testing.T) {
	for _, tc := range []struct {
		name, tmpl string
		code       int
		want       []string
	}{
		{"unknown key", "line one\n  x {{ secret \"NOPE\" }} {{ secret \"ALSO_NOPE\" }}\n", cmdutil.ExitNotFound,
			[]string{`in.tmpl:2:15: unknown key "NOPE" in mem://main`, `in.tmpl:2:35: unknown key "ALSO_NOPE"`}},
		{"malformed text reference", "a\nb ref+mem://other\n", cmdutil.ExitUsage, []string{"in.tmpl:2:3: failed to parse reference"}},
		{"malformed ref call", "{{ ref \"keyward://x\" }}", cmdutil.ExitUsage, []string{"in.tmpl:1:8: failed to parse reference"}},
		{"secret holds a bad reference", "{{ secret \"BAD_REF\" }}", cmdutil.ExitUsage, []string{`in.tmpl:1:11: failed to resolve the reference in "BAD_REF"`}},
		{"parse error", "{{ secret \"JWT\" ", cmdutil.ExitUsage, []string{"in.tmpl:1:"}},
		{"dynamic unknown key", "{{ secret (print \"NO\" \"PE\") }}", cmdutil.ExitNotFound, []string{"in.tmpl:1:3", `computed keys are not shown`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts, dir := setup(t, tc.tmpl+"{{ secret \"JWT\" }}")
			out := filepath.Join(dir, "out.conf")
			if err := os.WriteFile(out, []byte("old"), 0o600); err != nil {
				t.Fatal(err)
			}
			opts.Out = out
			err := run(context.Background(), opts)
			var buf bytes.Buffer
			cmdutil.PrintError(&buf, err)
			if cmdutil.ExitCode(err) != tc.code {
				t.Fatalf("exit %d, want %d: %s", cmdutil.ExitCode(err), tc.code, buf.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("error does not say %q:\n%s", w, buf.String())
				}
			}
			if strings.Contains(buf.String(), canary) || strings.Contains(buf.String(), "other-p") {
				t.Error("a value leaked into the error")
			}
			if b, _ := os.ReadFile(out); string(b) != "old" {
				t.Error("OUT changed although rendering failed")
			}
		})
	}
	opts, _ := setup(t, "")
	opts.In = filepath.Join(t.TempDir(), "missing.tmpl")
	if err := run(context.Background(), opts); cmdutil.ExitCode(err) != cmdutil.ExitNotFound {
		t.Fatalf("missing IN: %v", err)
	}
}
