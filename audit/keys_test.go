package audit

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward"
)

// TestHookKeys: a batched read event (keyward run) is one v2 record naming
// every key with its version and, with a key, its own value HMAC; a batch
// whose names would not fit in MaxRecordBytes is split into as few records
// as fit, none longer. The chain verifies, v1 and v2 records side by side,
// and Search finds the record by any of its keys or value HMACs.
func TestHookKeys(t *testing.T) {
	for _, n := range []int{1, 50, 5000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "audit.log")
			key := bytes.Repeat([]byte{7}, 32)
			l, err := Open(Options{Path: p, NoFsync: true, Key: key})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if err := l.Append(ctx, &Record{Action: "list"}); err != nil {
				t.Fatal(err)
			}
			e := &keyward.Event{Action: "get", Store: "local://keyward.age"}
			for i := range n {
				e.Keys = append(e.Keys, keyward.KeyEvent{Key: fmt.Sprintf("SOME_RATHER_LONG_SECRET_NAME_%05d", i), Version: "3",
					Value: keyward.NewSecretString(fmt.Sprintf("keys-canary-%d", i))})
			}
			if err := l.Hook(ctx, e); err != nil {
				t.Fatal(err)
			}
			l.Close()
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte("keys-canary")) {
				t.Fatal("a value is in the log")
			}
			lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
			wantRecords := 2
			if n == 5000 {
				wantRecords = 0 // several, checked below
			}
			if wantRecords != 0 && len(lines) != wantRecords {
				t.Fatalf("%d lines, want %d", len(lines), wantRecords)
			}
			if n == 5000 && (len(lines) < 3 || len(lines) > 1+n/100) {
				t.Fatalf("%d records for %d keys, want a few", len(lines)-1, n)
			}
			for i, ln := range lines {
				if len(ln) > MaxRecordBytes {
					t.Fatalf("line %d is %d bytes, over MaxRecordBytes", i+1, len(ln))
				}
			}
			res, err := Verify(bytes.NewReader(b), nil)
			if err != nil || res.Records != len(lines) {
				t.Fatalf("verify: %v (%+v)", err, res)
			}
			recs, err := Search(bytes.NewReader(b), Filter{}, 0)
			if err != nil {
				t.Fatal(err)
			}
			if recs[0].V != FormatVersion || recs[0].Keys != nil {
				t.Fatalf("the list record: v %d keys %v", recs[0].V, recs[0].Keys)
			}
			seen := 0
			for _, r := range recs[1:] {
				if r.V != FormatVersionKeys || r.Key != "" || r.Action != "get" || r.Store != "local://keyward.age" {
					t.Fatalf("batch record: %+v", r)
				}
				for _, k := range r.Keys {
					want := fmt.Sprintf("SOME_RATHER_LONG_SECRET_NAME_%05d", seen)
					if k.Key != want || k.Version != "3" || k.ValueHMAC != ValueHMAC(key, []byte(fmt.Sprintf("keys-canary-%d", seen))) {
						t.Fatalf("key %d: %+v, want %s with its version and HMAC", seen, k, want)
					}
					seen++
				}
			}
			if seen != n {
				t.Fatalf("the records name %d keys, want %d", seen, n)
			}
			last := fmt.Sprintf("SOME_RATHER_LONG_SECRET_NAME_%05d", n-1)
			if got, _ := Search(bytes.NewReader(b), Filter{Key: last}, 0); len(got) != 1 || !got[0].HasKey(last) {
				t.Fatalf("search --key %s: %d records", last, len(got))
			}
			h := ValueHMAC(key, []byte(fmt.Sprintf("keys-canary-%d", n-1)))
			if got, _ := Search(bytes.NewReader(b), Filter{HMAC: h}, 0); len(got) != 1 {
				t.Fatalf("search by HMAC: %d records", len(got))
			}
			if got, _ := Search(bytes.NewReader(b), Filter{Key: "NOT_THERE"}, 0); len(got) != 0 {
				t.Fatalf("search for an absent key: %d records", len(got))
			}
		})
	}
}

// TestDeliverySyncedInBackground: with SyncOnClose (the CLI), a delivery
// record starts an fsync at once, off the caller's path; SyncPending waits
// for it and syncs what came after; CloseUnsynced leaves the closing
// record written (not fsynced) and the chain intact.
func TestDeliverySyncedInBackground(t *testing.T) {
	p := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(Options{Path: p, SyncOnClose: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := l.Append(ctx, &Record{Action: "list"}); err != nil {
		t.Fatal(err)
	}
	if !l.dirty {
		t.Fatal("an appended record is not marked for the next fsync")
	}
	if err := l.Hook(ctx, &keyward.Event{Action: "get", Keys: []keyward.KeyEvent{{Key: "A", Version: "1"}, {Key: "B", Version: "2"}}}); err != nil {
		t.Fatal(err)
	}
	if l.dirty {
		t.Fatal("the delivery record did not start an fsync")
	}
	if err := l.Append(ctx, &Record{Action: "put", Key: "C"}); err != nil {
		t.Fatal(err)
	}
	if err := l.SyncPending(); err != nil || l.dirty {
		t.Fatalf("SyncPending: %v, dirty %v", err, l.dirty)
	}
	if err := l.Append(ctx, &Record{Action: "cli.run"}); err != nil {
		t.Fatal(err)
	}
	if err := l.CloseUnsynced(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := Verify(bytes.NewReader(b), nil); err != nil || res.Records != 4 {
		t.Fatalf("verify: %v, %+v", err, res)
	}
	if err := l.SyncPending(); err != nil {
		t.Fatalf("SyncPending after close: %v", err)
	}
}
