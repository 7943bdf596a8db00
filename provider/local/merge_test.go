package local

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/driver"
)

// mergeFixture is a store file and a driver over a copy of it.
type branch struct {
	path string
	d    *localDriver
}

func fork(t *testing.T, from string, id *Identity, clock *time.Time) *branch {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "keyward.age")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	d, _ := NewDriver(p, &Options{Identity: id, KeepVersions: -1, Now: func() time.Time { *clock = clock.Add(time.Second); return *clock }})
	return &branch{path: p, d: d.(*localDriver)}
}

func (b *branch) put(t *testing.T, k, v string) {
	t.Helper()
	if _, err := b.d.Put(context.Background(), k, []byte(v), nil); err != nil {
		t.Fatal(err)
	}
}

func (b *branch) bytes(t *testing.T) []byte {
	data, err := os.ReadFile(b.path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func mergedValues(t *testing.T, out []byte, id *Identity) map[string][]string {
	t.Helper()
	p, err := decodeAny("merged", out, id)
	if err != nil {
		t.Fatalf("the merged file does not read: %v", err)
	}
	m := map[string][]string{}
	for k, e := range p.Secrets {
		for _, v := range e.Versions {
			m[k] = append(m[k], v.ID+"="+string(v.Value))
		}
	}
	return m
}

func TestMerge(t *testing.T) {
	id := newTestIdentity(t)
	clock := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	base := fork(t, writeEmpty(t, id), id, &clock)
	base.put(t, "KEEP", "k1")
	base.put(t, "GONE", "g1")
	base.put(t, "BOTH", "b1")

	a := fork(t, base.path, id, &clock)
	b := fork(t, base.path, id, &clock)
	a.put(t, "A_ONLY", "a1")
	b.put(t, "B_ONLY", "x1")
	a.put(t, "BOTH", "b2-ours")
	b.put(t, "BOTH", "b2-theirs") // later: current
	if err := a.d.Delete(context.Background(), "GONE"); err != nil {
		t.Fatal(err)
	}
	unwraps0 := unwraps.Load()
	out, res, err := Merge(base.bytes(t), a.bytes(t), b.bytes(t), id)
	if err != nil {
		t.Fatal(err)
	}
	if n := unwraps.Load() - unwraps0; n != 1 {
		t.Fatalf("the merge unwrapped the shared file key %d times, want 1", n)
	}
	got := mergedValues(t, out, id)
	want := map[string]string{
		"KEEP":   "1=k1",
		"A_ONLY": "1=a1",
		"B_ONLY": "1=x1",
		"BOTH":   "1=b1,2=b2-ours,3=b2-theirs",
	}
	for k, w := range want {
		if g := strings.Join(got[k], ","); g != w {
			t.Errorf("%s: %s, want %s", k, g, w)
		}
	}
	if _, ok := got["GONE"]; ok {
		t.Error("a key deleted on one branch (unchanged on the other) came back")
	}
	if len(res.Both) != 1 || res.Both[0] != "BOTH" || !strings.Contains(strings.Join(res.Notes, "\n"), "BOTH changed on both branches") {
		t.Fatalf("report: %+v", res)
	}
	for _, n := range res.Notes {
		if strings.Contains(n, "b2-") {
			t.Fatal("a note carries a value")
		}
	}
	// Records ours already held are kept byte for byte.
	for _, l := range lines(a.bytes(t))[4:] {
		if strings.HasPrefix(l, "mac:") {
			continue
		}
		r, _, ok := parseRecLine(strings.TrimSuffix(l, "\n"))
		if ok && r.ver == 1 && !strings.Contains(string(out), l) {
			t.Fatalf("an unchanged record of ours was re-encrypted")
		}
	}
}

func writeEmpty(t *testing.T, id *Identity) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "keyward.age")
	if err := Create(context.Background(), p, id.Recipients, false); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestMergeRecipients: a side that removed a member (re-keyed) wins the
// file key and the member stays removed; two sides that re-keyed
// differently are refused; two sides converted from v1 independently
// (different file keys, same recipients) merge.
func TestMergeRecipients(t *testing.T) {
	ctx := context.Background()
	me, bob, eve := newTestIdentity(t), newTestIdentity(t), newTestIdentity(t)
	clock := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	basePath := filepath.Join(t.TempDir(), "keyward.age")
	if err := Create(ctx, basePath, []string{me.Recipients[0], bob.Recipients[0], eve.Recipients[0]}, false); err != nil {
		t.Fatal(err)
	}
	base := fork(t, basePath, me, &clock)
	base.put(t, "K", "v1")

	t.Run("one side removed a member", func(t *testing.T) {
		a, b := fork(t, base.path, me, &clock), fork(t, base.path, me, &clock)
		if _, err := RemoveRecipient(ctx, a.path, me, eve.Recipients[0]); err != nil {
			t.Fatal(err)
		}
		b.put(t, "NEW", "n1")
		out, _, err := Merge(base.bytes(t), a.bytes(t), b.bytes(t), me)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeAny("merged", out, eve); errorCode(err) != driver.PermissionDenied {
			t.Fatalf("the removed member can read the merge: %v", err)
		}
		if got := mergedValues(t, out, bob); strings.Join(got["NEW"], "") != "1=n1" || strings.Join(got["K"], "") != "1=v1" {
			t.Fatalf("merged content: %v", got)
		}
	})
	t.Run("a recipient added on one side is reported", func(t *testing.T) {
		a, b := fork(t, base.path, me, &clock), fork(t, base.path, me, &clock)
		newcomer := newTestIdentity(t)
		if _, err := AddRecipient(ctx, b.path, me, newcomer.Recipients[0]); err != nil {
			t.Fatal(err)
		}
		out, res, err := Merge(base.bytes(t), a.bytes(t), b.bytes(t), me)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(res.Notes, "\n"), "recipient "+newcomer.Recipients[0]+" (added on theirs)") {
			t.Fatalf("notes: %q", res.Notes)
		}
		if got := mergedValues(t, out, newcomer); strings.Join(got["K"], "") != "1=v1" {
			t.Fatal("the added recipient cannot read the merge")
		}
	})
	t.Run("both re-keyed differently", func(t *testing.T) {
		a, b := fork(t, base.path, me, &clock), fork(t, base.path, me, &clock)
		RemoveRecipient(ctx, a.path, me, eve.Recipients[0])
		RemoveRecipient(ctx, b.path, me, bob.Recipients[0])
		ours := a.bytes(t)
		_, _, err := Merge(base.bytes(t), ours, b.bytes(t), me)
		if err == nil || errorCode(err) != driver.FailedPrecondition || !strings.Contains(err.Error(), "cannot be merged") {
			t.Fatalf("merge of two re-keyed sides: %v", err)
		}
		// MergeFiles leaves OURS untouched.
		dir := t.TempDir()
		bp, op, tp := filepath.Join(dir, "o"), filepath.Join(dir, "a"), filepath.Join(dir, "b")
		os.WriteFile(bp, base.bytes(t), 0o600)
		os.WriteFile(op, ours, 0o600)
		os.WriteFile(tp, b.bytes(t), 0o600)
		if _, err := MergeFiles(bp, op, tp, me, &strings.Builder{}); err == nil {
			t.Fatal("MergeFiles succeeded")
		}
		if after, _ := os.ReadFile(op); string(after) != string(ours) {
			t.Fatal("a refused merge changed OURS")
		}
	})
	t.Run("v1 base converted on both sides", func(t *testing.T) {
		p := newPayload(me.Recipients)
		p.Secrets["OLD"] = &secretEntry{Versions: []versionEntry{{ID: "1", Created: clock, Value: []byte("o1")}}}
		v1, _ := encode(p)
		v1Path := filepath.Join(t.TempDir(), "v1.age")
		os.WriteFile(v1Path, v1, 0o600)
		a, b := fork(t, v1Path, me, &clock), fork(t, v1Path, me, &clock)
		a.d.opts.Notice, b.d.opts.Notice = func(string) {}, func(string) {}
		a.put(t, "A", "a1")
		b.put(t, "B", "b1")
		out, _, err := Merge(v1, a.bytes(t), b.bytes(t), me)
		if err != nil {
			t.Fatal(err)
		}
		got := mergedValues(t, out, me)
		if len(got) != 3 || strings.Join(got["OLD"], "") != "1=o1" || strings.Join(got["B"], "") != "1=b1" {
			t.Fatalf("merged content: %v", got)
		}
	})
	t.Run("not a recipient of one side", func(t *testing.T) {
		a, b := fork(t, base.path, me, &clock), fork(t, base.path, me, &clock)
		RemoveRecipient(ctx, b.path, me, me.Recipients[0])
		_, _, err := Merge(base.bytes(t), a.bytes(t), b.bytes(t), me)
		if errorCode(err) != driver.PermissionDenied {
			t.Fatalf("merge with an unreadable side: %v", err)
		}
	})
}
