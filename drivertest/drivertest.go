// Package drivertest is the conformance suite that defines a correct
// keyward provider. Every provider runs it from its own test file with a
// small Harness:
//
//	func TestConformance(t *testing.T) {
//		drivertest.RunConformanceTests(t, newHarness)
//	}
//
// Each case has a name and an explanation of why it matters; a failure
// names the case. Cases that need an ability the driver lacks instead
// check that the portable Store answers Unimplemented.
package drivertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/plugin"
)

// Caps says what values and features the backend supports.
type Caps struct {
	// BinaryValues: values may hold NUL bytes and invalid UTF-8.
	BinaryValues bool
	// CheckAndSet: Writer honours PutOptions.IfVersion.
	CheckAndSet bool
	// TrimsTrailingNewline: values read back without trailing newlines
	// (Docker *_FILE convention). Cases then avoid trailing newlines.
	TrimsTrailingNewline bool
	// ConcurrentWriters is how many goroutines write at once in the
	// concurrency case (default 8).
	ConcurrentWriters int
}

// Harness gives the suite a fresh backend and a way to seed it.
type Harness interface {
	// MakeDriver returns a driver over the harness's backend.
	MakeDriver(ctx context.Context) (driver.Store, error)
	// Seed makes key hold data, as a new version where the backend keeps
	// versions. Read-only providers seed by writing their backend directly
	// (the environment, a file); writable ones may use the driver.
	Seed(ctx context.Context, key string, data []byte) error
	// Caps describes the backend.
	Caps() Caps
	// Close releases the backend.
	Close()
}

// HarnessMaker makes a new Harness for one test case.
type HarnessMaker func(ctx context.Context, t *testing.T) (Harness, error)

type testCase struct {
	name string
	why  string
	run  func(t *testing.T, ctx context.Context, h Harness, d driver.Store, s *keyward.Store)
}

// RunConformanceTests runs every case as a subtest, each with a fresh
// harness: first against the driver itself, then again under "plugin/"
// with the driver served through the plugin protocol (plugin.Loopback),
// so a provider shipped as a plugin program is held to exactly the same
// contract as one linked in-process.
func RunConformanceTests(t *testing.T, newHarness HarnessMaker) {
	t.Helper()
	runCases(t, newHarness, false)
	t.Run("plugin", func(t *testing.T) { runCases(t, newHarness, true) })
}

func runCases(t *testing.T, newHarness HarnessMaker, viaPlugin bool) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			h, err := newHarness(ctx, t)
			if err != nil {
				t.Fatalf("making harness: %v", err)
			}
			defer h.Close()
			d, err := h.MakeDriver(ctx)
			if err != nil {
				t.Fatalf("making driver: %v", err)
			}
			if viaPlugin {
				if d, err = plugin.Loopback(ctx, "conformance", d); err != nil {
					t.Fatalf("serving the driver through the plugin protocol: %v", err)
				}
			}
			// No cache, no retries: the suite tests the driver itself.
			s := keyward.NewStore(d, &keyward.StoreOptions{TTL: -1, Retries: -1, URL: "conformance://"})
			defer s.Close()
			defer func() {
				if t.Failed() {
					t.Logf("case %s: %s", tc.name, tc.why)
				}
			}()
			tc.run(t, ctx, h, d, s)
		})
	}
}

func canary() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "KWCANARY" + hex.EncodeToString(b)
}

func mustSeed(t *testing.T, ctx context.Context, h Harness, key string, data []byte) {
	t.Helper()
	if err := h.Seed(ctx, key, data); err != nil {
		t.Fatalf("seeding %s: %v", key, err)
	}
}

func wantValue(t *testing.T, ctx context.Context, s *keyward.Store, key string, want []byte) *keyward.Value {
	t.Helper()
	v, err := s.GetValue(ctx, key, nil)
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	if !bytes.Equal(v.Secret.Reveal(), want) {
		// Never print values: say how they differ in length and first byte index.
		t.Fatalf("Get(%s): value differs from what was seeded (got %d bytes, want %d, first difference at byte %d)",
			key, v.Secret.Len(), len(want), firstDiff(v.Secret.Reveal(), want))
	}
	return v
}

