package scan

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func gitRepo(t *testing.T) (dir string, git func(args ...string) string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is required: %v", err)
	}
	dir = t.TempDir()
	git = func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Ann Author", "GIT_AUTHOR_EMAIL=ann@example.test",
			"GIT_COMMITTER_NAME=Ann Author", "GIT_COMMITTER_EMAIL=ann@example.test", "GIT_CONFIG_GLOBAL=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "main")
	return dir, git
}

func write(t *testing.T, dir, name, text string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestHistoryFindsDeletedSecret(t *testing.T) {
	dir, git := gitRepo(t)
	v := fake("kw-history-", 24, "q7")
	stripe := "sk_live_" + mixed(24)
	write(t, dir, "README", "hello\n")
	git("add", ".")
	git("commit", "-q", "-m", "one")
	write(t, dir, "config/app.env", "X=1\nDB_PASSWORD="+v+"\nSTRIPE="+stripe+"\n")
	git("add", ".")
	git("commit", "-q", "-m", "leak")
	leak := git("rev-parse", "HEAD")
	git("rm", "-q", "config/app.env")
	git("commit", "-q", "-m", "remove")
	write(t, dir, "a.txt", "a\n")
	git("add", ".")
	git("commit", "-q", "-m", "two")
	write(t, dir, "b.txt", "b\n")
	git("add", ".")
	git("commit", "-q", "-m", "three")

	s := newScanner(t, managed("DB_PASSWORD", "prod", v))
	tree, err := s.ScanTree(context.Background(), []string{dir}, SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(tree.Findings) != 0 {
		t.Fatalf("work tree has %d findings, want 0 (the secret was deleted)", len(tree.Findings))
	}
	rep, err := s.ScanHistory(context.Background(), dir, SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var gotManaged, gotRule bool
	for _, f := range rep.Findings {
		if f.Commit != leak || f.Path != "config/app.env" || f.Author != "Ann Author" || f.Email != "ann@example.test" {
			t.Errorf("finding %s at %s commit %s, want config/app.env in %s by Ann", f.Name(), f.Path, short(f.Commit), short(leak))
		}
		switch {
		case f.Kind == KindManaged && f.Key == "DB_PASSWORD" && f.Line == 2 && f.Column == 13:
			gotManaged = true
		case f.RuleID == "stripe-live-key" && f.Line == 3:
			gotRule = true
		}
	}
	if !gotManaged || !gotRule {
		t.Fatalf("history findings %d: managed=%v stripe=%v", len(rep.Findings), gotManaged, gotRule)
	}
}

// Each distinct blob is scanned once, however many commits hold it.
func TestHistoryScansEachBlobOnce(t *testing.T) {
	dir, git := gitRepo(t)
	write(t, dir, "same.txt", "unchanged\n")
	for i := 0; i < 5; i++ {
		write(t, dir, "n.txt", strings.Repeat("x", i+1))
		git("add", ".")
		git("commit", "-q", "-m", "c")
	}
	s := newScanner(t)
	rep, err := s.ScanHistory(context.Background(), dir, SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Files != 6 { // same.txt once + five versions of n.txt
		t.Fatalf("scanned %d blobs, want 6", rep.Files)
	}
}

func TestStaged(t *testing.T) {
	dir, git := gitRepo(t)
	v := fake("kw-staged-", 24, "z9")
	write(t, dir, "ok.txt", "fine\n")
	git("add", ".")
	git("commit", "-q", "-m", "one")
	write(t, dir, "leak.txt", "k="+v+"\n")
	write(t, dir, "unstaged.txt", "k="+v+"\n")
	git("add", "leak.txt")
	s := newScanner(t, managed("K", "", v))
	rep, err := s.ScanStaged(context.Background(), dir, SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Path != "leak.txt" {
		t.Fatalf("staged findings %d, want 1 in leak.txt", len(rep.Findings))
	}
	// The staged copy is what counts, not the work tree's.
	write(t, dir, "leak.txt", "clean now\n")
	if rep, _ = s.ScanStaged(context.Background(), dir, SourceOptions{}); len(rep.Findings) != 1 {
		t.Fatalf("staged scan read the work tree")
	}
	// Works before the first commit too.
	dir2, git2 := gitRepo(t)
	write(t, dir2, "a.txt", v)
	git2("add", ".")
	if rep, err = s.ScanStaged(context.Background(), dir2, SourceOptions{}); err != nil || len(rep.Findings) != 1 {
		t.Fatalf("staged in a repo without commits: %v, %d findings", err, len(rep.Findings))
	}
}

func TestTreeIgnoreAndSymlinks(t *testing.T) {
	dir, git := gitRepo(t)
	v := fake("kw-tree-", 24, "m3")
	outside := t.TempDir()
	write(t, outside, "secret.txt", v)
	write(t, dir, ".gitignore", "ignored.txt\n")
	write(t, dir, "ignored.txt", v)
	write(t, dir, "tracked.txt", "x "+v)
	write(t, dir, "untracked.txt", v+"\n")
	if err := os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(dir, "link.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "linkdir")); err != nil {
		t.Fatal(err)
	}
	git("add", "tracked.txt")
	s := newScanner(t, managed("K", "", v))
	paths := func(o SourceOptions) []string {
		rep, err := s.ScanTree(context.Background(), []string{dir}, o)
		if err != nil {
			t.Fatal(err)
		}
		var ps []string
		for _, f := range rep.Findings {
			rel, _ := filepath.Rel(dir, f.Path)
			ps = append(ps, rel)
		}
		return ps
	}
	if got := strings.Join(paths(SourceOptions{}), ","); got != "tracked.txt,untracked.txt" {
		t.Fatalf("default scan found in %q", got)
	}
	if got := strings.Join(paths(SourceOptions{NoIgnore: true}), ","); got != "ignored.txt,tracked.txt,untracked.txt" {
		t.Fatalf("--no-ignore scan found in %q", got)
	}
	// A root that is itself a symlink is followed (the user named it);
	// links below it still are not.
	rootLink := filepath.Join(t.TempDir(), "rootlink")
	if err := os.Symlink(dir, rootLink); err != nil {
		t.Fatal(err)
	}
	rep, err := s.ScanTree(context.Background(), []string{rootLink}, SourceOptions{NoIgnore: true})
	if err != nil || len(rep.Findings) != 3 || !strings.HasPrefix(rep.Findings[0].Path, rootLink) {
		t.Fatalf("symlinked root: %v, %d findings", err, len(rep.Findings))
	}
}

func TestBadInput(t *testing.T) {
	s := newScanner(t)
	ctx := context.Background()
	if _, err := s.ScanTree(ctx, []string{filepath.Join(t.TempDir(), "nope")}, SourceOptions{}); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("missing path: %v", err)
	}
	if _, err := s.ScanHistory(ctx, t.TempDir(), SourceOptions{}); err == nil || !strings.Contains(err.Error(), "git repository") {
		t.Fatalf("not a repo: %v", err)
	}
	// No commits: a warning, no error.
	dir, git := gitRepo(t)
	rep, err := s.ScanHistory(ctx, dir, SourceOptions{})
	if err != nil || len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "no commits") {
		t.Fatalf("empty repo: %v %q", err, rep.Warnings)
	}
	// Unreadable file: reported, the scan continues.
	write(t, dir, "a.txt", "a")
	write(t, dir, "b.txt", "b")
	if os.Getuid() != 0 {
		os.Chmod(filepath.Join(dir, "a.txt"), 0)
		rep, err = s.ScanTree(ctx, []string{dir}, SourceOptions{NoIgnore: true})
		if err != nil || len(rep.Warnings) != 1 || rep.Files != 1 {
			t.Fatalf("unreadable file: %v, %q, %d files", err, rep.Warnings, rep.Files)
		}
		os.Chmod(filepath.Join(dir, "a.txt"), 0o644)
	}
	// Shallow clone: scanned with a warning.
	git("add", ".")
	git("commit", "-q", "-m", "1")
	write(t, dir, "c.txt", "c")
	git("add", ".")
	git("commit", "-q", "-m", "2")
	shallow := filepath.Join(t.TempDir(), "shallow")
	if out, err := exec.Command("git", "clone", "-q", "--depth=1", "file://"+dir, shallow).CombinedOutput(); err != nil {
		t.Fatalf("clone: %v %s", err, out)
	}
	rep, err = s.ScanHistory(ctx, shallow, SourceOptions{})
	if err != nil || len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "shallow") || rep.Files != 3 {
		t.Fatalf("shallow: %v %q files=%d", err, rep.Warnings, rep.Files)
	}
	// Corrupt object: remove a blob from the object store.
	blob := git("rev-parse", "HEAD:c.txt")
	os.Remove(filepath.Join(dir, ".git", "objects", blob[:2], blob[2:]))
	_, err = s.ScanHistory(ctx, dir, SourceOptions{})
	if err == nil {
		t.Fatalf("corrupt repository scanned without error")
	}
	if !strings.Contains(err.Error(), "keyward: failed to") {
		t.Fatalf("corrupt repository error: %v", err)
	}
}

// A commit that edits other lines of a file holding a secret does not
// introduce it again; one that adds another copy of it, or a new secret, or
// edits the secret's line, does.
func TestHistoryReportsOnlyWhatACommitIntroduced(t *testing.T) {
	dir, git := gitRepo(t)
	a := "sk_live_" + mixed(24)
	b := "sk_live_" + mixed(26)
	commit := func(text string) string {
		write(t, dir, "app.env", text)
		git("add", ".")
		git("commit", "-q", "-m", "c")
		return git("rev-parse", "HEAD")
	}
	c1 := commit("A=" + a + "\n")
	commit("X=1\nA=" + a + "\n")                                 // edit: nothing new
	c3 := commit("X=1\nA=" + a + "\nB=" + b + "\n")              // new secret b
	c4 := commit("X=2\nA=" + a + "\nB=" + b + "\nC=" + a + "\n") // a second copy of a
	c5 := commit("X=2\nA=" + a + " # edited\nB=" + b + "\nC=" + a + "\n")
	s := newScanner(t)
	rep, err := s.ScanHistory(context.Background(), dir, SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fpA, fpB := s.Fingerprint([]byte(a)), s.Fingerprint([]byte(b))
	got := map[string]int{}
	for _, f := range rep.Findings {
		switch {
		case f.Fingerprint == fpA && f.Commit == c1:
			got["a@c1"]++
		case f.Fingerprint == fpB && f.Commit == c3:
			got["b@c3"]++
		case f.Fingerprint == fpA && f.Commit == c4 && f.Line == 4:
			got["a@c4"]++
		case f.Fingerprint == fpA && f.Commit == c5 && f.Line == 2:
			got["a@c5"]++
		default:
			t.Errorf("unexpected finding %s at line %d of commit %s", f.Name(), f.Line, short(f.Commit))
		}
	}
	if got["a@c1"] != 1 || got["b@c3"] != 1 || got["a@c4"] != 1 || got["a@c5"] != 1 {
		t.Fatalf("findings per introduction %v, want a@c1:1 b@c3:1 a@c4:1 (the new copy) a@c5:1 (the edited line)", got)
	}
}
