// Package providertest holds the test helpers provider packages share,
// where their tests had been copies of one another: a table of store URLs,
// the guide's name mapping, a read through an injected fault, stale-if-error
// during an outage, change stamps, and a live conformance harness that
// keeps a run's secrets under a prefix of its own.
//
// Failure messages name codes, lengths and counts, never a value.
package providertest

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/drivertest"
)

// Open returns the store open makes, closed when t ends; an error fails t.
func Open(t testing.TB, open func() (*keyward.Store, error)) *keyward.Store {
	t.Helper()
	s, err := open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// URLCase is one store URL and the error it must fail with ("" opens).
type URLCase struct {
	URL     string
	WantErr string
}

// OpenURLs opens each case's URL with open (a provider's OpenURL): a case
// without WantErr must open (the driver is closed again), one with WantErr
// must fail with an error that contains it.
func OpenURLs(t *testing.T, open func(context.Context, *url.URL) (driver.Store, error), cases []URLCase) {
	t.Helper()
	for _, tc := range cases {
		u, err := url.Parse(tc.URL)
		if err != nil {
			t.Fatal(err)
		}
		d, err := open(context.Background(), u)
		switch {
		case tc.WantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.URL, err)
		case tc.WantErr == "":
			d.Close()
		case err == nil:
			d.Close()
			t.Errorf("%s opened, want an error containing %q", tc.URL, tc.WantErr)
		case !strings.Contains(err.Error(), tc.WantErr):
			t.Errorf("%s: error %v, want one containing %q", tc.URL, err, tc.WantErr)
		}
	}
}

// EndpointCases are the query cases gcpsm:// and azurekv:// URLs share
// (internal/cloudsm), on base, a URL without a query: names=, endpoint=
// with its loopback rule for plaintext, unknown parameters.
func EndpointCases(base string) []URLCase {
	return []URLCase{
		{URL: base + "?names=exact"},
		{URL: base + "?names=guide"},
		{URL: base + "?endpoint=http://localhost:8085"},
		{URL: base + "?endpoint=http://[::1]:8085/"},
		{URL: base + "?endpoint=https://secrets.example.com:443"},
		{URL: base + "?endpoint=http://10.0.0.1:8085", WantErr: "refusing plaintext endpoint"},
		{URL: base + "?endpoint=http://secrets.example.com:80", WantErr: "refusing plaintext endpoint"},
		{URL: base + "?endpoint=ftp://127.0.0.1:1", WantErr: "scheme"},
		{URL: base + "?names=other", WantErr: "names= must be guide or exact"},
		{URL: base + "?bogus=1", WantErr: "unknown query parameter"},
	}
}

// GuideNames checks the guide's key → secret-name mapping on a store that
// holds value under the guide's name of aliases[0]: every alias reads
// value, List reports wantList (keys joined by ","), every listed key reads
// back, and a key that cannot be a secret name ("bad.key") is
// InvalidArgument.
func GuideNames(t *testing.T, s *keyward.Store, value string, aliases []string, wantList string) {
	t.Helper()
	ctx := context.Background()
	for _, key := range aliases {
		v, err := s.Get(ctx, key)
		if err != nil {
			t.Fatalf("Get(%s): %v", key, err)
		}
		if v.RevealString() != value {
			t.Fatalf("Get(%s) read another secret's value (%d bytes)", key, v.Len())
		}
	}
	infos, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, ki := range infos {
		keys = append(keys, ki.Key)
		if _, err := s.Get(ctx, ki.Key); err != nil {
			t.Fatalf("a listed key does not read back: %s: %v", ki.Key, err)
		}
	}
	if got := strings.Join(keys, ","); got != wantList {
		t.Fatalf("List = %s, want %s", got, wantList)
	}
	if _, err := s.Get(ctx, "bad.key"); keyward.ErrorCode(err) != keyward.InvalidArgument {
		t.Fatalf("Get of a key that cannot be a secret name: code %v, want InvalidArgument", keyward.ErrorCode(err))
	}
}

