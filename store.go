package keyward

import (
	"context"
	"errors"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/keyward/keyward/driver"
)

// Defaults for StoreOptions fields left at zero.
const (
	DefaultTTL       = 5 * time.Minute
	DefaultMaxStale  = time.Hour
	DefaultTimeout   = 30 * time.Second
	DefaultRetries   = 3
	DefaultRetryBase = 100 * time.Millisecond
	maxRetryDelay    = 10 * time.Second
	batchParallelism = 16
)

// StoreOptions tunes a Store. A nil *StoreOptions means all defaults.
type StoreOptions struct {
	// TTL is how long a fetched value is served from the cache. Zero means
	// DefaultTTL; negative disables the cache (stale-if-error too).
	TTL time.Duration
	// MaxStale is how long past its TTL a cached value may still be served
	// when the provider is unavailable. Zero means DefaultMaxStale; negative
	// disables stale-if-error.
	MaxStale time.Duration
	// Timeout bounds each provider call (including retries) when the
	// caller's context has no earlier deadline. Zero means DefaultTimeout.
	Timeout time.Duration
	// Retries is how many times a call that failed with Unavailable is
	// retried, with jittered exponential backoff. Zero means DefaultRetries;
	// negative means never.
	Retries int
	// RetryBase is the first backoff delay. Zero means DefaultRetryBase.
	RetryBase time.Duration
	// URL names the store in errors and audit records. Credentials must
	// already be removed (see RedactURL); OpenStore sets it.
	URL string
	// Environment names the environment (from keyward.yaml) for audit records.
	Environment string
	// Audit, if set, receives one Event per operation.
	Audit func(context.Context, *Event) error
	// AuditRequired denies an operation whose audit record cannot be written
	// (fail-closed). Reads are checked before the value is returned.
	AuditRequired bool
	// Clock replaces time.Now (tests).
	Clock func() time.Time
}

// Event is what a Store reports to its Audit hook. It never carries a
// secret value in clear: Value is a Secret, which prints as [REDACTED]; an
// audit sink may only derive a keyed HMAC from it.
type Event struct {
	Time        time.Time
	Action      string // get, list, put, delete, history
	Store       string
	Environment string
	Key         string
	Version     string
	Code        Code // OK on success
	Cached      bool // served from the cache
	Stale       bool // served from the cache after the provider failed
	Value       Secret
	// Detail is free text naming keys and versions (never a value), for
	// records a caller adds with Store.Audit (run --watch reloads).
	Detail string
	// Keys, when set, makes this one event for many reads (Key is then
	// empty): a delivery collected with Store.AuditBatch.
	Keys []KeyEvent
}

// Value is a fetched secret with its version and provenance.
type Value struct {
	Key     string
	Secret  Secret
	Version Version
	// Stale reports a value served from the cache because the provider
	// failed with a transient error (see StoreOptions.MaxStale).
	Stale bool
}

// Version describes one version of a secret.
type Version = driver.Version

// KeyInfo describes one listed secret; never its value.
type KeyInfo = driver.KeyInfo

// PutOptions controls Store.Put.
type PutOptions = driver.PutOptions

type cacheKey struct{ key, version string }

// listing records which keys a ListValues round trip held, and when.
type listing struct {
	at   time.Time
	keys map[string]bool
}

// listingWindow is how long a values listing answers key-ring reads: the
// moments between a command's List and its delivery, never a poll later
// (run --watch must see a change at its next poll).
const listingWindow = 2 * time.Second

// listedFresh reports whether key is known to exist (true, true) or known
// absent (false, true) from a values listing made within listingWindow
// (and the TTL).
func (s *Store) listedFresh(key string) (exists, known bool) {
	l := s.listed.Load()
	if l == nil || s.opts.TTL <= 0 || s.now().Sub(l.at) >= min(s.opts.TTL, listingWindow) {
		return false, false
	}
	return l.keys[key], true
}

