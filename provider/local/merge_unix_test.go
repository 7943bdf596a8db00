//go:build unix

package local

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward/driver"
)

// TestMergeDriverCrash kills the merge driver after merging, before and
// during its write of OURS: OURS is then the old file or the merged one,
// never a mix.
func TestMergeDriverCrash(t *testing.T) {
	id := newTestIdentity(t)
	clock := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	idPath := filepath.Join(dir, "id.txt")
	raw := id.Identities[0].(interface{ String() string }).String()
	os.WriteFile(idPath, []byte(raw+"\n"), 0o600)
	base := fork(t, writeEmpty(t, id), id, &clock)
	base.put(t, "K", "k1")
	a, b := fork(t, base.path, id, &clock), fork(t, base.path, id, &clock)
	a.put(t, "A", "a1")
	b.put(t, "B", "b1")
	for _, st := range []string{"merged", "temp-half-written", "temp-synced", "renamed"} {
		t.Run(st, func(t *testing.T) {
			d := t.TempDir()
			bp, op, tp := filepath.Join(d, "o"), filepath.Join(d, "a"), filepath.Join(d, "b")
			os.WriteFile(bp, base.bytes(t), 0o600)
			os.WriteFile(op, a.bytes(t), 0o600)
			os.WriteFile(tp, b.bytes(t), 0o600)
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"=merge", childStep+"="+st, childPath+"="+bp+string(os.PathListSeparator)+op+string(os.PathListSeparator)+tp, EnvIdentityFile+"="+idPath, EnvIdentity+"=")
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("the merge driver was not killed at %s: %v\n%s", st, err, out)
			}
			data, _ := os.ReadFile(op)
			got := mergedValues(t, data, id)
			_, hasB := got["B"]
			if st == "renamed" != hasB {
				t.Fatalf("after a kill at %s OURS holds B: %v", st, hasB)
			}
			if strings.Join(got["A"], "") != "1=a1" || strings.Join(got["K"], "") != "1=k1" {
				t.Fatalf("after a kill at %s OURS lost a version", st)
			}
		})
	}
}

// TestStoreFIFORefused (trust boundaries, rule 5): a FIFO committed or
// planted at the store path is refused at once, not read (which would
// block forever).
func TestStoreFIFORefused(t *testing.T) {
	id := newTestIdentity(t)
	path := filepath.Join(t.TempDir(), "keyward.age")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skip("no FIFOs here")
	}
	d, _ := NewDriver(path, &Options{Identity: id})
	done := make(chan error, 1)
	go func() { _, err := d.Get(context.Background(), "K", ""); done <- err }()
	select {
	case err := <-done:
		if errorCode(err) != driver.InvalidArgument || !strings.Contains(err.Error(), "a FIFO") {
			t.Fatalf("a FIFO store: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reading a FIFO store blocked")
	}
}
