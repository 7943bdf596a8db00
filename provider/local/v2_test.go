package local

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/driver"
)

const canaryV2 = "KWCANARY-v2-4e1d7b"

func newTestIdentity(t testing.TB) *Identity {
	t.Helper()
	i, err := GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	id := &Identity{Recipients: []string{i.Recipient().String()}, Source: "test"}
	id.Identities = append(id.Identities, i)
	return id
}

// v2Store writes a v2 store with keys A (3 versions, the last a canary),
// B and C, and returns its path, driver and identity.
func v2Store(t *testing.T) (string, *localDriver, *Identity) {
	t.Helper()
	ctx := context.Background()
	id := newTestIdentity(t)
	path := filepath.Join(t.TempDir(), "keyward.age")
	d, _ := NewDriver(path, &Options{Identity: id})
	ld := d.(*localDriver)
	for _, kv := range [][2]string{{"A", "a1"}, {"A", "a2"}, {"A", canaryV2}, {"B", "b1"}, {"C", "c1"}} {
		if _, err := ld.Put(ctx, kv[0], []byte(kv[1]), nil); err != nil {
			t.Fatal(err)
		}
	}
	return path, ld, id
}

func lines(data []byte) []string {
	ls := strings.SplitAfter(string(data), "\n")
	if ls[len(ls)-1] == "" {
		ls = ls[:len(ls)-1]
	}
	return ls
}

// TestV2FileLayout: one line per record, sorted by entry id, no key name
// or value in clear, and the header and MAC lines where the spec puts them.
func TestV2FileLayout(t *testing.T) {
	path, _, id := v2Store(t)
	data, _ := os.ReadFile(path)
	if bytes.Contains(data, []byte(canaryV2)) || bytes.Contains(data, []byte("a1")) && bytes.Contains(data, []byte(" A ")) {
		t.Fatal("a value or key name appears in clear")
	}
	ls := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if ls[0] != magicV2 || !strings.HasPrefix(ls[1], recipientPrefix+id.Recipients[0]) || !strings.HasPrefix(ls[2], fileKeyPrefix) || !strings.HasPrefix(ls[3], headerMACPfx) || !strings.HasPrefix(ls[len(ls)-1], setMACPrefix) {
		t.Fatalf("unexpected layout: %d lines", len(ls))
	}
	recs := ls[4 : len(ls)-1]
	if len(recs) != 5 {
		t.Fatalf("%d record lines, want 5 (one per version)", len(recs))
	}
	for i := 1; i < len(recs); i++ {
		a, _ := parseRecOrFail(t, recs[i-1])
		b, _ := parseRecOrFail(t, recs[i])
		if compareRec(a, b) >= 0 {
			t.Fatalf("record lines %d and %d are out of order", i, i+1)
		}
	}
}

func parseRecOrFail(t *testing.T, line string) (rec, bool) {
	t.Helper()
	r, _, ok := parseRecLine(line)
	if !ok {
		t.Fatalf("not a record line")
	}
	return r, ok
}

