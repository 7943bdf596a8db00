package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/cli"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/provider/local"
)

// TestCanary plants a random value in a store, drives every verb over it —
// with and without --json, and in failure modes — and fails if the value
// (or its hex or base64 form) appears anywhere except where it must: get's
// stdout and the output of run's child. It also searches every file the
// commands left behind (the audit log, the store) for it.
//
// Failure messages never print the canary: they name the verb, the stream
// and the offset, and show the output with the canary masked.
func TestCanary(t *testing.T) {
	for _, store := range []string{"local", "mem"} {
		t.Run(store, func(t *testing.T) { testCanary(t, store) })
	}
}

type invocation struct {
	args  []string
	stdin string
	// allowStdout: the canary may appear on stdout (get, run's child).
	allowStdout bool
	// code is the expected exit code.
	code int
}

func testCanary(t *testing.T, kind string) {
	dir := t.TempDir()
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	canary := "kwcanary-" + hex.EncodeToString(raw)
	forms := map[string]string{
		"clear":     canary,
		"hex":       hex.EncodeToString([]byte(canary)),
		"base64":    base64.StdEncoding.EncodeToString([]byte(canary)),
		"base64url": base64.RawURLEncoding.EncodeToString([]byte(canary)),
	}

	canaryFile := filepath.Join(dir, "input", "canary.txt")
	if err := os.MkdirAll(filepath.Dir(canaryFile), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(canaryFile, []byte(canary+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	scanDir := filepath.Join(dir, "input", "tree")
	if err := os.MkdirAll(scanDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(scanDir, "config.txt"), []byte("token = \""+canary+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	env := map[string]string{
		"HOME":               filepath.Join(dir, "home"),
		"XDG_CONFIG_HOME":    filepath.Join(dir, "config"),
		"XDG_STATE_HOME":     filepath.Join(dir, "state"),
		"XDG_CACHE_HOME":     filepath.Join(dir, "cache"),
		"XDG_DATA_HOME":      filepath.Join(dir, "data"),
		"KEYWARD_AUDIT_FILE": filepath.Join(dir, "state", "audit.log"),
		"PATH":               os.Getenv("PATH"),
	}
	switch kind {
	case "local":
		id, err := local.GenerateIdentity()
		if err != nil {
			t.Fatal(err)
		}
		idFile := filepath.Join(dir, "config", "keyward", "identity.txt")
		if err := os.MkdirAll(filepath.Dir(idFile), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		env["KEYWARD_AGE_IDENTITY_FILE"] = idFile
		env["KEYWARD_STORE"] = "local://" + filepath.Join(dir, "store", "keyward.age")
		if err := os.MkdirAll(filepath.Join(dir, "store"), 0o700); err != nil {
			t.Fatal(err)
		}
	case "mem":
		env["KEYWARD_STORE"] = "mem://canary-" + hex.EncodeToString(raw[:4])
	}
	// Providers that read the process environment directly see the same.
	for k, v := range env {
		t.Setenv(k, v)
	}
	environ := func() []string {
		var out []string
		for k, v := range env {
			out = append(out, k+"="+v)
		}
		sort.Strings(out)
		return out
	}

	c := canary
	steps := []invocation{
		// set: stdin, --json, --from-file, --generate, and failures with the
		// canary on stdin.
		{args: []string{"set", "CANARY"}, stdin: c + "\n"},
		{args: []string{"set", "CANARY", "--json"}, stdin: c},
		{args: []string{"set", "FROM_FILE", "--from-file", canaryFile, "--json"}},
		{args: []string{"set", "GENERATED", "--generate", "hex:16", "--json"}},
		{args: []string{"set", "CANARY", "--if-version", "1"}, stdin: c, code: cmdutil.ExitConflict},
		{args: []string{"set", "CANARY", "--if-version", "1", "--json"}, stdin: c, code: cmdutil.ExitConflict},
		{args: []string{"set", "CANARY", "--generate", "nosuch"}, stdin: c, code: cmdutil.ExitUsage},
		{args: []string{"set", "CANARY", "--from-file", filepath.Join(dir, "missing")}, stdin: c, code: cmdutil.ExitNotFound},
		{args: []string{"set", "CANARY", c}, stdin: c, code: cmdutil.ExitUsage},
		{args: []string{"set", "EMPTY"}, stdin: "", code: cmdutil.ExitUsage},

		// get: the value on stdout is its job.
		{args: []string{"get", "CANARY"}, allowStdout: true},
		{args: []string{"get", "CANARY", "--version", "1"}, allowStdout: true},
		{args: []string{"get", "CANARY", "--json", "--reveal"}, allowStdout: true},
		{args: []string{"get", "CANARY", "--json"}},
		{args: []string{"get", "FROM_FILE", "--json"}},
		{args: []string{"get", "CANARY", "--version", "99"}, code: cmdutil.ExitNotFound},
		{args: []string{"get", "CANARY", "--version", "99", "--json"}, code: cmdutil.ExitNotFound},
		{args: []string{"get", "CANARY", "--reveal"}, code: cmdutil.ExitUsage},

		// list and history: never values.
		{args: []string{"list"}},
		{args: []string{"list", "--json"}},
		{args: []string{"history", "CANARY"}},
		{args: []string{"history", "CANARY", "--json"}},
		{args: []string{"history", "MISSING", "--json"}, code: cmdutil.ExitNotFound},

		// run: the child's output may hold it; keyward's own may not.
		{args: []string{"run", "--", "sh", "-c", `printf '%s' "$CANARY"`}, allowStdout: true},
		{args: []string{"run", "--only", "CANARY", "--", "env"}, allowStdout: true},
		{args: []string{"run", "--", "sh", "-c", `echo "length ${#CANARY}"`}},
		{args: []string{"run", "--", "sh", "-c", "exit 3"}, code: 3},
		{args: []string{"run", "--", "sh", "-c", "kill -TERM $$"}, code: 128 + 15},
		{args: []string{"run", "--only", "CANARY,MISSING", "--", "env"}, code: cmdutil.ExitNotFound},
		{args: []string{"run", "--", "keyward-no-such-command"}, code: 127},
		{args: []string{"run"}, code: cmdutil.ExitUsage},

		// generate never touches the store.
		{args: []string{"generate"}},
		{args: []string{"generate", "--list", "--json"}},

		// delete refuses without --yes off a terminal, then deletes.
		{args: []string{"delete", "GENERATED"}, code: cmdutil.ExitUsage},
		{args: []string{"delete", "GENERATED", "--yes"}},
		{args: []string{"delete", "GENERATED", "--yes"}, code: cmdutil.ExitNotFound},
	}

	// Other verbs, when they are linked in: their own outputs must be clean
	// too. The exit code is not theirs to pin here (-1: any).
	root := cli.NewRoot(cmdutil.NewWith(mustIO(), func(string) string { return "" }, environ, time.Now))
	has := func(path ...string) bool {
		cmd, _, err := root.Find(path)
		return err == nil && cmd != root && cmd.Name() == path[len(path)-1]
	}
	if has("audit", "tail") {
		steps = append(steps,
			invocation{args: []string{"audit", "tail", "--json"}, code: -1},
			invocation{args: []string{"audit", "search", "--key", "CANARY"}, code: -1},
			invocation{args: []string{"audit", "verify"}, code: -1},
			invocation{args: []string{"audit", "hash"}, stdin: c, code: -1},
		)
	}
	if has("sync", "kubernetes") {
		// No cluster here: the failure must not carry the value either.
		steps = append(steps,
			invocation{args: []string{"sync", "kubernetes", "--secret", "canary-secrets", "--kubeconfig", filepath.Join(dir, "no-kubeconfig"), "--json"}, code: -1},
		)
	}
	steps = append(steps,
		invocation{args: []string{"run", "--numbered-ring", "--", "sh", "-c", `echo "length ${#CANARY_0}"`}},
		invocation{args: []string{"run", "--watch", "--", "sh", "-c", "exit 4"}, code: 4},
		invocation{args: []string{"export", "--format", "json", "--numbered-ring"}, allowStdout: true},
	)
	if has("scan") {
		steps = append(steps,
			invocation{args: []string{"scan", "--no-ignore", scanDir}, code: -1},
			invocation{args: []string{"scan", "--no-ignore", "--json", scanDir}, code: -1},
		)
	}
	if has("policy") {
		// --check reads the canary (and another environment, which the same
		// process can reach: exit 1) and must not show it.
		cfg := filepath.Join(dir, "input", "policy.yaml")
		yaml := "version: 1\nenvironments:\n  self:\n    store: " + env["KEYWARD_STORE"] +
			"\n  other:\n    store: mem://canary-other\nsecrets:\n  CANARY:\n    description: the canary\n"
		if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		steps = append(steps,
			invocation{args: []string{"policy", "--keys", "CANARY"}, code: -1},
			invocation{args: []string{"policy", "--all", "--json"}, code: -1},
			invocation{args: []string{"policy", "--config", cfg, "--env", "self", "--check"}, code: cmdutil.ExitError},
			invocation{args: []string{"policy", "--config", cfg, "--env", "self", "--check", "--json"}, code: cmdutil.ExitError},
		)
	}
	// Every command's help text, with the store full.
	var walk func(*cobra.Command)
	walk = func(cmd *cobra.Command) {
		if cmd != root {
			steps = append(steps, invocation{args: append(strings.Fields(strings.TrimPrefix(cmd.CommandPath(), root.Name()+" ")), "--help")})
		}
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	walk(root)
	// Finally, delete the canary and confirm it is gone.
	steps = append(steps,
		invocation{args: []string{"delete", "CANARY", "--yes"}},
		invocation{args: []string{"get", "CANARY"}, code: cmdutil.ExitNotFound},
	)

	covered := map[string]bool{}
	for _, st := range steps {
		if st.args[len(st.args)-1] != "--help" {
			covered[st.args[0]] = true
		}
		ios, in, out, errOut := iostreams.Test()
		in.WriteString(st.stdin)
		f := cmdutil.NewWith(ios, func(k string) string { return env[k] }, environ, time.Now)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		code := cli.Run(ctx, f, st.args)
		cancel()
		name := strings.Join(mask(st.args, forms), " ")
		if st.code >= 0 && code != st.code {
			t.Errorf("keyward %s: exit %d, want %d\nstderr (canary masked):\n%s", name, code, st.code, maskString(errOut.String(), forms))
		}
		check := func(stream string, b []byte) {
			for form, v := range forms {
				if i := bytes.Index(b, []byte(v)); i >= 0 {
					t.Errorf("keyward %s: the canary (%s) appears in %s at byte %d; output (canary masked):\n%s",
						name, form, stream, i, maskString(string(b), forms))
				}
			}
		}
		if !st.allowStdout {
			check("stdout", out.Bytes())
		}
		check("stderr", errOut.Bytes())
	}
	for _, verb := range []string{"set", "get", "list", "history", "delete", "run", "generate"} {
		if !covered[verb] {
			t.Errorf("verb %s was not exercised", verb)
		}
	}
	for _, cmd := range root.Commands() {
		if !covered[cmd.Name()] {
			t.Logf("verb %s is only covered by its --help", cmd.Name())
		}
	}

	// Nothing the commands wrote to disk holds the value in clear or
	// encoded (the store is encrypted; mem writes nothing).
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(p, filepath.Join(dir, "input")) {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for form, v := range forms {
			if i := bytes.Index(b, []byte(v)); i >= 0 {
				rel, _ := filepath.Rel(dir, p)
				t.Errorf("the canary (%s) appears in file %s at byte %d", form, rel, i)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if kind == "local" {
		if _, err := os.Stat(filepath.Join(dir, "store", "keyward.age")); err != nil {
			t.Fatalf("the local store was not written: %v", err)
		}
	}
}

func mustIO() *iostreams.IOStreams {
	ios, _, _, _ := iostreams.Test()
	return ios
}

func mask(args []string, forms map[string]string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = maskString(a, forms)
	}
	return out
}

// maskString replaces every form of the canary, so a failure message can
// show the output around a leak without repeating the leak.
func maskString(s string, forms map[string]string) string {
	for form, v := range forms {
		s = strings.ReplaceAll(s, v, fmt.Sprintf("[CANARY %s]", form))
	}
	return s
}