// FaultGet reads key from s through an injected fault and checks the
// outcome: the code, the value (canary) when the read succeeds, no canary in
// the error (under %v and %+v), and, when wantCalls > 0, the number of
// requests calls counted.
func FaultGet(t *testing.T, s *keyward.Store, key, canary string, wantCode keyward.Code, calls func() int, wantCalls int) {
	t.Helper()
	v, err := s.Get(context.Background(), key)
	if got := keyward.ErrorCode(err); got != wantCode {
		t.Fatalf("code %v (%v), want %v", got, err, wantCode)
	}
	if err == nil && v.RevealString() != canary {
		t.Fatalf("read a different value (%d bytes)", v.Len())
	}
	if err != nil && strings.Contains(fmt.Sprintf("%v %+v", err, err), canary) {
		t.Fatalf("the error carries the secret value")
	}
	if wantCalls > 0 && calls() != wantCalls {
		t.Fatalf("the read reached the server %d times, want %d", calls(), wantCalls)
	}
}

// StaleIfError checks stale-if-error through keyward.Store: open makes a
// store (with the options given) over a server holding value under key;
// outage makes the server fail every request as unavailable, and deny as
// permission denied. Within MaxStale an outage serves the cached value
// marked stale; a denial is not an outage and serves nothing.
func StaleIfError(t *testing.T, open func(*keyward.StoreOptions) *keyward.Store, key, value string, outage, deny func()) {
	t.Helper()
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	s := open(&keyward.StoreOptions{TTL: time.Minute, MaxStale: time.Hour, Retries: 1,
		RetryBase: time.Millisecond, Clock: func() time.Time { return now }})
	if _, err := s.Get(ctx, key); err != nil {
		t.Fatal(err)
	}
	outage()
	now = now.Add(10 * time.Minute)
	v, err := s.GetValue(ctx, key, nil)
	if err != nil {
		t.Fatalf("during an outage, within MaxStale: %v", err)
	}
	if !v.Stale || v.Secret.RevealString() != value {
		t.Fatalf("want the cached value marked stale (stale=%v)", v.Stale)
	}
	deny()
	if _, err := s.GetValue(ctx, key, nil); keyward.ErrorCode(err) != keyward.PermissionDenied {
		t.Fatalf("permission denied during staleness: %v, want PermissionDenied", err)
	}
}

// Harness is a drivertest.Harness made of functions, over a backend the
// test owns (an in-process server).
type Harness struct {
	// Open returns a driver over the backend.
	Open func() (driver.Store, error)
	// SeedFunc writes a key straight into the backend; nil seeds with a
	// Put through a driver from Open.
	SeedFunc func(key string, data []byte) error
	// Capabilities is what Caps reports.
	Capabilities drivertest.Caps
}

// MakeDriver implements drivertest.Harness.
func (h *Harness) MakeDriver(context.Context) (driver.Store, error) { return h.Open() }

// Seed implements drivertest.Harness.
func (h *Harness) Seed(ctx context.Context, key string, data []byte) error {
	if h.SeedFunc != nil {
		return h.SeedFunc(key, data)
	}
	return seed(ctx, h, key, data)
}

// Caps implements drivertest.Harness.
func (h *Harness) Caps() drivertest.Caps { return h.Capabilities }

// Close implements drivertest.Harness; the backend's owner stops it.
func (h *Harness) Close() {}

