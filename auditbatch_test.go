package keyward_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/provider/mem"
)

// TestAuditBatch: under Store.AuditBatch a delivery's reads (KeyRings, Get,
// GetMany) reach the audit hook as ONE event naming every key with its
// version, sorted, when flushed; a failed read and a listing are recorded
// at once, on their own; with audit required a hook failure at flush is a
// FailedPrecondition error (the caller must not deliver the values).
func TestAuditBatch(t *testing.T) {
	ctx := context.Background()
	for _, required := range []bool{false, true} {
		t.Run(fmt.Sprintf("required=%v", required), func(t *testing.T) {
			var mu sync.Mutex
			var events []keyward.Event
			fail := false
			s := mem.NewBackend().OpenStore(&keyward.StoreOptions{URL: "mem://batch", AuditRequired: required,
				Audit: func(_ context.Context, e *keyward.Event) error {
					mu.Lock()
					defer mu.Unlock()
					events = append(events, *e)
					if fail {
						return errors.New("disk full")
					}
					return nil
				}})
			var keys []string
			for i := 50; i >= 1; i-- {
				k := fmt.Sprintf("K%02d", i)
				keys = append(keys, k)
				if _, err := s.Put(ctx, k, keyward.NewSecretString("batch-canary-"+k), nil); err != nil {
					t.Fatal(err)
				}
			}
			mu.Lock()
			events = nil
			mu.Unlock()

			bctx, flush := s.AuditBatch(ctx)
			if _, err := s.List(bctx); err != nil {
				t.Fatal(err)
			}
			if _, err := s.KeyRings(bctx, keys); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Get(bctx, "MISSING"); keyward.ErrorCode(err) != keyward.NotFound {
				t.Fatalf("Get(MISSING) = %v, want NotFound", err)
			}
			if len(events) != 2 || events[0].Action != "list" || events[1].Key != "MISSING" || events[1].Code != keyward.NotFound {
				t.Fatalf("before flush: %d events %+v, want the list and the failed get only", len(events), events)
			}
			if err := flush(ctx); err != nil {
				t.Fatal(err)
			}
			if len(events) != 3 {
				t.Fatalf("after flush: %d events, want 3", len(events))
			}
			b := events[2]
			if b.Action != "get" || b.Key != "" || len(b.Keys) != 50 || b.Store != "mem://batch" {
				t.Fatalf("batch event: action %q key %q %d keys store %q", b.Action, b.Key, len(b.Keys), b.Store)
			}
			for i, k := range b.Keys {
				if want := fmt.Sprintf("K%02d", i+1); k.Key != want || k.Version == "" || k.Value.RevealString() != "batch-canary-"+want {
					t.Fatalf("keys[%d] = %q version %q, want %q with its version and value", i, k.Key, k.Version, want)
				}
			}
			// after flush, reads are recorded one by one again
			if _, err := s.Get(bctx, "K01"); err != nil || len(events) != 4 || events[3].Key != "K01" {
				t.Fatalf("a read after flush: err %v, %d events", err, len(events))
			}

			// a hook that fails at flush
			bctx, flush = s.AuditBatch(ctx)
			if _, err := s.GetMany(bctx, []string{"K01", "K02"}); err != nil {
				t.Fatal(err)
			}
			fail = true
			err := flush(ctx)
			switch {
			case required && keyward.ErrorCode(err) != keyward.FailedPrecondition:
				t.Fatalf("required: flush = %v, want FailedPrecondition", err)
			case required && !strings.Contains(err.Error(), "audit is required"):
				t.Fatalf("required: flush = %v", err)
			case !required && err != nil:
				t.Fatalf("not required: flush = %v, want nil", err)
			}
			for _, e := range events {
				if strings.Contains(fmt.Sprintf("%v %+v", e, e.Keys), "batch-canary") {
					t.Fatal("an event prints a value")
				}
			}
		})
	}
}
