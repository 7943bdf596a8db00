package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
)

func testFactory() (*cmdutil.Factory, func() string) {
	ios, _, out, errOut := iostreams.Test()
	f := &cmdutil.Factory{IO: ios, Getenv: func(k string) string {
		if k == "KEYWARD_AUDIT" {
			return "off"
		}
		return ""
	}, Environ: func() []string { return nil }}
	return f, func() string { return out.String() + "\x00" + errOut.String() }
}

// TestInvokedVerb: which command lines build one verb only, and which the
// whole tree (help, completion, unknown verbs, unknown flags).
func TestInvokedVerb(t *testing.T) {
	for _, tc := range []struct {
		args []string
		name string
		ok   bool
	}{
		{[]string{"--version"}, "", true},
		{[]string{"-v"}, "", true},
		{[]string{"run", "--", "true"}, "run", true},
		{[]string{"--store", "mem://x", "-e", "prod", "get", "K"}, "get", true},
		{[]string{"--store=mem://x", "-eprod", "--config", "k.yaml", "--allow-ref", "vault://", "list"}, "list", true},
		{[]string{"ls"}, "ls", true},
		{[]string{"rm", "K"}, "rm", true},
		{[]string{"merge-driver", "a", "b", "c"}, "merge-driver", true},
		{[]string{"run", "--help"}, "run", true}, // a verb's own help needs only the verb
		{nil, "", false},
		{[]string{"--help"}, "", false},
		{[]string{"-h", "run"}, "", false},
		{[]string{"help", "run"}, "", false},
		{[]string{"completion", "bash"}, "", false},
		{[]string{"__complete", "ru"}, "", false},
		{[]string{"rnu"}, "", false},
		{[]string{"--bogus", "run"}, "", false},
		{[]string{"--store"}, "", false},
		{[]string{"--", "run"}, "", false},
	} {
		name, ok := invokedVerb(tc.args)
		if name != tc.name || ok != tc.ok {
			t.Errorf("invokedVerb(%q) = %q, %v; want %q, %v", tc.args, name, ok, tc.name, tc.ok)
		}
	}
}

// TestOnlyPrints: the command lines Main answers without signal handling
// print text and nothing else; every other one, a
// verb's own arguments that merely look like help included, gets both.
func TestOnlyPrints(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"--version"}, true},
		{[]string{"-v"}, true},
		{nil, true},
		{[]string{"help"}, true},
		{[]string{"help", "run"}, true},
		{[]string{"--help"}, true},
		{[]string{"run", "--help"}, true},
		{[]string{"get", "-h"}, true},
		{[]string{"run", "--", "true"}, false},
		{[]string{"run", "--", "grep", "-h", "x"}, false},
		{[]string{"run", "--", "sh", "--help"}, false},
		{[]string{"get", "K"}, false},
		{[]string{"list"}, false},
		{[]string{"--store", "mem://x", "list"}, false},
		{[]string{"completion", "bash"}, false},
		{[]string{"__complete", "get", ""}, false},
		{[]string{"rnu"}, false},
		{[]string{"run", "sh", "-c", "x", "-h"}, false},
		{[]string{"set", "K", "--from-file", "-h"}, false},
		{[]string{"--store", "-h", "list"}, false},
	} {
		if got := onlyPrints(tc.args); got != tc.want {
			t.Errorf("onlyPrints(%q) = %v; want %v", tc.args, got, tc.want)
		}
	}
}

// TestOneVerbTreeIsComplete: for every verb and every subcommand, its
// --help (and a usage error's output) built alone is exactly what the whole
// tree prints; keyward --help and the completion script still name every
// verb; --version builds no verb and prints the version.
func TestOneVerbTreeIsComplete(t *testing.T) {
	ctx := context.Background()
	full, _ := testFactory()
	root := NewRoot(full)
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" {
				continue
			}
			p := append(append([]string(nil), path...), sub.Name())
			paths = append(paths, p)
			walk(sub, p)
		}
	}
	walk(root, nil)
	if len(paths) < 20 {
		t.Fatalf("only %d commands in the tree", len(paths))
	}
	viaFull := func(args []string) string {
		wholeTree = true
		defer func() { wholeTree = false }()
		f, got := testFactory()
		Run(ctx, f, args)
		return got()
	}
	for _, p := range paths {
		for _, args := range [][]string{append(p, "--help"), append(p, "--no-such-flag")} {
			if _, ok := invokedVerb(args); !ok {
				t.Fatalf("%q: not built alone", args)
			}
			f, got := testFactory()
			Run(ctx, f, args)
			alone := got()
			if want := viaFull(args); alone != want || len(alone) < 20 {
				t.Errorf("%q built alone prints\n%s\nthe whole tree prints\n%s", args, alone, want)
			}
		}
	}
	f, got := testFactory()
	Run(ctx, f, []string{"--help"})
	help := got()
	for _, c := range root.Commands() {
		if !c.Hidden && !strings.Contains(help, "\n  "+c.Name()+" ") {
			t.Errorf("keyward --help does not list %s:\n%s", c.Name(), help)
		}
	}
	for _, v := range verbs {
		if len(v.names) == 0 {
			t.Errorf("a verb registered without its name is built for every command")
		}
	}
	f, got = testFactory()
	Run(ctx, f, []string{"completion", "bash"})
	if s := got(); !strings.Contains(s, "keyward") || len(s) < 1000 {
		t.Errorf("completion bash: %q", s)
	}
	f, got = testFactory()
	if code := Run(ctx, f, []string{"--version"}); code != 0 || !strings.HasPrefix(got(), "keyward version ") {
		t.Errorf("--version: exit %d, %q", code, got())
	}
}
