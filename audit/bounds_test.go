package audit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRecordSizeBound: a record whose fields are megabytes long is cut to
// fit MaxRecordBytes, each cut field ending in TruncatedMarker, and the log
// still verifies; short fields are untouched.
func TestRecordSizeBound(t *testing.T) {
	p := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(Options{Path: p, NoFsync: true, Actor: &Actor{User: "alice", CI: &CI{System: "gh", Repo: strings.Repeat("r", 1<<20)}}})
	if err != nil {
		t.Fatal(err)
	}
	keys := strings.Repeat("KEY_NAME,", 2<<20) // a key list of 18 MiB
	ctrl := strings.Repeat("\x01", 1<<20)      // JSON-escapes to 6 MiB
	if err := l.Append(context.Background(), &Record{Action: "export", Key: "K", Detail: keys, Env: ctrl}); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(context.Background(), &Record{Action: "get", Key: "after"}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range bytes.Split(bytes.TrimSuffix(b, []byte{'\n'}), []byte{'\n'}) {
		if len(line) > MaxRecordBytes {
			t.Fatalf("line %d is %d bytes; the bound is %d", i+1, len(line), MaxRecordBytes)
		}
	}
	recs, err := Search(bytes.NewReader(b), Filter{}, 0)
	if err != nil || len(recs) != 2 {
		t.Fatalf("Search: %d records, %v", len(recs), err)
	}
	r := recs[0]
	if r.Key != "K" || r.Action != "export" || r.Actor.User != "alice" {
		t.Fatalf("short fields changed: %+v", r.Actor)
	}
	for name, f := range map[string]string{"detail": r.Detail, "env": r.Env, "ci.repo": r.Actor.CI.Repo} {
		if !strings.HasSuffix(f, TruncatedMarker) {
			t.Errorf("%s was not cut with the marker (%d bytes)", name, len(f))
		}
	}
	if l.actor.CI.Repo != strings.Repeat("r", 1<<20) {
		t.Fatal("bounding a record edited the logger's own actor")
	}
	if _, err := Verify(bytes.NewReader(b), nil); err != nil {
		t.Fatalf("Verify after a cut record: %v", err)
	}
}

// TestOverlongLine: a line over the 1 MiB read bound (written by someone
// else) is stepped over by Search with a warning naming its line, and
// reported by Verify with its line number; appending after it still works.
func TestOverlongLine(t *testing.T) {
	p, b := newLog(t, 2)
	long := append(bytes.Repeat([]byte("x"), 3<<20), '\n')
	b = append(b, long...)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Open(Options{Path: p, NoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Append(context.Background(), &Record{Action: "get", Key: "after"}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var warned []int
	recs, err := SearchWarn(f, Filter{}, 0, func(line int, reason string) {
		warned = append(warned, line)
		if !strings.Contains(reason, "longer than 1 MiB") {
			t.Errorf("reason %q", reason)
		}
	})
	if err != nil || len(recs) != 3 || recs[2].Key != "after" {
		t.Fatalf("Search: %d records, %v; want the 2 before and the 1 after the long line", len(recs), err)
	}
	if len(warned) != 1 || warned[0] != 3 {
		t.Fatalf("warnings for lines %v; want [3]", warned)
	}
	f.Seek(0, 0)
	_, err = Verify(f, nil)
	var pr *Problem
	if !errors.As(err, &pr) || pr.Line != 3 || !strings.Contains(pr.Reason, "longer than 1 MiB") {
		t.Fatalf("Verify: %v; want a problem at line 3", err)
	}
}
