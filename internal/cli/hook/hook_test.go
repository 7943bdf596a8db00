package hook

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdtest"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
)

func repo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", dir).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v %s", err, out)
	}
	return dir
}

func TestInstall(t *testing.T) {
	ctx := context.Background()
	dir := repo(t)
	ios, _, _, _ := iostreams.Test()
	o := &Options{IO: ios, Dir: dir, Git: "git"}
	if err := Install(ctx, o); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, ".git", "hooks", "pre-commit")
	b, err := os.ReadFile(p)
	if err != nil || string(b) != Script {
		t.Fatalf("hook not written: %v", err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm()&0o111 == 0 {
		t.Fatalf("hook is not executable: %v", fi.Mode())
	}
	if err := Install(ctx, o); err != nil {
		t.Fatalf("second install: %v", err)
	}
	// Foreign hook: refused (AlreadyExists → exit 6), kept; --force replaces.
	os.WriteFile(p, []byte("#!/bin/sh\necho mine\n"), 0o755)
	err = Install(ctx, o)
	if keyward.ErrorCode(err) != keyward.AlreadyExists {
		t.Fatalf("foreign hook: %v", err)
	}
	if b, _ := os.ReadFile(p); !strings.Contains(string(b), "mine") {
		t.Fatal("foreign hook was overwritten")
	}
	o.Force = true
	if err := Install(ctx, o); err != nil {
		t.Fatal(err)
	}
	if err := Uninstall(ctx, o); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatal("uninstall left the hook")
	}
}

func TestHooksPath(t *testing.T) {
	dir := repo(t)
	exec.Command("git", "-C", dir, "config", "core.hooksPath", "hooks-here").Run()
	p, err := HookPath(context.Background(), "git", dir)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.EvalSymlinks(filepath.Join(dir, "hooks-here"))
	got, _ := filepath.EvalSymlinks(filepath.Dir(p))
	if got != want && filepath.Dir(p) != filepath.Join(dir, "hooks-here") {
		t.Fatalf("hook path %s, want under %s", p, want)
	}
}

func TestNotARepo(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	if err := Install(context.Background(), &Options{IO: ios, Dir: t.TempDir(), Git: "git"}); err == nil {
		t.Fatal("install outside a repository succeeded")
	}
}

// TestNewCmd: each subcommand is its own cobra command with its own help,
// and takes the repository as its optional argument.
func TestNewCmd(t *testing.T) {
	for _, tc := range []struct {
		args    string
		ran     string
		dir     string
		force   bool
		wantErr bool
	}{
		{"install", "install", ".", false, false},
		{"install ../repo --force", "install", "../repo", true, false},
		{"uninstall", "uninstall", ".", false, false},
		{"uninstall a b", "", "", false, true},
		{"uninstall --force", "", "", false, true},
	} {
		t.Run(tc.args, func(t *testing.T) {
			got, ran, err := cmdtest.Parse(NewCmd, tc.args, false)
			if tc.wantErr {
				if err == nil {
					t.Fatal("want an error")
				}
				return
			}
			if err != nil || ran.Name() != tc.ran || got == nil || got.Dir != tc.dir || got.Force != tc.force {
				t.Fatalf("err=%v ran=%q opts=%+v", err, ran.Name(), got)
			}
		})
	}
	cmd := NewCmd(&cmdutil.Factory{}, nil)
	for _, c := range cmd.Commands() {
		if c.Short == "" || c.Long == "" || c.Example == "" {
			t.Errorf("hook %s: Short, Long and Example must all be set", c.Name())
		}
	}
}
