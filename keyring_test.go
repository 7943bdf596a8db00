package keyward_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/provider/mem"
)

var ringT0 = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)

type ringClock struct{ t time.Time }

func (c *ringClock) now() time.Time { return c.t }

// putRotated writes a version the way a rotation does in the version-meta
// layout: its Meta lists the earlier versions still valid.
func putRotated(t *testing.T, s *keyward.Store, key, val string, refs []driver.RingRef) keyward.Version {
	t.Helper()
	meta := map[string]string{driver.MetaRotated: ringT0.Format(time.RFC3339)}
	if refs != nil {
		meta[driver.MetaRing] = driver.EncodeRing(refs)
	}
	v, err := s.Put(context.Background(), key, keyward.NewSecretString(val), &keyward.PutOptions{Meta: meta})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestKeyRingVersionMeta(t *testing.T) {
	ctx := context.Background()
	clock := &ringClock{ringT0}
	s := mem.NewBackend().OpenStore(&keyward.StoreOptions{TTL: -1, Clock: clock.now})
	defer s.Close()
	putRotated(t, s, "K", "ring-canary-one", nil)
	putRotated(t, s, "K", "ring-canary-two", []driver.RingRef{{ID: "1", Expires: ringT0.Add(time.Hour)}})
	putRotated(t, s, "K", "ring-canary-three", []driver.RingRef{
		{ID: "2", Expires: ringT0.Add(2 * time.Hour)},
		{ID: "1", Expires: ringT0.Add(time.Hour)},
		{ID: "9", Expires: ringT0.Add(time.Hour)},     // never existed: skipped
		{ID: "1", Expires: ringT0.Add(5 * time.Hour)}, // duplicate: first wins
	})
	r, err := s.KeyRing(ctx, "K")
	if err != nil {
		t.Fatal(err)
	}
	if r.Layout != string(driver.LayoutVersionMeta) || r.Current.ID != "3" || !r.RotatedAt.Equal(ringT0) {
		t.Fatalf("ring: layout %s current %s rotated %v", r.Layout, r.Current.ID, r.RotatedAt)
	}
	var ids []string
	for _, k := range r.Keys() {
		ids = append(ids, k.ID)
	}
	if strings.Join(ids, ",") != "3,2,1" {
		t.Fatalf("ring ids = %v, want 3,2,1", ids)
	}
	if k, ok := r.Lookup("2"); !ok || k.Secret.RevealString() != "ring-canary-two" || !k.Expires.Equal(ringT0.Add(2*time.Hour)) {
		t.Fatalf("Lookup(2) = %v %v", ok, k.Expires)
	}
	if _, ok := r.Lookup("9"); ok {
		t.Fatal("Lookup found a version that does not exist")
	}
	// Expiry is by the store's clock.
	clock.t = ringT0.Add(90 * time.Minute)
	r, err = s.KeyRing(ctx, "K")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Previous) != 1 || r.Previous[0].ID != "2" {
		t.Fatalf("after 90 minutes: %d previous", len(r.Previous))
	}
	clock.t = ringT0.Add(2 * time.Hour)
	r, _ = s.KeyRing(ctx, "K")
	if len(r.Previous) != 0 {
		t.Fatalf("at the expiry instant the value is still in the ring")
	}
}

// A stored ring is untrusted: however many versions it lists, a ring read
// fetches at most MaxRingPrevious of them, the newest first.
func TestKeyRingReadsABoundedRing(t *testing.T) {
	b := mem.NewBackend()
	s := b.OpenStore(&keyward.StoreOptions{TTL: -1, Clock: (&ringClock{ringT0}).now})
	defer s.Close()
	const versions = 3 * keyward.MaxRingPrevious
	for i := 1; i < versions; i++ {
		putRotated(t, s, "K", "ring-canary-"+strconv.Itoa(i), nil)
	}
	var refs []driver.RingRef
	for i := versions - 1; i >= 1; i-- {
		refs = append(refs, driver.RingRef{ID: strconv.Itoa(i), Expires: ringT0.Add(time.Hour)})
	}
	putRotated(t, s, "K", "ring-canary-current", refs)
	before := b.Calls.Load()
	r, err := s.KeyRing(context.Background(), "K")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Previous) != keyward.MaxRingPrevious {
		t.Fatalf("%d previous values, want the newest %d", len(r.Previous), keyward.MaxRingPrevious)
	}
	if r.Previous[0].ID != strconv.Itoa(versions-1) {
		t.Fatalf("first previous value is version %s, want the newest, %d", r.Previous[0].ID, versions-1)
	}
	if reads := b.Calls.Load() - before; reads > keyward.MaxRingPrevious+1 {
		t.Fatalf("a ring listing %d versions made %d provider reads, want at most %d", versions-1, reads, keyward.MaxRingPrevious+1)
	}
}