// cacheListing caches the values a complete values listing brought with
// the names (a ValueLister), so reading the listed keys next costs no
// second round trip, and records which keys it held (listedFresh).
func (s *Store) cacheListing(vals map[string]*driver.Value) {
	keys := make(map[string]bool, len(vals))
	for k, dv := range vals {
		keys[k] = true
		s.store(k, "", &Value{Key: k, Secret: NewSecret(dv.Data), Version: dv.Version})
	}
	s.listed.Store(&listing{at: s.now(), keys: keys})
}

type cacheEntry struct {
	val     *Value
	fetched time.Time
}

// Store is the portable type users hold. It wraps a driver and adds the
// behaviour every provider shares: a TTL cache with one in-flight fetch per
// key, stale-if-error, deadlines, bounded retries, audit and error wrapping.
// A Store is safe for concurrent use.
type Store struct {
	d    driver.Store
	opts StoreOptions

	// cache maps cacheKey → *cacheEntry. A sync.Map, not a map under an
	// RWMutex: cached reads are the hot path of a service, and readers of
	// an RWMutex contend on its reader count, so two cores used to get
	// half the throughput of one.
	cache  sync.Map
	closed atomic.Bool
	// mu serializes Close against cache fills, so a fill never lands after
	// Close emptied the cache.
	mu sync.Mutex
	// listed is the last complete listing that came with its values (a
	// ValueLister): within the TTL, a key it did not hold is known absent.
	listed atomic.Pointer[listing]

	sf singleflight.Group
}

