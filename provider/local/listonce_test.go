package local

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestListThenGetManyOpensEachRecordOnce: keyward run lists the store and
// then reads every key; the records List decrypted are handed to the reads
// (once each), so the run decrypts each record once, not twice. A read
// after that, or of a key changed since, opens its record again.
func TestListThenGetManyOpensEachRecordOnce(t *testing.T) {
	ctx := context.Background()
	id := newTestIdentity(t)
	path := filepath.Join(t.TempDir(), "keyward.age")
	d, _ := NewDriver(path, &Options{Identity: id})
	w := d.(*localDriver)
	if err := w.update(ctx, true, func(tx *txn) error {
		for i := range 50 {
			if _, err := tx.put(fmt.Sprintf("K%02d", i), []byte(fmt.Sprintf("value-%02d", i)), nil); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	d2, _ := NewDriver(path, &Options{Identity: id})
	r := d2.(*localDriver)
	opens0 := recordOpens.Load()
	infos, err := r.List(ctx)
	if err != nil || len(infos) != 50 {
		t.Fatalf("List: %d, %v", len(infos), err)
	}
	keys := make([]string, len(infos))
	for i := range infos {
		keys[i] = infos[i].Key
	}
	vals, err := r.GetMany(ctx, keys)
	if err != nil || len(vals) != 50 {
		t.Fatalf("GetMany: %d, %v", len(vals), err)
	}
	for i := range 50 {
		k := fmt.Sprintf("K%02d", i)
		if v := vals[k]; v == nil || string(v.Data) != fmt.Sprintf("value-%02d", i) || v.Version.ID != "1" {
			t.Fatalf("%s = %+v", k, v)
		}
	}
	if n := recordOpens.Load() - opens0; n != 50 {
		t.Fatalf("List+GetMany of 50 keys opened %d records, want 50", n)
	}
	// handed once: the next read opens the record again
	if v, err := r.Get(ctx, "K07", ""); err != nil || string(v.Data) != "value-07" {
		t.Fatalf("Get after GetMany: %v", err)
	}
	if n := recordOpens.Load() - opens0; n != 51 {
		t.Fatalf("a Get after the run opened %d records in all, want 51", n)
	}
	// a key written after the listing is read from the new file
	if _, err := w.Put(ctx, "K08", []byte("changed"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := r.List(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Put(ctx, "K09", []byte("changed-after-list"), nil); err != nil {
		t.Fatal(err)
	}
	vals, err = r.GetMany(ctx, []string{"K08", "K09"})
	if err != nil || string(vals["K08"].Data) != "changed" || string(vals["K09"].Data) != "changed-after-list" {
		t.Fatalf("after writes: %v %q %q", err, vals["K08"].Data, vals["K09"].Data)
	}
}

// TestListedPlaintextIsDropped: the records a listing opened that the
// following GetMany did not take are wiped and forgotten when it returns,
// not kept (values included) for as long as the snapshot lives.
func TestListedPlaintextIsDropped(t *testing.T) {
	ctx := context.Background()
	r, s, left := listedStore(t)
	vals, err := r.GetMany(ctx, []string{"A"})
	if err != nil || string(vals["A"].Data) != "listed-canary-A" {
		t.Fatalf("GetMany: %v", err)
	}
	s.mu.Lock()
	n := len(s.listed)
	s.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d listed records outlived the GetMany", n)
	}
	for _, p := range left {
		if p.Key != "A" && strings.Contains(string(p.Value), "listed-canary") {
			t.Fatalf("the untaken record of %s still holds its value", p.Key)
		}
	}
}

// TestListedPlaintextIsDroppedOnClose: a listing no GetMany followed
// (keyward list, or reads one key at a time) is wiped when the driver
// closes, not kept for the life of its cached snapshot.
func TestListedPlaintextIsDroppedOnClose(t *testing.T) {
	r, s, left := listedStore(t)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	n := len(s.listed)
	s.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d listed records outlived Close", n)
	}
	for _, p := range left {
		if strings.Contains(string(p.Value), "listed-canary") {
			t.Fatalf("the listed record of %s still holds its value after Close", p.Key)
		}
	}
}

// listedStore is a store of A, B and C, listed by a second driver: that
// driver, its snapshot and the records the listing opened.
func listedStore(t *testing.T) (*localDriver, *snapshot, []*recPlain) {
	t.Helper()
	ctx := context.Background()
	id := newTestIdentity(t)
	path := filepath.Join(t.TempDir(), "keyward.age")
	d, err := NewDriver(path, &Options{Identity: id})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"A", "B", "C"} {
		if _, err := d.(*localDriver).Put(ctx, k, []byte("listed-canary-"+k), nil); err != nil {
			t.Fatal(err)
		}
	}
	d2, err := NewDriver(path, &Options{Identity: id})
	if err != nil {
		t.Fatal(err)
	}
	r := d2.(*localDriver)
	if _, err := r.List(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := r.read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	var left []*recPlain
	for _, p := range s.listed {
		left = append(left, p)
	}
	s.mu.Unlock()
	if len(left) != 3 {
		t.Fatalf("the listing kept %d opened records, want 3", len(left))
	}
	return r, s, left
}