// TestV2Tampering: every edit someone without the file key can make to a
// v2 file is detected (FailedPrecondition), and no error quotes a value.
func TestV2Tampering(t *testing.T) {
	path, _, id := v2Store(t)
	orig, _ := os.ReadFile(path)
	ls := lines(orig)
	first, last := 4, len(ls)-2 // record lines
	other := newTestIdentity(t)
	edit := func(f func(ls []string) []string) []byte {
		c := append([]string(nil), ls...)
		return []byte(strings.Join(f(c), ""))
	}
	fields := func(l string) []string { return strings.Fields(l) }
	cases := map[string][]byte{
		"record dropped": edit(func(ls []string) []string { return append(ls[:first], ls[first+1:]...) }),
		"record duplicated": edit(func(ls []string) []string {
			return append(ls[:first+1], ls[first:]...)
		}),
		"records' ciphertexts swapped": edit(func(ls []string) []string {
			a, b := fields(ls[first]), fields(ls[first+1])
			ls[first] = a[0] + " " + a[1] + " " + b[2] + "\n"
			ls[first+1] = b[0] + " " + b[1] + " " + a[2] + "\n"
			return ls
		}),
		"version renumbered": edit(func(ls []string) []string {
			a := fields(ls[last])
			ls[last] = a[0] + " 9 " + a[2] + "\n"
			return ls
		}),
		"recipient added in clear": edit(func(ls []string) []string {
			return append(ls[:2], append([]string{recipientPrefix + other.Recipients[0] + "\n"}, ls[2:]...)...)
		}),
		"set mac replaced": edit(func(ls []string) []string {
			ls[len(ls)-1] = setMACPrefix + b64.EncodeToString(make([]byte, 32)) + "\n"
			return ls
		}),
		"truncated":        orig[:len(orig)/2],
		"last newline cut": orig[:len(orig)-1],
		"bit flipped in a record": func() []byte {
			c := bytes.Clone(orig)
			i := bytes.Index(c, []byte(ls[first])) + entryIDHexLen + 10
			c[i] ^= 1
			return c
		}(),
	}
	// The age-encrypted file key itself: its payload's tag flipped, or cut.
	wrappedEdit := func(f func(w []byte) []byte) []byte {
		return edit(func(ls []string) []string {
			for i, l := range ls {
				if strings.HasPrefix(l, fileKeyPrefix) {
					w, err := b64.DecodeString(strings.TrimSpace(strings.TrimPrefix(l, fileKeyPrefix)))
					if err != nil {
						t.Fatal(err)
					}
					ls[i] = fileKeyPrefix + b64.EncodeToString(f(w)) + "\n"
				}
			}
			return ls
		})
	}
	cases["file key's tag flipped"] = wrappedEdit(func(w []byte) []byte { w[len(w)-1] ^= 1; return w })
	cases["file key cut by a byte"] = wrappedEdit(func(w []byte) []byte { return w[:len(w)-1] })
	// A record replayed from another store under the same identity (a
	// different file key) does not open either.
	path2, _, _ := v2StoreWithID(t, id)
	orig2, _ := os.ReadFile(path2)
	ls2 := lines(orig2)
	cases["record from another file"] = edit(func(ls []string) []string { ls[first] = ls2[first]; return ls })
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := decodeAny("keyward.age", data, id)
			if err == nil {
				t.Fatal("a tampered v2 file was read")
			}
			if c := errorCode(err); c != driver.FailedPrecondition {
				t.Fatalf("code %v (%v), want failed precondition", c, err)
			}
			if strings.Contains(err.Error()+Hint(err), canaryV2) {
				t.Fatal("the error carries a value")
			}
			if !strings.Contains(err.Error(), "keyward.age") {
				t.Fatalf("the error does not name the file: %v", err)
			}
		})
	}
}

func v2StoreWithID(t *testing.T, id *Identity) (string, *localDriver, *Identity) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keyward.age")
	d, _ := NewDriver(path, &Options{Identity: id})
	ld := d.(*localDriver)
	for _, kv := range [][2]string{{"A", "x1"}, {"A", "x2"}, {"A", "x3"}, {"B", "y1"}, {"C", "z1"}} {
		if _, err := ld.Put(context.Background(), kv[0], []byte(kv[1]), nil); err != nil {
			t.Fatal(err)
		}
	}
	return path, ld, id
}

