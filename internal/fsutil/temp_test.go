package fsutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// deadPid returns the pid of a process that has exited.
func deadPid(t *testing.T) int {
	t.Helper()
	c := exec.Command(os.Args[0], "-test.run=^$") // this test binary, running no test
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	return c.Process.Pid
}

// TestSecurityPlaintextTempFilesSwept: a temporary file holding plaintext
// that a kill -9 left behind is removed by the next sweep of its directory;
// a temporary file of a running keyward, and anything a repository could
// have committed under the same prefix, are left alone.
func TestSecurityPlaintextTempFilesSwept(t *testing.T) {
	const canary = "KWCANARY-left-behind-secret"
	now := time.Now()
	dead := deadPid(t)
	ppid := os.Getppid() // running
	tests := []struct {
		name    string
		file    string
		mode    os.FileMode
		age     time.Duration
		symlink bool
		removed bool
	}{
		{"owner killed", TempPrefix + strconv.Itoa(dead) + "-.env-123", 0o600, 0, false, true},
		{"owner killed, docker file mode", TempPrefix + strconv.Itoa(dead) + "-db_password-abc", 0o400, 0, false, true},
		{"owner running, fresh", TempPrefix + strconv.Itoa(ppid) + "-.env-456", 0o600, 0, false, false},
		{"owner running but older than TempMaxAge (a reused pid)", TempPrefix + strconv.Itoa(ppid) + "-.env-789", 0o600, TempMaxAge + time.Minute, false, true},
		{"committed by a repository (0644)", TempPrefix + strconv.Itoa(dead) + "-x-1", 0o644, 0, false, false},
		{"no pid in the name", TempPrefix + "notes.txt", 0o600, TempMaxAge * 2, false, false},
		{"a symlink under the prefix", TempPrefix + strconv.Itoa(dead) + "-link-1", 0o600, 0, true, false},
		{"an unrelated file", ".env", 0o600, TempMaxAge * 2, false, false},
	}
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "target")
	if err := os.WriteFile(target, []byte("kept"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		p := filepath.Join(dir, tt.file)
		if tt.symlink {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte("API_TOKEN="+canary+"\n"), tt.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, tt.mode); err != nil {
			t.Fatal(err)
		}
		if tt.age > 0 {
			old := now.Add(-tt.age)
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	removed := map[string]bool{}
	for _, p := range SweepTemps(dir, now) {
		removed[filepath.Base(p)] = true
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := os.Lstat(filepath.Join(dir, tt.file))
			exists := err == nil
			if exists == tt.removed || removed[tt.file] != tt.removed {
				t.Errorf("%s: still there %v, reported removed %v; want removed %v", tt.file, exists, removed[tt.file], tt.removed)
			}
		})
	}
	if b, err := os.ReadFile(target); err != nil || string(b) != "kept" {
		t.Error("the sweep followed a symlink")
	}
}

func TestWriteFileTempNamesAreSwept(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, ".env")
	var name string
	opts := &WriteOptions{Step: func(step string) {
		if step != "temp-created" {
			return
		}
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if IsTemp(e.Name()) {
				name = e.Name()
				st, _ := e.Info()
				if st.Mode().Perm() != 0o600 {
					t.Errorf("temporary file mode %v, want 0600", st.Mode().Perm())
				}
			}
		}
		// Our own, in progress: kept.
		if got := SweepTemps(dir, time.Now()); len(got) != 0 {
			t.Errorf("swept a file this process is writing: %v", got)
		}
	}}
	if err := WriteFile(target, []byte("A=1\n"), opts); err != nil {
		t.Fatal(err)
	}
	if !IsTemp(name) || tempOwner(name) != os.Getpid() {
		t.Fatalf("WriteFile's temporary file was %q: want %s<pid>-…", name, TempPrefix)
	}
}