func firstDiff(a, b []byte) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func wantCode(t *testing.T, what string, err error, codes ...keyward.Code) {
	t.Helper()
	got := keyward.ErrorCode(err)
	if !slices.Contains(codes, got) {
		t.Fatalf("%s: got code %v (%v), want one of %v", what, got, err, codes)
	}
}

func normKey(k string) string { return strings.ReplaceAll(strings.ToLower(k), "-", "_") }

var cases = []testCase{
	{
		name: "GetMissingIsNotFound",
		why:  "callers branch on NotFound (defaults, validation) and must be able to tell it from an outage",
		run: func(t *testing.T, ctx context.Context, h Harness, d driver.Store, s *keyward.Store) {
			_, err := s.Get(ctx, "KW_MISSING_KEY")
			wantCode(t, "Get of a missing key", err, keyward.NotFound)
			if !errors.Is(err, keyward.ErrNotFound) {
				t.Fatalf("errors.Is(err, ErrNotFound) is false for %v", err)
			}
			if _, err := d.Get(ctx, "KW_MISSING_KEY", ""); d.ErrorCode(err) != driver.NotFound {
				t.Fatalf("driver ErrorCode of a missing key = %v, want NotFound", d.ErrorCode(err))
			}
		},
	},
	{
		name: "RoundTrip",
		why:  "the value read must be exactly the value stored",
		run: func(t *testing.T, ctx context.Context, h Harness, d driver.Store, s *keyward.Store) {
			mustSeed(t, ctx, h, "KW_ROUND_TRIP", []byte("s3cr3t-value_with.punctuation!"))
			wantValue(t, ctx, s, "KW_ROUND_TRIP", []byte("s3cr3t-value_with.punctuation!"))
		},
	},
	{
		name: "UnicodeValue",
		why:  "passwords contain non-ASCII characters; they must survive byte for byte",
		run: func(t *testing.T, ctx context.Context, h Harness, d driver.Store, s *keyward.Store) {
			v := []byte("pässwörd-🔑-秘密-ключ")
			mustSeed(t, ctx, h, "KW_UNICODE", v)
			wantValue(t, ctx, s, "KW_UNICODE", v)
		},
	},
	{
		name: "SpecialCharacters",
		why:  "quotes, dollars, backslashes, hashes and equals signs are common in generated secrets and URLs",
		run: func(t *testing.T, ctx context.Context, h Harness, d driver.Store, s *keyward.Store) {
			v := []byte(`a"b'c$d\e#f=g h` + "`i`" + `${NOT_EXPANDED}`)
			mustSeed(t, ctx, h, "KW_SPECIAL", v)
			wantValue(t, ctx, s, "KW_SPECIAL", v)
		},
	},
	{
		name: "MultilineValue",
		why:  "PEM keys and certificates span lines",
		run: func(t *testing.T, ctx context.Context, h Harness, d driver.Store, s *keyward.Store) {
			v := []byte("-----BEGIN TEST KEY-----\nAAAA\n  BBBB\n-----END TEST KEY-----")
			mustSeed(t, ctx, h, "KW_MULTILINE", v)
			wantValue(t, ctx, s, "KW_MULTILINE", v)
		},
	},
	{
		name: "BinaryValue",
		why:  "raw keys are bytes, not text; backends that can hold them must not mangle them",
		run: func(t *testing.T, ctx context.Context, h Harness, d driver.Store, s *keyward.Store) {
			if !h.Caps().BinaryValues {
				t.Skip("backend holds text only (Caps.BinaryValues is false)")
			}
			v := make([]byte, 256)
			for i := range v {
				v[i] = byte(i)
			}
			mustSeed(t, ctx, h, "KW_BINARY", v)
			wantValue(t, ctx, s, "KW_BINARY", v)
		},
	},
	{
		name: "UpdateReadsNewest",
		why:  "after a rotation the current value must be the new one",
		run: func(t *testing.T, ctx context.Context, h Harness, d driver.Store, s *keyward.Store) {
			mustSeed(t, ctx, h, "KW_UPDATED", []byte("first-value"))
			mustSeed(t, ctx, h, "KW_UPDATED", []byte("second-value"))
			wantValue(t, ctx, s, "KW_UPDATED", []byte("second-value"))
		},
	},
	{
		name: "Versions",
		why:  "rotation with a grace period needs the previous version to stay readable by id",
		run: func(t *testing.T, ctx context.Context, h Harness, d driver.Store, s *keyward.Store) {
			if !driver.Has(d, driver.AbilityVersions) {
				_, err := s.History(ctx, "KW_VERSIONED")
				wantCode(t, "History without Versioner", err, keyward.Unimplemented)
				return
			}
			mustSeed(t, ctx, h, "KW_VERSIONED", []byte("version-one"))
			mustSeed(t, ctx, h, "KW_VERSIONED", []byte("version-two"))
			vs, err := s.History(ctx, "KW_VERSIONED")
			if err != nil {
				t.Fatalf("History: %v", err)
			}
			if len(vs) < 2 {
				t.Fatalf("History has %d versions, want at least 2", len(vs))
			}
			first, last := vs[len(vs)-2], vs[len(vs)-1]
			if first.ID == "" || last.ID == "" || first.ID == last.ID {
				t.Fatalf("version ids %q and %q must be distinct and non-empty", first.ID, last.ID)
			}
			if first.Created.IsZero() || last.Created.Before(first.Created) {
				t.Fatalf("versions must carry creation times, oldest first: %v then %v", first.Created, last.Created)
			}
			old, err := s.GetValue(ctx, "KW_VERSIONED", &keyward.GetOptions{Version: first.ID})
			if err != nil {
				t.Fatalf("Get version %s: %v", first.ID, err)
			}
			if string(old.Secret.Reveal()) != "version-one" {
				t.Fatalf("Get version %s returned another version's value", first.ID)
			}
			cur := wantValue(t, ctx, s, "KW_VERSIONED", []byte("version-two"))
			if cur.Version.ID != last.ID {
				t.Fatalf("current version id = %q, want the newest %q", cur.Version.ID, last.ID)
			}
			_, err = s.GetValue(ctx, "KW_VERSIONED", &keyward.GetOptions{Version: "999999"})
			wantCode(t, "Get of a version that does not exist", err, keyward.NotFound)
			_, err = s.History(ctx, "KW_NO_SUCH_KEY")
			wantCode(t, "History of a missing key", err, keyward.NotFound)
		},
	},
	{
		name: "WriteOrUnimplemented",
		why:  "a read-only provider must refuse writes with Unimplemented, never panic or pretend",
		run: func(t *testing.T, ctx context.Context, h Harness, d driver.Store, s *keyward.Store) {
			isWriter := driver.Has(d, driver.AbilityWrite)
			ver, err := s.Put(ctx, "KW_WRITTEN", keyward.NewSecretString("written-value"), nil)
			if !isWriter {
				wantCode(t, "Put on a read-only provider", err, keyward.Unimplemented)
				return
			}
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			got := wantValue(t, ctx, s, "KW_WRITTEN", []byte("written-value"))
			if ver.ID != "" && got.Version.ID != ver.ID {
				t.Fatalf("Put returned version %q but Get reads version %q", ver.ID, got.Version.ID)
			}
		},
	},
	{
		name: "CheckAndSet",
		why:  "two concurrent rotations must not both win; a stale writer gets FailedPrecondition",
		run: func(t *testing.T, ctx context.Context, h Harness, d driver.Store, s *keyward.Store) {
			if !driver.Has(d, driver.AbilityWrite) || !h.Caps().CheckAndSet {
				t.Skip("no check-and-set writes")
			}
			v1, err := s.Put(ctx, "KW_CAS", keyward.NewSecretString("cas-one"), nil)
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			_, err = s.Put(ctx, "KW_CAS", keyward.NewSecretString("cas-two"), &keyward.PutOptions{IfVersion: v1.ID})
			if err != nil {
				t.Fatalf("Put with the current version: %v", err)
			}
			_, err = s.Put(ctx, "KW_CAS", keyward.NewSecretString("cas-three"), &keyward.PutOptions{IfVersion: v1.ID})
			wantCode(t, "Put with a stale version", err, keyward.FailedPrecondition)
			_, err = s.Put(ctx, "KW_CAS", keyward.NewSecretString("cas-four"), &keyward.PutOptions{IfVersion: "0"})
			wantCode(t, "create-only Put of an existing key", err, keyward.FailedPrecondition, keyward.AlreadyExists)
			wantValue(t, ctx, s, "KW_CAS", []byte("cas-two"))
		},
	},
	{
		name: "DeleteOrUnimplemented",
		why:  "a deleted secret must stop being served",
		run: func(t *testing.T, ctx context.Context, h Harness, d driver.Store, s *keyward.Store) {
			mustSeed(t, ctx, h, "KW_DELETED", []byte("to-be-deleted"))
			err := s.Delete(ctx, "KW_DELETED")
			if !driver.Has(d, driver.AbilityDelete) {
				wantCode(t, "Delete on a provider without Deleter", err, keyward.Unimplemented)
				return
			}
			if err != nil {
				t.Fatalf("Delete: %v", err)
			}
			_, err = s.Get(ctx, "KW_DELETED")
			wantCode(t, "Get after Delete", err, keyward.NotFound)
			wantCode(t, "Delete of a missing key", s.Delete(ctx, "KW_DELETED"), keyward.NotFound)
		},
	},
	{
		name: "ListOrUnimplemented",
		why:  "list, export and run enumerate the store; they must see every key and no values",
		run: func(t *testing.T, ctx context.Context, h Harness, d driver.Store, s *keyward.Store) {
			c := canary()
			mustSeed(t, ctx, h, "KW_LIST_A", []byte(c))
			mustSeed(t, ctx, h, "KW_LIST_B", []byte("b-value"))
			infos, err := s.List(ctx)
			if !driver.Has(d, driver.AbilityList) {
				wantCode(t, "List on a provider without Lister", err, keyward.Unimplemented)
				return
			}
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			seen := map[string]bool{}
			for _, ki := range infos {
				seen[normKey(ki.Key)] = true
				if strings.Contains(fmt.Sprintf("%+v", ki), c) {
					t.Fatalf("List output carries a secret value")
				}
			}
			for _, k := range []string{"KW_LIST_A", "KW_LIST_B"} {
				if !seen[normKey(k)] {
					t.Fatalf("List does not include %s (got %d keys)", k, len(infos))
				}
			}
		},
	},
	{
		name: "BatchGet",
		why:  "run and export read many keys; batching must return the same values as Get and skip missing keys",
		run: func(t *testing.T, ctx context.Context, h Harness, d driver.Store, s *keyward.Store) {
			mustSeed(t, ctx, h, "KW_BATCH_A", []byte("batch-a"))
			mustSeed(t, ctx, h, "KW_BATCH_B", []byte("batch-b"))
			got, err := s.GetMany(ctx, []string{"KW_BATCH_A", "KW_BATCH_B", "KW_BATCH_MISSING"})
			if err == nil {
				t.Fatalf("GetMany with a missing key returned no error")
			}
			wantCode(t, "GetMany's error for the missing key", err, keyward.NotFound)
			if len(got) != 2 || string(got["KW_BATCH_A"].Secret.Reveal()) != "batch-a" || string(got["KW_BATCH_B"].Secret.Reveal()) != "batch-b" {
				t.Fatalf("GetMany returned %d values or wrong ones", len(got))
			}
		},
	},
	{
		name: "CanceledContext",
		why:  "a caller that gave up must get its error promptly, classified as Canceled",
		run: func(t *testing.T, ctx context.Context, h Harness, d driver.Store, s *keyward.Store) {
			mustSeed(t, ctx, h, "KW_CANCELED", []byte("value"))
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			_, err := s.Get(cctx, "KW_CANCELED")
			wantCode(t, "Get with a cancelled context", err, keyward.Canceled)
			if _, err := d.Get(cctx, "KW_CANCELED", ""); err == nil {
				t.Fatalf("driver Get with a cancelled context succeeded")
			}
		},
	},
	{
		name: "NoSecretInErrors",
		why:  "errors are logged and shown; a value in an error string is a leak",
		run: func(t *testing.T, ctx context.Context, h Harness, d driver.Store, s *keyward.Store) {
			c := canary()
			mustSeed(t, ctx, h, "KW_CANARY", []byte(c))
			var errs []error
			_, err := s.GetValue(ctx, "KW_CANARY", &keyward.GetOptions{Version: "999999"})
			errs = append(errs, err)
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			_, err = d.Get(cctx, "KW_CANARY", "")
			errs = append(errs, err)
			if driver.Has(d, driver.AbilityWrite) && h.Caps().CheckAndSet {
				_, err = s.Put(ctx, "KW_CANARY", keyward.NewSecretString(c+"-next"), &keyward.PutOptions{IfVersion: "999999"})
				errs = append(errs, err)
			}
			_, err = s.Put(ctx, "", keyward.NewSecretString(c), nil)
			errs = append(errs, err)
			for i, err := range errs {
				if err != nil && strings.Contains(fmt.Sprintf("%v %+v %#v", err, err, err), c) {
					t.Fatalf("error %d contains the secret value", i)
				}
			}
			v := wantValue(t, ctx, s, "KW_CANARY", []byte(c))
			for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
				if strings.Contains(fmt.Sprintf(f, v), c) || strings.Contains(fmt.Sprintf(f, v.Secret), c) {
					t.Fatalf("formatting a Value with %s reveals the secret", f)
				}
			}
		},
	},
	{
		name: "Concurrency",
		why:  "services read from many goroutines while operators write; no race, no lost update",
		run: func(t *testing.T, ctx context.Context, h Harness, d driver.Store, s *keyward.Store) {
			mustSeed(t, ctx, h, "KW_CONCURRENT", []byte("initial"))
			n := h.Caps().ConcurrentWriters
			if n == 0 {
				n = 8
			}
			isWriter := driver.Has(d, driver.AbilityWrite)
			var wg sync.WaitGroup
			errc := make(chan error, 4*n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 5 {
						if _, err := s.Get(ctx, "KW_CONCURRENT"); err != nil {
							errc <- fmt.Errorf("reader: %w", err)
							return
						}
					}
				}()
				if isWriter {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for j := range 3 {
							if _, err := s.Put(ctx, "KW_CONCURRENT", keyward.NewSecretString(fmt.Sprintf("writer-%d-%d", i, j)), nil); err != nil {
								errc <- fmt.Errorf("writer: %w", err)
								return
							}
						}
					}()
				}
			}
			wg.Wait()
			close(errc)
			for err := range errc {
				t.Fatal(err)
			}
			if driver.Has(d, driver.AbilityVersions) && isWriter {
				vs, err := s.History(ctx, "KW_CONCURRENT")
				if err != nil {
					t.Fatalf("History: %v", err)
				}
				if want := 1 + 3*n; len(vs) < want {
					t.Fatalf("after %d concurrent writes there are %d versions, want %d: an update was lost", 3*n, len(vs), want)
				}
			}
		},
	},
	{
		name: "CheckAndSetNeverLosesAWrite",
		why: "every write reported successful under check-and-set must count: 3 writers x 20 increments of a counter " +
			"end at exactly the number of successes, and every failure is a conflict that changed nothing",
		run: func(t *testing.T, ctx context.Context, h Harness, d driver.Store, s *keyward.Store) {
			if !driver.Has(d, driver.AbilityWrite) || !h.Caps().CheckAndSet {
				t.Skip("no check-and-set writes")
			}
			if _, err := s.Put(ctx, "KW_COUNTER", keyward.NewSecretString("0"), &keyward.PutOptions{IfVersion: "0"}); err != nil {
				t.Fatalf("create-only Put of the counter: %v", err)
			}
			const writers, attempts = 3, 20
			var mu sync.Mutex
			successes := 0
			var wg sync.WaitGroup
			errc := make(chan error, writers*attempts)
			for range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range attempts {
						v, err := s.GetValue(ctx, "KW_COUNTER", nil)
						if err != nil {
							errc <- fmt.Errorf("get: %w", err)
							return
						}
						var n int
						if _, err := fmt.Sscan(v.Secret.RevealString(), &n); err != nil {
							errc <- errors.New("the counter is not a number")
							return
						}
						_, err = s.Put(ctx, "KW_COUNTER", keyward.NewSecretString(fmt.Sprint(n+1)), &keyward.PutOptions{IfVersion: v.Version.ID})
						switch keyward.ErrorCode(err) {
						case keyward.OK:
							mu.Lock()
							successes++
							mu.Unlock()
						case keyward.FailedPrecondition:
						default:
							errc <- fmt.Errorf("put with IfVersion: %w", err)
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errc)
			for err := range errc {
				t.Fatal(err)
			}
			if successes == 0 {
				t.Fatal("no check-and-set write succeeded")
			}
			wantValue(t, ctx, s, "KW_COUNTER", []byte(fmt.Sprint(successes)))
		},
	},
}