// NewStore wraps a driver. Most users call Open instead.
func NewStore(d driver.Store, opts *StoreOptions) *Store {
	s := &Store{d: d}
	if opts != nil {
		s.opts = *opts
	}
	o := &s.opts
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	if o.MaxStale == 0 {
		o.MaxStale = DefaultMaxStale
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Retries == 0 {
		o.Retries = DefaultRetries
	} else if o.Retries < 0 {
		o.Retries = 0
	}
	if o.RetryBase == 0 {
		o.RetryBase = DefaultRetryBase
	}
	return s
}

// URL is the store's URL without credentials.
func (s *Store) URL() string { return s.opts.URL }

// Environment is the environment name the store was opened for, if any.
func (s *Store) Environment() string { return s.opts.Environment }

// Driver returns the wrapped driver. It is an escape hatch for a
// provider's own methods that no Store method covers (the CLI's list asks a
// Kubernetes store whether its Secret exists; plugin.LoopbackStore serves
// the driver through the plugin protocol). A call through it bypasses
// everything the Store adds — the closed check, the timeout, the cache,
// the audit record — so keyward's own packages never use it for an
// operation the Store has: rotation goes through the Store's rotation
// bridge (StageRotation, PromoteRotation, DisableVersion, ...), and a test
// (TestRotationNeverUsesStoreDriver) keeps package rotation off it.
func (s *Store) Driver() driver.Store { return s.d }

func (s *Store) now() time.Time {
	if s.opts.Clock != nil {
		return s.opts.Clock()
	}
	return time.Now()
}

// Get returns the current value of key.
func (s *Store) Get(ctx context.Context, key string) (Secret, error) {
	v, err := s.get(ctx, key, "")
	if err != nil {
		return Secret{}, err
	}
	return v.Secret, nil
}

// GetOptions selects what GetValue returns.
type GetOptions struct {
	// Version selects a version; "" is the current one.
	Version string
	// NoCache bypasses the cache (the result still refreshes it).
	NoCache bool
}

// GetValue returns key's value together with its version.
func (s *Store) GetValue(ctx context.Context, key string, opts *GetOptions) (*Value, error) {
	var o GetOptions
	if opts != nil {
		o = *opts
	}
	if o.NoCache {
		return s.fetchAndAudit(ctx, key, o.Version, nil, false)
	}
	return s.get(ctx, key, o.Version)
}

func (s *Store) get(ctx context.Context, key, version string) (*Value, error) {
	if key == "" {
		return nil, s.fail(ctx, "get", key, version, &Error{Code: InvalidArgument, Op: "get", Store: s.opts.URL, err: errors.New("empty key")})
	}
	ck := cacheKey{key, version}
	var stale *cacheEntry
	if s.opts.TTL > 0 {
		if s.closed.Load() {
			return nil, s.closedErr("get", key)
		}
		e := s.cached(ck)
		if e != nil {
			if s.now().Sub(e.fetched) < s.opts.TTL {
				if s.opts.Audit != nil {
					if err := s.audit(ctx, &Event{Action: "get", Key: key, Version: e.val.Version.ID, Cached: true, Value: e.val.Secret}); err != nil {
						return nil, err
					}
				}
				return e.val, nil
			}
			stale = e
		}
	}
	return s.fetchAndAudit(ctx, key, version, stale, true)
}

type fetchResult struct {
	v   *Value
	err error
}

func (s *Store) fetchAndAudit(ctx context.Context, key, version string, stale *cacheEntry, cacheOK bool) (*Value, error) {
	if err := s.checkOpen("get", key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, s.fail(ctx, "get", key, version, s.wrap("get", key, err))
	}
	// One in-flight fetch per key: the fetch runs on a context detached from
	// any one caller (bounded by Timeout), and each caller waits on its own.
	ch := s.sf.DoChan(key+"\x00"+version, func() (any, error) {
		// A caller that missed the cache just before another flight
		// filled it must not start a second provider call.
		if cacheOK {
			if v := s.fresh(key, version); v != nil {
				return fetchResult{v, nil}, nil
			}
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.Timeout)
		defer cancel()
		v, err := s.fetch(fctx, key, version)
		return fetchResult{v, err}, nil
	})
	var r fetchResult
	select {
	case res := <-ch:
		r = res.Val.(fetchResult)
	case <-ctx.Done():
		return nil, s.fail(ctx, "get", key, version, s.wrap("get", key, ctx.Err()))
	}
	if r.err != nil {
		code := ErrorCode(r.err)
		if stale != nil && (code == Unavailable || code == DeadlineExceeded) && s.opts.MaxStale > 0 &&
			s.now().Sub(stale.fetched) < s.opts.TTL+s.opts.MaxStale {
			v := *stale.val
			v.Stale = true
			if err := s.audit(ctx, &Event{Action: "get", Key: key, Version: v.Version.ID, Cached: true, Stale: true, Value: v.Secret}); err != nil {
				return nil, err
			}
			return &v, nil
		}
		return nil, s.fail(ctx, "get", key, version, r.err)
	}
	if err := s.audit(ctx, &Event{Action: "get", Key: key, Version: r.v.Version.ID, Value: r.v.Secret}); err != nil {
		return nil, err
	}
	return r.v, nil
}

// fresh returns the cached value of key if it is within its TTL.
func (s *Store) fresh(key, version string) *Value {
	if s.opts.TTL <= 0 {
		return nil
	}
	e := s.cached(cacheKey{key, version})
	if e != nil && s.now().Sub(e.fetched) < s.opts.TTL {
		return e.val
	}
	return nil
}

// fetch calls the driver with retries and fills the cache.
func (s *Store) fetch(ctx context.Context, key, version string) (*Value, error) {
	if vl, ok := able[driver.ValueLister](s, driver.AbilityListValues); ok && version == "" && s.opts.TTL > 0 && vl.ValuesListed() {
		// One request brings every key's value: cache them all.
		var vals map[string]*driver.Value
		err := s.retry(ctx, func(ctx context.Context) error {
			var err error
			_, vals, err = vl.ListValues(ctx)
			return err
		})
		if err != nil {
			return nil, s.wrap("get", key, err)
		}
		s.cacheListing(vals)
		if dv := vals[key]; dv != nil {
			return &Value{Key: key, Secret: NewSecret(dv.Data), Version: dv.Version}, nil
		}
		// Not listed under that name: the driver's own Get answers (it may
		// read the key another way, and says why it is missing).
	}
	var dv *driver.Value
	err := s.retry(ctx, func(ctx context.Context) error {
		var err error
		dv, err = s.d.Get(ctx, key, version)
		return err
	})
	if err != nil {
		return nil, s.wrap("get", key, err)
	}
	v := &Value{Key: key, Secret: NewSecret(dv.Data), Version: dv.Version}
	s.store(key, version, v)
	return v, nil
}

func (s *Store) store(key, version string, v *Value) {
	if s.opts.TTL <= 0 {
		return
	}
	s.mu.Lock()
	if !s.closed.Load() {
		s.cache.Store(cacheKey{key, version}, &cacheEntry{val: v, fetched: s.now()})
	}
	s.mu.Unlock()
}

func (s *Store) cached(k cacheKey) *cacheEntry {
	if e, ok := s.cache.Load(k); ok {
		return e.(*cacheEntry)
	}
	return nil
}

// retry runs call, retrying Unavailable errors with jittered exponential
// backoff (or the server's Retry-After), never other codes.
func (s *Store) retry(ctx context.Context, call func(context.Context) error) error {
	for attempt := 0; ; attempt++ {
		err := call(ctx)
		if err == nil {
			return nil
		}
		if err = s.settle(ctx, err); driver.ContextErr(ctx) != nil || s.code(ctx, err) != Unavailable || attempt >= s.opts.Retries {
			return err
		}
		delay := s.opts.RetryBase << attempt
		delay = delay/2 + rand.N(delay/2+1)
		var ra interface{ RetryAfter() time.Duration }
		if errors.As(err, &ra) && ra.RetryAfter() > 0 {
			delay = ra.RetryAfter()
		}
		delay = min(delay, maxRetryDelay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// contextFailure is a driver error that happened because the call's own
// context ended: it classifies as that context's error.
type contextFailure struct{ ctx, err error }

func (e *contextFailure) Error() string   { return e.err.Error() }
func (e *contextFailure) Unwrap() []error { return []error{e.ctx, e.err} }

// settle marks err as the call context's own end when that context is over
// (or its deadline has passed by the clock, before its timer fired) and the
// driver could only call err an outage or unknown. A deadline the server
// enforced for us arrives as UNAVAILABLE, RST_STREAM CANCEL or a reset
// connection; it is still the caller's DeadlineExceeded.
func (s *Store) settle(ctx context.Context, err error) error {
	cerr := driver.ContextErr(ctx)
	if err == nil || cerr == nil {
		return err
	}
	switch c := s.code(context.Background(), err); {
	case c == Unknown, c == Unavailable, c == Canceled && errors.Is(cerr, context.DeadlineExceeded):
		return &contextFailure{ctx: cerr, err: err}
	}
	return err
}

func (s *Store) code(ctx context.Context, err error) Code {
	var ke *Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	if errors.Is(err, context.Canceled) {
		return Canceled
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return DeadlineExceeded
	}
	c := s.d.ErrorCode(err)
	if c == OK {
		c = Unknown
	}
	if ctx != nil && driver.ContextErr(ctx) != nil && (c == Unknown || c == Unavailable) {
		if errors.Is(driver.ContextErr(ctx), context.Canceled) {
			return Canceled
		}
		return DeadlineExceeded
	}
	return c
}

// wrap turns a driver error into an *Error, once.
func (s *Store) wrap(op, key string, err error) error {
	if err == nil {
		return nil
	}
	var ke *Error
	if errors.As(err, &ke) {
		return err
	}
	return &Error{Code: s.code(context.Background(), err), Op: op, Key: key, Store: s.opts.URL, err: err}
}

func (s *Store) fail(ctx context.Context, op, key, version string, err error) error {
	return s.failAs(ctx, op, op, key, version, err)
}

func (s *Store) audit(ctx context.Context, e *Event) error {
	if s.opts.Audit == nil || s.batched(ctx, e) {
		return nil
	}
	e.Time = s.now()
	e.Store = s.opts.URL
	e.Environment = s.opts.Environment
	if err := s.opts.Audit(ctx, e); err != nil && s.opts.AuditRequired && e.Code == OK {
		return &Error{Code: FailedPrecondition, Op: e.Action, Key: e.Key, Store: s.opts.URL,
			err: errors.Join(ErrAuditRequired, err)}
	}
	return nil
}

func (s *Store) checkOpen(op, key string) error {
	if s.closed.Load() {
		return s.closedErr(op, key)
	}
	return nil
}

// ErrClosed is wrapped by the FailedPrecondition error of every call on a
// closed Store, so callers can tell it from a check-and-set conflict.
var ErrClosed = errors.New("store is closed")

// ErrAuditRequired is wrapped by the FailedPrecondition error of a call
// whose audit record could not be written while audit is required: like
// ErrClosed, it is the Store's refusal, not a check-and-set conflict.
var ErrAuditRequired = errors.New("audit is required and the record could not be written")

func (s *Store) closedErr(op, key string) error {
	return &Error{Code: FailedPrecondition, Op: op, Key: key, Store: s.opts.URL, err: ErrClosed}
}

func (s *Store) unimplemented(ctx context.Context, op, key string) error {
	return s.fail(ctx, op, key, "", &Error{Code: Unimplemented, Op: op, Key: key, Store: s.opts.URL,
		err: errors.New("this provider cannot " + op)})
}

// withTimeout bounds ctx by the store's Timeout unless it has an earlier deadline.
func (s *Store) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < s.opts.Timeout {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, s.opts.Timeout)
}

// GetMany returns the current values of keys, fetched concurrently (or in one
// round trip when the provider can batch). Keys that failed are absent from
// the map; their errors are returned together as a MultiError.
func (s *Store) GetMany(ctx context.Context, keys []string) (map[string]*Value, error) {
	out := make(map[string]*Value, len(keys))
	var missing []string
	if s.opts.TTL > 0 {
		now := s.now()
		for _, k := range keys {
			if e := s.cached(cacheKey{k, ""}); e != nil && now.Sub(e.fetched) < s.opts.TTL {
				out[k] = e.val
			} else {
				missing = append(missing, k)
			}
		}
	} else {
		missing = keys
	}
	if err := s.checkOpen("get", ""); err != nil {
		return nil, err
	}
	if bg, ok := able[driver.BatchGetter](s, driver.AbilityBatchGet); ok && len(missing) > 1 {
		cctx, cancel := s.withTimeout(ctx)
		var got map[string]*driver.Value
		err := s.retry(cctx, func(ctx context.Context) error {
			var err error
			got, err = bg.GetMany(ctx, missing)
			return err
		})
		cancel()
		if err == nil {
			var errs MultiError
			for _, k := range missing {
				dv, ok := got[k]
				if !ok {
					errs = append(errs, s.fail(ctx, "get", k, "", &Error{Code: NotFound, Op: "get", Key: k, Store: s.opts.URL}))
					continue
				}
				v := &Value{Key: k, Secret: NewSecret(dv.Data), Version: dv.Version}
				s.store(k, "", v)
				if aerr := s.audit(ctx, &Event{Action: "get", Key: k, Version: v.Version.ID, Value: v.Secret}); aerr != nil {
					errs = append(errs, aerr)
					continue
				}
				out[k] = v
			}
			if len(errs) > 0 {
				return out, errs
			}
			return out, nil
		}
		// Fall through to per-key fetches, which can serve stale values.
	}
	if errs := fanOut(missing, s.inProcess(), func(k string) (*Value, error) { return s.get(ctx, k, "") }, out); len(errs) > 0 {
		return out, errs
	}
	return out, nil
}

// fanOut runs fetch for every key (each once) at most batchParallelism at a
// time — one after another when inline (an in-process driver,
// [driver.InProcess]) — puts the results into out and returns the errors
// sorted by text (so a MultiError reads the same every run).
func fanOut[V any](keys []string, inline bool, fetch func(k string) (V, error), out map[string]V) MultiError {
	var (
		mu   sync.Mutex
		errs MultiError
		wg   sync.WaitGroup
		sem  = make(chan struct{}, batchParallelism)
		seen = make(map[string]bool, len(keys))
	)
	one := func(k string) {
		v, err := fetch(k)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, err)
			return
		}
		out[k] = v
	}
	for _, k := range keys {
		if seen[k] {
			continue
		}
		seen[k] = true
		if inline {
			one(k)
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			one(k)
		}()
	}
	wg.Wait()
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errs
}

// inProcess reports whether the driver serves reads inside the process
// ([driver.InProcess]), so that batches need no goroutines.
func (s *Store) inProcess() bool {
	ip, ok := s.d.(driver.InProcess)
	return ok && ip.InProcess()
}

// List returns the secrets in the store, sorted by key. Never values.
func (s *Store) List(ctx context.Context) ([]KeyInfo, error) {
	if err := s.checkOpen("list", ""); err != nil {
		return nil, err
	}
	l, ok := able[driver.Lister](s, driver.AbilityList)
	if !ok {
		return nil, s.unimplemented(ctx, "list", "")
	}
	cctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var infos []KeyInfo
	var vals map[string]*driver.Value
	vl, withValues := able[driver.ValueLister](s, driver.AbilityListValues)
	withValues = withValues && s.opts.TTL > 0 && vl.ValuesListed()
	err := s.retry(cctx, func(ctx context.Context) error {
		var err error
		if withValues {
			infos, vals, err = vl.ListValues(ctx)
		} else {
			infos, err = l.List(ctx)
		}
		return err
	})
	if err == nil && withValues {
		s.cacheListing(vals)
	}
	if err != nil {
		return nil, s.fail(ctx, "list", "", "", err)
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Key < infos[j].Key })
	if err := s.audit(ctx, &Event{Action: "list"}); err != nil {
		return nil, err
	}
	return infos, nil
}

