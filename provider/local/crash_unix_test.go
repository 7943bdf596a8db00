//go:build unix

package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// crashChild writes NEW to KEY and SIGKILLs itself at the step named by
// KEYWARD_LOCAL_TEST_STEP: no deferred cleanup, no unlock, like a kill -9
// or an OOM kill.
func crashChild() int {
	at := os.Getenv(childStep)
	crashHook = func(s string) {
		if s == at {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // wait for the signal
		}
	}
	d, err := NewDriver(os.Getenv(childPath), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := d.(*localDriver).Put(context.Background(), "KEY", []byte("new-value"), nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return childCrashed
}

// writeTestIdentity writes a fresh identity file and returns its path and
// the loaded identity.
func writeTestIdentity(t *testing.T, dir string) (string, *Identity) {
	t.Helper()
	i, err := GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "identity.txt")
	if err := WriteIdentityFile(p, i); err != nil {
		t.Fatal(err)
	}
	id, err := LoadIdentityFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return p, id
}

func childCmd(t *testing.T, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

func readCurrent(t *testing.T, path string, id *Identity, key string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := decodeAny(path, data, id)
	if err != nil {
		t.Fatalf("the store does not decrypt after a crash: %v", err)
	}
	v := p.current(key)
	if v == nil {
		t.Fatalf("%s is missing after a crash", key)
	}
	return string(v.Value)
}

// writeV1Store writes a v1 store file at path, to id, holding version 1 of
// each key in secrets.
func writeV1Store(t *testing.T, path string, id *Identity, secrets map[string]string) {
	t.Helper()
	p := newPayload(id.Recipients)
	for k, v := range secrets {
		p.Secrets[k] = &secretEntry{Versions: []versionEntry{{ID: "1", Value: []byte(v)}}}
	}
	data, err := encode(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestCrashDuringWrite kills a writer process at every step of a write and
// checks that the file then decrypts to exactly the old or the new
// content: old before the rename, new from the rename on. It starts from a
// v2 file, and from a v1 file (the write that converts it).
func TestCrashDuringWrite(t *testing.T) {
	ctx := context.Background()
	renamedAt := slices.Index(writeSteps, "renamed")
	for _, format := range []string{"v2", "v1"} {
		for i, st := range writeSteps {
			t.Run(format+"/"+st, func(t *testing.T) {
				dir := t.TempDir()
				idPath, id := writeTestIdentity(t, dir)
				path := filepath.Join(dir, "keyward.age")
				d, _ := NewDriver(path, &Options{Identity: id})
				if format == "v1" {
					writeV1Store(t, path, id, map[string]string{"KEY": "old-value", "OTHER": "other-value"})
				} else {
					if _, err := d.(*localDriver).Put(ctx, "KEY", []byte("old-value"), nil); err != nil {
						t.Fatal(err)
					}
					if _, err := d.(*localDriver).Put(ctx, "OTHER", []byte("other-value"), nil); err != nil {
						t.Fatal(err)
					}
				}
				cmd := childCmd(t, childEnv+"=crash", childStep+"="+st, childPath+"="+path, EnvIdentityFile+"="+idPath, EnvIdentity+"=")
				out, err := cmd.CombinedOutput()
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
					t.Fatalf("the child was not killed at step %s: %v\n%s", st, err, out)
				}
				want := "old-value"
				if i >= renamedAt {
					want = "new-value"
				}
				if got := readCurrent(t, path, id, "KEY"); got != want {
					t.Fatalf("after a crash at %s the current value is %d bytes, want the %s value", st, len(got), strings.TrimSuffix(want, "-value"))
				}
				if got := readCurrent(t, path, id, "OTHER"); got != "other-value" {
					t.Fatalf("after a crash at %s another key changed", st)
				}
				// The dead writer's lock is released and its temp file is
				// cleaned up by the next writer.
				if _, err := d.(*localDriver).Put(ctx, "KEY", []byte("after-value"), nil); err != nil {
					t.Fatalf("write after a crash at %s: %v", st, err)
				}
				if got := readCurrent(t, path, id, "KEY"); got != "after-value" {
					t.Fatalf("write after a crash at %s did not land", st)
				}
				temps, _ := filepath.Glob(tempPrefix(path) + "*")
				if len(temps) != 0 {
					t.Fatalf("temporary files left after a crash at %s and a later write: %d", st, len(temps))
				}
			})
		}
	}
}

// TestMultiProcessWriters runs 4 processes × 25 writes of one key: every
// write must become a version (no lost update). It starts from no file
// (the first writer creates a v2 store) and from a v1 file (the first
// writer converts it while the others wait).
func TestMultiProcessWriters(t *testing.T) {
	for _, start := range []string{"new", "v1"} {
		t.Run(start, func(t *testing.T) { multiProcessWriters(t, start) })
	}
}

func multiProcessWriters(t *testing.T, start string) {
	const procs, writes = 4, 25
	dir := t.TempDir()
	idPath, id := writeTestIdentity(t, dir)
	path := filepath.Join(dir, "keyward.age")
	if start == "v1" {
		writeV1Store(t, path, id, map[string]string{"OTHER": "other-value"})
	}
	var cmds []*exec.Cmd
	var outs []*strings.Builder
	for p := range procs {
		cmd := childCmd(t, childEnv+"=writer", childPath+"="+path, childName+"="+fmt.Sprintf("proc%d", p),
			childWrites+"="+fmt.Sprint(writes), EnvIdentityFile+"="+idPath, EnvIdentity+"=")
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		outs = append(outs, &out)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("writer %d: %v\n%s", i, err, outs[i])
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pl, err := decodeAny(path, data, id)
	if err != nil {
		t.Fatal(err)
	}
	if start == "v1" && (pl.Secrets["OTHER"] == nil || string(pl.Secrets["OTHER"].Versions[0].Value) != "other-value") {
		t.Fatal("the converted store lost the v1 file's secret")
	}
	vs := pl.Secrets["COUNTER"].Versions
	if len(vs) != procs*writes {
		t.Fatalf("%d processes × %d writes left %d versions: an update was lost", procs, writes, len(vs))
	}
	seen := map[string]bool{}
	for i, v := range vs {
		if v.ID != fmt.Sprint(i+1) {
			t.Fatalf("version %d has id %q", i+1, v.ID)
		}
		if i > 0 && v.Created.Before(vs[i-1].Created) {
			t.Fatalf("version %d was created before version %d", i+1, i)
		}
		seen[string(v.Value)] = true
	}
	for p := range procs {
		for w := range writes {
			if !seen[fmt.Sprintf("proc%d-%d", p, w)] {
				t.Fatalf("write %d of process %d is missing", w, p)
			}
		}
	}
}

// mergeChild runs MergeFiles on the three NUL-separated paths and SIGKILLs
// itself at the step named by KEYWARD_LOCAL_TEST_STEP.
func mergeChild() int {
	at := os.Getenv(childStep)
	crashHook = func(s string) {
		if s == at {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
	paths := strings.Split(os.Getenv(childPath), string(os.PathListSeparator))
	id, err := LoadIdentity(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := MergeFiles(paths[0], paths[1], paths[2], id, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return childCrashed
}
