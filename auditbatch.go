package keyward

import (
	"context"
	"sort"
	"sync"
)

// KeyEvent is one key of a batched read event (Event.Keys): a delivery of
// many keys (keyward run) is one audit record naming them all, not one
// record per key.
type KeyEvent struct {
	Key     string
	Version string
	Cached  bool
	Stale   bool
	// Value, like Event.Value, only ever reaches an audit sink as a keyed
	// HMAC.
	Value Secret
}

type auditBatchKey struct{}

// auditBatch collects the successful read events of one delivery.
type auditBatch struct {
	s      *Store
	action string
	mu     sync.Mutex
	keys   []KeyEvent
	done   bool
}

// add records e in the batch and reports whether it did: only successful
// reads (Event.Action "get") of this store join a batch; errors, writes and
// listings are recorded on their own, at once.
func (b *auditBatch) add(s *Store, e *Event) bool {
	if b == nil || b.s != s || e.Action != b.action || e.Code != OK || e.Key == "" || len(e.Keys) > 0 {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return false
	}
	b.keys = append(b.keys, KeyEvent{Key: e.Key, Version: e.Version, Cached: e.Cached, Stale: e.Stale, Value: e.Value})
	return true
}

// AuditBatch returns a context under which this Store's successful reads
// (Get, GetMany, KeyRings: action "get") are not recorded one by one but
// collected, and the function that writes them as ONE event (Action "get",
// Keys naming every key read, sorted, with its version). keyward run
// delivers a whole store this way: one audit record per command naming the
// keys, instead of one per key.
//
// The caller must call flush before it hands any value it read under ctx
// on (to a child process, a file): with StoreOptions.AuditRequired, flush
// returns a FailedPrecondition error when the record could not be written,
// and the values must then not be used — the fail-closed guarantee moves
// from each read to the delivery. Reads after flush are recorded one by
// one again. Flush with nothing read writes nothing.
func (s *Store) AuditBatch(ctx context.Context) (context.Context, func(context.Context) error) {
	if s.opts.Audit == nil {
		return ctx, func(context.Context) error { return nil }
	}
	b := &auditBatch{s: s, action: "get"}
	return context.WithValue(ctx, auditBatchKey{}, b), func(ctx context.Context) error {
		b.mu.Lock()
		keys := b.keys
		b.keys, b.done = nil, true
		b.mu.Unlock()
		if len(keys) == 0 {
			return nil
		}
		sort.SliceStable(keys, func(i, j int) bool { return keys[i].Key < keys[j].Key })
		return s.audit(ctx, &Event{Action: b.action, Keys: keys})
	}
}

// batched reports whether e joined an audit batch carried by ctx.
func (s *Store) batched(ctx context.Context, e *Event) bool {
	b, _ := ctx.Value(auditBatchKey{}).(*auditBatch)
	return b.add(s, e)
}