// Put writes data as a new version of key and returns that version. Writes
// are not retried (a write may have landed before the error); use
// PutOptions.IfVersion for check-and-set.
func (s *Store) Put(ctx context.Context, key string, value Secret, opts *PutOptions) (Version, error) {
	w, ok := able[driver.Writer](s, driver.AbilityWrite)
	return s.write(ctx, write{op: "put", key: key, needKey: true, able: ok, value: value}, func(ctx context.Context) (Version, error) {
		return w.Put(ctx, key, value.Reveal(), opts)
	})
}

// PutItem is one write of Store.PutMany.
type PutItem struct {
	Key   string
	Value Secret
	Opts  *PutOptions
}

// PutMany writes every item as a new version in one atomic operation when
// the provider can (Can("batch-put"): the local store does): either all
// land or none does. Other providers get one Put per item, in order,
// stopping at the first failure (the versions written so far are
// returned with the error). Values never appear in errors.
func (s *Store) PutMany(ctx context.Context, items []PutItem) ([]Version, error) {
	if err := s.checkOpen("put", ""); err != nil {
		return nil, err
	}
	bw, ok := able[driver.BatchWriter](s, driver.AbilityBatchPut)
	if !ok {
		out := make([]Version, 0, len(items))
		for _, it := range items {
			v, err := s.Put(ctx, it.Key, it.Value, it.Opts)
			if err != nil {
				return out, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	if _, ok := s.d.(driver.Writer); !ok {
		return nil, s.unimplemented(ctx, "put", "")
	}
	batch := make([]driver.PutItem, len(items))
	for i, it := range items {
		if it.Key == "" {
			return nil, s.fail(ctx, "put", "", "", &Error{Code: InvalidArgument, Op: "put", Store: s.opts.URL, err: errors.New("empty key")})
		}
		if s.opts.AuditRequired {
			if err := s.audit(ctx, &Event{Action: "put.begin", Key: it.Key}); err != nil {
				return nil, err
			}
		}
		batch[i] = driver.PutItem{Key: it.Key, Data: it.Value.Reveal(), Opts: it.Opts}
	}
	cctx, cancel := s.withTimeout(ctx)
	defer cancel()
	vers, err := bw.PutMany(cctx, batch)
	for _, it := range items {
		s.invalidate(it.Key)
	}
	if err != nil {
		return nil, s.fail(ctx, "put", "", "", err)
	}
	for i, it := range items {
		_ = s.audit(ctx, &Event{Action: "put", Key: it.Key, Version: vers[i].ID, Value: it.Value})
	}
	return vers, nil
}

// Delete removes key and all its versions.
func (s *Store) Delete(ctx context.Context, key string) error {
	d, ok := able[driver.Deleter](s, driver.AbilityDelete)
	_, err := s.write(ctx, write{op: "delete", key: key, able: ok}, func(ctx context.Context) (Version, error) {
		return Version{}, d.Delete(ctx, key)
	})
	return err
}

// History returns the versions of key, oldest first. Never values.
func (s *Store) History(ctx context.Context, key string) ([]Version, error) {
	if err := s.checkOpen("history", key); err != nil {
		return nil, err
	}
	vr, ok := able[driver.Versioner](s, driver.AbilityVersions)
	if !ok {
		return nil, s.unimplemented(ctx, "history", key)
	}
	cctx, cancel := s.withTimeout(ctx)
	defer cancel()
	var vs []Version
	err := s.retry(cctx, func(ctx context.Context) error {
		var err error
		vs, err = vr.Versions(ctx, key)
		return err
	})
	if err != nil {
		return nil, s.fail(ctx, "history", key, "", err)
	}
	if err := s.audit(ctx, &Event{Action: "history", Key: key}); err != nil {
		return nil, err
	}
	return vs, nil
}

// able is the store's driver as T when the driver has ability a: T's
// method set and, for a proxy such as the plugin client, what it reports
// (driver.Has). Every optional call goes through it, so a proxy's missing
// ability reads as Unimplemented before any round trip.
func able[T any](s *Store, a driver.Ability) (T, bool) {
	t, ok := s.d.(T)
	return t, ok && driver.Has(s.d, a)
}

// Can reports whether the provider has an ability: "list", "put",
// "delete", "history", "batch" (batched reads), "batch-put" (atomic
// batched writes, Store.PutMany), "rotate" (native rotation,
// Store.StageRotation and the other steps) or "disable-version"
// (Store.DisableVersion).
func (s *Store) Can(ability string) bool {
	switch ability {
	case "list":
		return driver.Has(s.d, driver.AbilityList)
	case "put", "write":
		return driver.Has(s.d, driver.AbilityWrite)
	case "delete":
		return driver.Has(s.d, driver.AbilityDelete)
	case "history", "versions":
		return driver.Has(s.d, driver.AbilityVersions)
	case "batch":
		return driver.Has(s.d, driver.AbilityBatchGet)
	case "batch-put":
		return driver.Has(s.d, driver.AbilityBatchPut)
	case "rotate":
		return driver.Has(s.d, driver.AbilityRotate)
	case "disable-version":
		return driver.Has(s.d, driver.AbilityDisableVersion)
	}
	return false
}

func (s *Store) invalidate(key string) {
	s.cache.Range(func(k, _ any) bool {
		if k.(cacheKey).key == key {
			s.cache.Delete(k)
		}
		return true
	})
}

// Purge empties the cache.
func (s *Store) Purge() {
	s.cache.Clear()
}

// As exposes driver-specific types; see each provider's documentation.
func (s *Store) As(i any) bool {
	if a, ok := s.d.(driver.As); ok {
		return a.As(i)
	}
	return false
}

// ErrorAs finds the provider's own error type inside err, like errors.As.
func (s *Store) ErrorAs(err error, target any) bool {
	return errors.As(err, target)
}

// Close releases the driver and empties the cache. Later calls fail with
// FailedPrecondition.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed.Swap(true) {
		s.mu.Unlock()
		return nil
	}
	s.cache.Clear()
	s.mu.Unlock()
	if err := s.d.Close(); err != nil {
		return s.wrap("close", "", err)
	}
	return nil
}