// seed writes key through a new driver of h.
func seed(ctx context.Context, h drivertest.Harness, key string, data []byte) error {
	d, err := h.MakeDriver(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	_, err = d.(driver.Writer).Put(ctx, key, data, nil)
	return err
}

// Live is a drivertest.Harness for a real service shared with other
// users: every key is prefixed with Prefix, so a run touches only its own
// secrets, and Close deletes every key the run wrote.
type Live struct {
	// Prefix starts every key of the run (e.g. KWTEST_<random>_; keep it
	// upper case and digits where List maps names back to keys).
	Prefix string
	// Open returns a driver over the service.
	Open func() (driver.Store, error)
	// Capabilities is what Caps reports.
	Capabilities drivertest.Caps

	mu      sync.Mutex
	drivers []driver.Store
	keys    map[string]bool
}

// MakeDriver implements drivertest.Harness.
func (h *Live) MakeDriver(context.Context) (driver.Store, error) {
	d, err := h.Open()
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.drivers = append(h.drivers, d)
	h.mu.Unlock()
	return &prefixed{d: d, h: h}, nil
}

// Seed implements drivertest.Harness.
func (h *Live) Seed(ctx context.Context, key string, data []byte) error {
	return seed(ctx, h, key, data)
}

// Caps implements drivertest.Harness.
func (h *Live) Caps() drivertest.Caps { return h.Capabilities }

// Close implements drivertest.Harness: it deletes the run's keys.
func (h *Live) Close() {
	ctx := context.Background()
	h.mu.Lock()
	defer h.mu.Unlock()
	for k := range h.keys {
		_ = h.drivers[0].(driver.Deleter).Delete(ctx, k)
	}
	for _, d := range h.drivers {
		d.Close()
	}
}

// prefixed maps every key into the run's namespace and records the keys it
// wrote so Close can delete them.
type prefixed struct {
	d driver.Store
	h *Live
}

func (p *prefixed) written(key string) string {
	p.h.mu.Lock()
	defer p.h.mu.Unlock()
	if p.h.keys == nil {
		p.h.keys = map[string]bool{}
	}
	p.h.keys[p.h.Prefix+key] = true
	return p.h.Prefix + key
}

func (p *prefixed) Get(ctx context.Context, key, v string) (*driver.Value, error) {
	return p.d.Get(ctx, p.h.Prefix+key, v)
}
func (p *prefixed) ErrorCode(err error) driver.Code { return p.d.ErrorCode(err) }
func (p *prefixed) Close() error                    { return nil }
func (p *prefixed) Put(ctx context.Context, key string, data []byte, o *driver.PutOptions) (driver.Version, error) {
	return p.d.(driver.Writer).Put(ctx, p.written(key), data, o)
}
func (p *prefixed) Delete(ctx context.Context, key string) error {
	return p.d.(driver.Deleter).Delete(ctx, p.h.Prefix+key)
}
func (p *prefixed) Versions(ctx context.Context, key string) ([]driver.Version, error) {
	return p.d.(driver.Versioner).Versions(ctx, p.h.Prefix+key)
}
func (p *prefixed) List(ctx context.Context) ([]driver.KeyInfo, error) {
	all, err := p.d.(driver.Lister).List(ctx)
	var out []driver.KeyInfo
	for _, ki := range all {
		if rest, ok := strings.CutPrefix(ki.Key, p.h.Prefix); ok {
			ki.Key = rest
			out = append(out, ki)
		}
	}
	return out, err
}

// Stamps checks d's driver.ChangeStamper over keys A and B (and a key
// MISSING, never written): no stamp before any write; a write to B changes
// B's stamp, and A's exactly when perKey is false (a bundle, whose stamp
// every key shares); a missing key has no stamp when perKey; nothing
// changes without a write. The values written are canaries no message
// repeats.
func Stamps(t *testing.T, d driver.Store, perKey bool) {
	t.Helper()
	ctx := context.Background()
	cs := d.(driver.ChangeStamper)
	put := func(k string) {
		t.Helper()
		if _, err := d.(driver.Writer).Put(ctx, k, []byte("stamps-canary-"+k), nil); err != nil {
			t.Fatal(err)
		}
	}
	stamps := func() map[string]string {
		t.Helper()
		st, err := cs.Stamps(ctx, []string{"A", "B", "MISSING"})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := st["MISSING"]; ok && perKey {
			t.Fatal("a missing key has a stamp")
		}
		return st
	}
	if st := stamps(); len(st) != 0 {
		t.Fatalf("no secret yet: %d stamps", len(st))
	}
	put("A")
	put("B")
	s1 := stamps()
	put("B")
	s2 := stamps()
	if s1["B"] == s2["B"] {
		t.Fatal("B's stamp did not change with a write to B")
	}
	if changed := s1["A"] != s2["A"]; changed == perKey {
		t.Fatalf("A's stamp changed = %v with a write to B (one stamp per key: %v)", changed, perKey)
	}
	if s3 := stamps(); s3["A"] != s2["A"] || s3["B"] != s2["B"] {
		t.Fatal("stamps changed without a write")
	}
}