type roDriver struct{ d driver.Store }

func (r roDriver) Get(ctx context.Context, k, v string) (*driver.Value, error) {
	return r.d.Get(ctx, k, v)
}
func (r roDriver) ErrorCode(err error) driver.Code { return r.d.ErrorCode(err) }
func (r roDriver) Close() error                    { return nil }

func TestKeyRingReadOnlyIsCurrentOnly(t *testing.T) {
	ctx := context.Background()
	b := mem.NewBackend()
	w := b.OpenStore(nil)
	for k, v := range map[string]string{"K": "ro-canary-cur", "K_OLD": "ro-canary-old"} {
		if _, err := w.Put(ctx, k, keyward.NewSecretString(v), nil); err != nil {
			t.Fatal(err)
		}
	}
	s := keyward.NewStore(roDriver{b.Driver()}, &keyward.StoreOptions{TTL: -1})
	r, err := s.KeyRing(ctx, "K")
	if err != nil {
		t.Fatal(err)
	}
	if r.Current.Secret.RevealString() != "ro-canary-cur" || len(r.Previous) != 0 {
		t.Fatalf("read-only ring: %d previous", len(r.Previous))
	}
}

type fieldsDriver struct {
	driver.Store
	driver.Writer
	driver.Deleter
}

func (fieldsDriver) RotationLayout(string) driver.RotationLayout { return driver.LayoutFields }

func TestKeyRingFieldsAndBadRecord(t *testing.T) {
	ctx := context.Background()
	md := mem.NewBackend().Driver()
	s := keyward.NewStore(fieldsDriver{md, md.(driver.Writer), md.(driver.Deleter)}, &keyward.StoreOptions{TTL: -1, URL: "mem://fields"})
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	rec := &keyward.RotationRecord{ID: "4", RotatedAt: time.Now().UTC(), Previous: []driver.RingRef{{ID: "3", Expires: exp}}}
	for k, v := range map[string]string{"K": "fields-canary-cur", "K_OLD": "fields-canary-old", "K_ROTATION": string(rec.Encode())} {
		if _, err := s.Put(ctx, k, keyward.NewSecretString(v), nil); err != nil {
			t.Fatal(err)
		}
	}
	r, err := s.KeyRing(ctx, "K")
	if err != nil {
		t.Fatal(err)
	}
	if r.Current.ID != "4" || len(r.Previous) != 1 || r.Previous[0].ID != "3" || !r.Previous[0].Expires.Equal(exp) {
		t.Fatalf("fields ring: current %q previous %+v", r.Current.ID, r.Previous)
	}
	// A damaged record fails cleanly, naming no value.
	if _, err := s.Put(ctx, "K_ROTATION", keyward.NewSecretString("{not json fields-canary-rec"), nil); err != nil {
		t.Fatal(err)
	}
	_, err = s.KeyRing(ctx, "K")
	if keyward.ErrorCode(err) != keyward.FailedPrecondition {
		t.Fatalf("bad record: %v, want failed precondition", err)
	}
	if strings.Contains(err.Error(), "fields-canary") {
		t.Fatal("the error quotes a stored value")
	}
}

func TestKeyRingErrorsAndAudit(t *testing.T) {
	ctx := context.Background()
	var events []*keyward.Event
	s := mem.NewBackend().OpenStore(&keyward.StoreOptions{TTL: -1, Audit: func(_ context.Context, e *keyward.Event) error {
		events = append(events, e)
		return nil
	}})
	if _, err := s.KeyRing(ctx, ""); keyward.ErrorCode(err) != keyward.InvalidArgument {
		t.Fatalf("empty key: %v", err)
	}
	if _, err := s.KeyRing(ctx, "NOPE"); keyward.ErrorCode(err) != keyward.NotFound {
		t.Fatalf("missing key: %v", err)
	}
	if _, err := s.Put(ctx, "K", keyward.NewSecretString("audit-canary"), nil); err != nil {
		t.Fatal(err)
	}
	events = nil
	if _, err := s.KeyRing(ctx, "K"); err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Action != "keyring" || events[0].Key != "K" || events[0].Code != keyward.OK {
		t.Fatalf("audit events: %+v", events)
	}
	s.Close()
	if _, err := s.KeyRing(ctx, "K"); keyward.ErrorCode(err) != keyward.FailedPrecondition {
		t.Fatalf("closed store: %v", err)
	}
}