// TestV2DecryptsOnlyWhatItNeeds: Get opens one record; the file key is
// unwrapped once per driver.
func TestV2DecryptsOnlyWhatItNeeds(t *testing.T) {
	ctx := context.Background()
	id := newTestIdentity(t)
	path := filepath.Join(t.TempDir(), "keyward.age")
	d, _ := NewDriver(path, &Options{Identity: id})
	w := d.(*localDriver)
	err := w.update(ctx, true, func(tx *txn) error {
		for i := range 200 {
			if _, err := tx.put(fmt.Sprintf("K%03d", i), []byte("v"), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	d2, _ := NewDriver(path, &Options{Identity: id})
	r := d2.(*localDriver)
	opens0, unwraps0 := recordOpens.Load(), unwraps.Load()
	for range 3 {
		if _, err := r.Get(ctx, "K100", ""); err != nil {
			t.Fatal(err)
		}
	}
	if n := recordOpens.Load() - opens0; n != 3 {
		t.Fatalf("3 Gets opened %d records, want 3", n)
	}
	if n := unwraps.Load() - unwraps0; n != 1 {
		t.Fatalf("3 Gets unwrapped the file key %d times, want 1", n)
	}
	// What keyward run does: List, then GetMany: one file read, one unwrap.
	d3, _ := NewDriver(path, &Options{Identity: id})
	r3 := d3.(*localDriver)
	reads0, unwraps0 := fileReads.Load(), unwraps.Load()
	infos, err := r3.List(ctx)
	if err != nil || len(infos) != 200 {
		t.Fatalf("List: %d, %v", len(infos), err)
	}
	keys := make([]string, len(infos))
	for i := range infos {
		keys[i] = infos[i].Key
	}
	if vals, err := r3.GetMany(ctx, keys); err != nil || len(vals) != 200 {
		t.Fatalf("GetMany: %d, %v", len(vals), err)
	}
	if n := fileReads.Load() - reads0; n != 1 {
		t.Fatalf("List+GetMany read the file %d times, want 1", n)
	}
	if n := unwraps.Load() - unwraps0; n != 1 {
		t.Fatalf("List+GetMany unwrapped the file key %d times, want 1", n)
	}
	// A write by another driver is seen at once.
	if _, err := w.Put(ctx, "K100", []byte("new"), nil); err != nil {
		t.Fatal(err)
	}
	if v, err := r3.Get(ctx, "K100", ""); err != nil || string(v.Data) != "new" {
		t.Fatalf("a cached snapshot hid another writer's update: %v", err)
	}
}

// TestV1ConvertsOnFirstWrite: a v1 file is read as is; the first write
// converts it to v2 with one notice, keeping every version.
func TestV1ConvertsOnFirstWrite(t *testing.T) {
	ctx := context.Background()
	id := newTestIdentity(t)
	p := newPayload(id.Recipients)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p.Secrets["OLD"] = &secretEntry{Versions: []versionEntry{{ID: "1", Created: t0, Value: []byte("o1")}, {ID: "2", Created: t0, Value: []byte("o2"), Meta: map[string]string{"m": "x"}}}}
	v1, err := encode(p)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "keyward.age")
	os.WriteFile(path, v1, 0o600)
	var notices []string
	d, _ := NewDriver(path, &Options{Identity: id, Notice: func(s string) { notices = append(notices, s) }})
	w := d.(*localDriver)
	if v, err := w.Get(ctx, "OLD", "1"); err != nil || string(v.Data) != "o1" {
		t.Fatalf("v1 read: %v", err)
	}
	if len(notices) != 0 {
		t.Fatal("a read printed a notice")
	}
	if _, err := w.Put(ctx, "NEW", []byte("n1"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Put(ctx, "NEW", []byte("n2"), nil); err != nil {
		t.Fatal(err)
	}
	if len(notices) != 1 || !strings.Contains(notices[0], "v2") {
		t.Fatalf("notices %q, want one about v2", notices)
	}
	data, _ := os.ReadFile(path)
	if !isV2(data) {
		t.Fatal("the file was not converted")
	}
	vs, err := w.Versions(ctx, "OLD")
	if err != nil || len(vs) != 2 || !vs[0].Created.Equal(t0) || vs[1].Meta["m"] != "x" {
		t.Fatalf("versions after conversion: %v %v", vs, err)
	}
	if v, _ := w.Get(ctx, "OLD", ""); string(v.Data) != "o2" {
		t.Fatal("current value changed by the conversion")
	}
}

// TestRetention: 300 sets keep 10 versions; history says how many were
// pruned; versions in rotation grace are kept; ?history=all keeps all.
func TestRetention(t *testing.T) {
	ctx := context.Background()
	id := newTestIdentity(t)
	path := filepath.Join(t.TempDir(), "keyward.age")
	d, _ := NewDriver(path, &Options{Identity: id})
	w := d.(*localDriver)
	// 300 sets (in one write, to spare the disk: pruning runs per put).
	err := w.update(ctx, true, func(tx *txn) error {
		for i := range 300 {
			if _, err := tx.put("K", fmt.Appendf(nil, "v%d", i+1), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	vs, err := w.Versions(ctx, "K")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != DefaultKeepVersions || vs[0].ID != "291" || vs[len(vs)-1].ID != "300" {
		t.Fatalf("300 sets kept %d versions (%s..%s), want 291..300", len(vs), vs[0].ID, vs[len(vs)-1].ID)
	}
	if vs[0].Meta[MetaPruned] != "290" || vs[0].Meta[MetaPrunedThrough] != "290" || vs[0].Meta[MetaPrunedAt] == "" {
		t.Fatalf("pruning not reported: %v", vs[0].Meta)
	}
	if _, err := w.Get(ctx, "K", "5"); w.ErrorCode(err) != driver.NotFound {
		t.Fatalf("a pruned version: %v", err)
	}
	// A rotation's grace version survives pruning.
	ring := driver.EncodeRing([]driver.RingRef{{ID: "301", Expires: time.Now().Add(time.Hour)}})
	if _, err := w.Put(ctx, "K", []byte("v301"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Put(ctx, "K", []byte("v302"), &driver.PutOptions{Meta: map[string]string{driver.MetaRing: ring}}); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := w.Put(ctx, "K", fmt.Appendf(nil, "w%d", i), &driver.PutOptions{Meta: map[string]string{driver.MetaRing: ring}}); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := w.Get(ctx, "K", "301"); err != nil || string(v.Data) != "v301" {
		t.Fatalf("a version in grace was pruned: %v", err)
	}
	vs, _ = w.Versions(ctx, "K")
	if len(vs) != DefaultKeepVersions+1 {
		t.Fatalf("%d versions kept, want %d (+1 in grace)", len(vs), DefaultKeepVersions+1)
	}
	// A configured limit and "keep all".
	for _, c := range []struct {
		keep, want int
	}{{3, 3}, {-1, 25}} {
		p := filepath.Join(t.TempDir(), "s.age")
		d, _ := NewDriver(p, &Options{Identity: id, KeepVersions: c.keep})
		for i := range 25 {
			if _, err := d.(*localDriver).Put(ctx, "K", []byte("x"), &driver.PutOptions{Meta: map[string]string{"i": fmt.Sprint(i)}}); err != nil {
				t.Fatal(err)
			}
		}
		vs, _ := d.(*localDriver).Versions(ctx, "K")
		if len(vs) != c.want {
			t.Fatalf("keep %d: %d versions, want %d", c.keep, len(vs), c.want)
		}
	}
}

// TestWriteOverReadLimitRefused (trust boundaries, rule 6): a write whose
// result would exceed the read limit is refused and the old file stays.
func TestWriteOverReadLimitRefused(t *testing.T) {
	path, w, _ := v2Store(t)
	before, _ := os.ReadFile(path)
	old := maxFileSize
	maxFileSize = len(before) + 512
	defer func() { maxFileSize = old }()
	_, err := w.Put(context.Background(), "BIG", bytes.Repeat([]byte("x"), 4096), nil)
	if err == nil || errorCode(err) != driver.FailedPrecondition || !strings.Contains(err.Error(), "read limit") {
		t.Fatalf("an over-limit write: %v", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("a refused write changed the file")
	}
	if v, err := w.Get(context.Background(), "A", ""); err != nil || string(v.Data) != canaryV2 {
		t.Fatal("the store no longer reads after a refused write")
	}
}

// TestSymlinkRefusedForWrites (trust boundaries, rule 7): a committed
// symlink at the store path or at its lock file is refused for writes.
func TestSymlinkRefusedForWrites(t *testing.T) {
	ctx := context.Background()
	for _, at := range []string{"store", "lock"} {
		t.Run(at, func(t *testing.T) {
			path, w, _ := v2Store(t)
			target := filepath.Join(t.TempDir(), "target")
			if at == "store" {
				data, _ := os.ReadFile(path)
				os.WriteFile(target, data, 0o600)
				os.Remove(path)
				if err := os.Symlink(target, path); err != nil {
					t.Skip("no symlinks here")
				}
			} else {
				os.WriteFile(target, []byte("precious"), 0o600)
				os.Remove(LockPath(path))
				if err := os.Symlink(target, LockPath(path)); err != nil {
					t.Skip("no symlinks here")
				}
			}
			before, _ := os.ReadFile(target)
			_, err := w.Put(ctx, "A", []byte("new"), nil)
			if err == nil || !strings.Contains(err.Error(), "symlink") {
				t.Fatalf("a write through a symlinked %s: %v", at, err)
			}
			if after, _ := os.ReadFile(target); !bytes.Equal(before, after) {
				t.Fatal("the symlink's target changed")
			}
		})
	}
}

// TestPutManyAtomic: a batch lands whole, or — on a check-and-set conflict
// in any item — not at all (the file is byte for byte unchanged).
func TestPutManyAtomic(t *testing.T) {
	ctx := context.Background()
	path, w, _ := v2Store(t)
	before, _ := os.ReadFile(path)
	_, err := w.PutMany(ctx, []driver.PutItem{
		{Key: "NEW1", Data: []byte("n1"), Opts: &driver.PutOptions{IfVersion: "0"}},
		{Key: "A", Data: []byte("x"), Opts: &driver.PutOptions{IfVersion: "1"}}, // A is at 3
	})
	if w.ErrorCode(err) != driver.FailedPrecondition || !strings.Contains(err.Error(), `"A"`) {
		t.Fatalf("conflicting batch: %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("a failed batch changed the file")
	}
	vs, err := w.PutMany(ctx, []driver.PutItem{
		{Key: "NEW1", Data: []byte("n1"), Opts: &driver.PutOptions{IfVersion: "0"}},
		{Key: "A", Data: []byte("a4"), Opts: &driver.PutOptions{IfVersion: "3"}},
		{Key: "A", Data: []byte("a5")},
	})
	if err != nil || len(vs) != 3 || vs[0].ID != "1" || vs[1].ID != "4" || vs[2].ID != "5" {
		t.Fatalf("batch: %v %v", vs, err)
	}
	if v, _ := w.Get(ctx, "A", ""); string(v.Data) != "a5" {
		t.Fatal("the batch's last write is not current")
	}
}
