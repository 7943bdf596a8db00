package local

import (
	"crypto/sha256"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/driver"
)

// Meta keys the driver adds to the oldest kept version in Versions when
// retention has pruned older ones (keyward history prints them).
const (
	MetaPruned        = "keyward.pruned"         // how many versions were pruned, in all
	MetaPrunedThrough = "keyward.pruned-through" // the highest pruned version id
	MetaPrunedAt      = "keyward.pruned-at"      // RFC 3339 time of the last pruning
)

// DefaultKeepVersions is how many versions per key a store keeps by
// default (as Vault's KV v2), besides every version in a rotation grace.
const DefaultKeepVersions = 10

// keyCache remembers unwrapped file keys by the hash of their wrapped
// form, so a process unwraps each file key once.
type keyCache struct {
	mu sync.Mutex
	m  map[[32]byte]*fileKeys
}

func (c *keyCache) get(name string, f *v2File, id *Identity) (*fileKeys, error) {
	h := sha256.Sum256(f.wrapped)
	if c != nil {
		c.mu.Lock()
		k := c.m[h]
		c.mu.Unlock()
		if k != nil {
			return k, nil
		}
	}
	k, err := unwrapFileKey(name, f, id)
	if err != nil {
		return nil, err
	}
	c.put(f.wrapped, k)
	return k, nil
}

func (c *keyCache) put(wrapped []byte, k *fileKeys) {
	if c == nil {
		return
	}
	h := sha256.Sum256(wrapped)
	c.mu.Lock()
	if c.m == nil {
		c.m = map[[32]byte]*fileKeys{}
	}
	c.m[h] = k
	c.mu.Unlock()
}

// snapshot is one read of a store file, v1 or v2. A v2 snapshot decrypts
// records only when asked.
type snapshot struct {
	name string
	v1   *payload
	f    *v2File // in lazy mode, the header only (recs nil until full)
	k    *fileKeys
	// lazy mode: the file's bytes, its record lines and their starts.
	raw    []byte
	region []byte
	starts []int32
	parsed bool
	mu     sync.Mutex // guards the lazy full parse (snapshots are shared)
	// listed holds the newest records list just opened, each handed once
	// to the current() that asks for it next: keyward run's List then
	// GetMany decrypts every record once, not twice.
	listed map[*rec]*recPlain
}

// takeListed returns (and forgets) the record list opened for r, if any.
func (s *snapshot) takeListed(r *rec) *recPlain {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.listed[r]
	if p != nil {
		delete(s.listed, r)
	}
	return p
}

// dropListed wipes and forgets the records a listing opened that no read
// has taken: their plaintext would otherwise live as long as the snapshot.
func (s *snapshot) dropListed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wipeListedLocked()
}

func (s *snapshot) wipeListedLocked() {
	for _, p := range s.listed {
		clear(p.Value)
	}
	s.listed = nil
}

// loadSnapshot parses, authenticates and (for v1) decrypts data.
func loadSnapshot(name string, data []byte, id *Identity, cache *keyCache) (*snapshot, error) {
	if !isV2(data) {
		p, err := decode(name, data, id)
		if err != nil {
			return nil, err
		}
		return &snapshot{name: name, v1: p}, nil
	}
	if lz, err := lazyParseV2(name, data); err != nil {
		return nil, err
	} else if lz != nil {
		k, err := cache.get(name, lz.f, id)
		if err != nil {
			return nil, err
		}
		if err := lz.verify(name, k); err != nil {
			return nil, err
		}
		return &snapshot{name: name, f: lz.f, k: k, raw: data, region: lz.region, starts: lz.starts}, nil
	}
	f, err := parseV2(name, data)
	if err != nil {
		return nil, err
	}
	k, err := cache.get(name, f, id)
	if err != nil {
		return nil, err
	}
	if err := f.verify(name, k); err != nil {
		return nil, err
	}
	return &snapshot{name: name, f: f, k: k, parsed: true}, nil
}

// records returns the records of entry id, oldest first.
func (s *snapshot) records(id string) ([]rec, error) {
	s.mu.Lock()
	parsed := s.parsed
	s.mu.Unlock()
	if parsed {
		lo, hi := s.f.span(id)
		return s.f.recs[lo:hi], nil
	}
	return s.lazyRecords(id)
}

// fullRecs parses every record (a lazy snapshot parses the file whole).
func (s *snapshot) fullRecs() ([]rec, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.parsed {
		f, err := parseV2(s.name, s.raw)
		if err != nil {
			return nil, err
		}
		s.f.recs, s.parsed = f.recs, true
	}
	return s.f.recs, nil
}

func (s *snapshot) recipients() []string {
	if s.v1 != nil {
		return s.v1.Recipients
	}
	return s.f.recipients
}

func plainToEntry(ver int, p *recPlain) versionEntry {
	return versionEntry{ID: strconv.Itoa(ver), Created: p.Created, Meta: p.Meta, Value: p.Value}
}

// openFor decrypts r and checks it is key's.
func (s *snapshot) openFor(r *rec, key string) (*recPlain, error) {
	p, err := s.k.open(r)
	if err != nil {
		return nil, recDamaged(s.name, err)
	}
	if p.Key != key {
		return nil, recDamaged(s.name, errBadRecord)
	}
	return p, nil
}

// current returns key's newest version, or nil.
func (s *snapshot) current(key string) (*versionEntry, error) {
	if s.v1 != nil {
		return s.v1.current(key), nil
	}
	rs, err := s.records(s.k.entryID(key))
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 || rs[len(rs)-1].ver == 0 {
		return nil, nil
	}
	r := &rs[len(rs)-1]
	p := s.takeListed(r)
	if p == nil || p.Key != key {
		var err error
		if p, err = s.openFor(r, key); err != nil {
			return nil, err
		}
	}
	e := plainToEntry(r.ver, p)
	return &e, nil
}

// version returns one version of key, or nil.
func (s *snapshot) version(key, ver string) (*versionEntry, error) {
	if s.v1 != nil {
		e := s.v1.Secrets[key]
		if e == nil {
			return nil, nil
		}
		for i := range e.Versions {
			if e.Versions[i].ID == ver {
				return &e.Versions[i], nil
			}
		}
		return nil, nil
	}
	n, err := strconv.Atoi(ver)
	if err != nil || n <= 0 || strconv.Itoa(n) != ver {
		return nil, nil
	}
	rs, err := s.records(s.k.entryID(key))
	if err != nil {
		return nil, err
	}
	for i := range rs {
		if rs[i].ver == n {
			p, err := s.openFor(&rs[i], key)
			if err != nil {
				return nil, err
			}
			e := plainToEntry(n, p)
			return &e, nil
		}
	}
	return nil, nil
}

// versions returns every kept version of key (oldest first) and its
// pruning marker, if any.
func (s *snapshot) versions(key string) ([]versionEntry, *recPlain, error) {
	if s.v1 != nil {
		e := s.v1.Secrets[key]
		if e == nil {
			return nil, nil, nil
		}
		return e.Versions, nil, nil
	}
	rs, err := s.records(s.k.entryID(key))
	if err != nil {
		return nil, nil, err
	}
	var out []versionEntry
	var marker *recPlain
	for i := range rs {
		r := &rs[i]
		p, err := s.openFor(r, key)
		if err != nil {
			return nil, nil, err
		}
		if r.ver == 0 {
			marker = p
			continue
		}
		out = append(out, plainToEntry(r.ver, p))
	}
	return out, marker, nil
}

// list returns every key with its current version.
func (s *snapshot) list() ([]driver.KeyInfo, error) {
	if s.v1 != nil {
		out := make([]driver.KeyInfo, 0, len(s.v1.Secrets))
		for k := range s.v1.Secrets {
			v := s.v1.current(k)
			out = append(out, driver.KeyInfo{Key: k, Version: v.ID, Updated: v.Created})
		}
		slices.SortFunc(out, func(a, b driver.KeyInfo) int { return strings.Compare(a.Key, b.Key) })
		return out, nil
	}
	var out []driver.KeyInfo
	recs, err := s.fullRecs()
	if err != nil {
		return nil, err
	}
	listed := map[*rec]*recPlain{}
	defer func() {
		s.mu.Lock()
		s.wipeListedLocked() // an earlier listing's leftovers
		s.listed = listed
		s.mu.Unlock()
	}()
	for i := range recs {
		if i+1 < len(recs) && recs[i+1].id == recs[i].id {
			continue // not the newest of its key
		}
		if recs[i].ver == 0 {
			return nil, recDamaged(s.name, errBadRecord) // a marker without versions
		}
		p, err := s.k.open(&recs[i])
		if err != nil {
			return nil, recDamaged(s.name, err)
		}
		listed[&recs[i]] = p
		out = append(out, driver.KeyInfo{Key: p.Key, Version: strconv.Itoa(recs[i].ver), Updated: p.Created})
	}
	slices.SortFunc(out, func(a, b driver.KeyInfo) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// txn is a write in progress: the records of a v2 file by entry id.
// Records that a write does not touch are kept byte for byte.
type txn struct {
	name       string
	recipients []string
	k          *fileKeys
	wrapped    []byte
	byID       map[string][]rec
	converted  bool // the file was v1 (or new) and is written as v2 now
	keep       int  // versions per key to keep; <0 keeps all
	now        func() time.Time
	pruned     map[string]int // key -> versions pruned by this write
}

// newTxn starts a write on s; a v1 snapshot is converted (re-encrypted
// under a new file key).
func newTxn(s *snapshot) (*txn, error) {
	t := &txn{name: s.name, byID: map[string][]rec{}, keep: DefaultKeepVersions, now: time.Now}
	if s.f != nil {
		t.recipients = slices.Clone(s.f.recipients)
		t.k, t.wrapped = s.k, s.f.wrapped
		recs, err := s.fullRecs()
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			t.byID[r.id] = append(t.byID[r.id], r)
		}
		return t, nil
	}
	t.converted = true
	if err := t.newKey(s.v1.Recipients); err != nil {
		return nil, err
	}
	for key, e := range s.v1.Secrets {
		id := t.k.entryID(key)
		for _, v := range e.Versions {
			n, _ := strconv.Atoi(v.ID)
			data, err := t.k.seal(id, n, &recPlain{Key: key, Created: v.Created, Meta: v.Meta, Value: v.Value})
			if err != nil {
				return nil, err
			}
			t.byID[id] = append(t.byID[id], rec{id: id, ver: n, data: data})
		}
	}
	return t, nil
}

// emptyTxn starts a new, empty store encrypted to recipients.
func emptyTxn(name string, recipients []string) (*txn, error) {
	t := &txn{name: name, byID: map[string][]rec{}, keep: DefaultKeepVersions, now: time.Now, converted: true}
	if err := t.newKey(recipients); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *txn) newKey(recipients []string) error {
	k, err := newFileKeys()
	if err != nil {
		return err
	}
	w, err := wrapFileKey(k, recipients)
	if err != nil {
		return err
	}
	t.k, t.wrapped, t.recipients = k, w, slices.Clone(recipients)
	return nil
}

// setRecipients re-wraps the same file key to recipients.
func (t *txn) setRecipients(recipients []string) error {
	w, err := wrapFileKey(t.k, recipients)
	if err != nil {
		return err
	}
	t.wrapped, t.recipients = w, slices.Clone(recipients)
	return nil
}

// rekey re-encrypts every record under a new file key wrapped to
// recipients (entry ids change with the key).
func (t *txn) rekey(recipients []string) error {
	old := t.k
	oldRecs := t.byID
	if err := t.newKey(recipients); err != nil {
		return err
	}
	t.byID = make(map[string][]rec, len(oldRecs))
	for _, rs := range oldRecs {
		for i := range rs {
			p, err := old.open(&rs[i])
			if err != nil {
				return recDamaged(t.name, err)
			}
			id := t.k.entryID(p.Key)
			data, err := t.k.seal(id, rs[i].ver, p)
			if err != nil {
				return err
			}
			t.byID[id] = append(t.byID[id], rec{id: id, ver: rs[i].ver, data: data})
		}
	}
	return nil
}

func (t *txn) open(r *rec, key string) (*recPlain, error) {
	p, err := t.k.open(r)
	if err != nil || p.Key != key {
		return nil, recDamaged(t.name, errBadRecord)
	}
	return p, nil
}

// keys returns every key name in the store (decrypting one record each).
func (t *txn) keys() ([]string, error) {
	out := make([]string, 0, len(t.byID))
	for _, rs := range t.byID {
		p, err := t.k.open(&rs[len(rs)-1])
		if err != nil {
			return nil, recDamaged(t.name, err)
		}
		out = append(out, p.Key)
	}
	slices.Sort(out)
	return out, nil
}

// put adds a version of key.
func (t *txn) put(key string, data []byte, opts *driver.PutOptions) (driver.Version, error) {
	id := t.k.entryID(key)
	rs := t.byID[id]
	cur := "0"
	last := 0
	var prev *recPlain
	if n := len(rs); n > 0 && rs[n-1].ver > 0 {
		p, err := t.open(&rs[n-1], key)
		if err != nil {
			return driver.Version{}, err
		}
		prev, last = p, rs[n-1].ver
		cur = strconv.Itoa(last)
	}
	if opts != nil && opts.IfVersion != "" && opts.IfVersion != cur {
		return driver.Version{}, errConflict
	}
	created := t.now().UTC()
	if prev != nil && created.Before(prev.Created) {
		created = prev.Created // keep versions in order under clock steps
	}
	p := &recPlain{Key: key, Created: created, Value: slices.Clone(data)}
	if opts != nil && len(opts.Meta) > 0 {
		p.Meta = make(map[string]string, len(opts.Meta))
		for k, v := range opts.Meta {
			p.Meta[k] = v
		}
	}
	if p.Value == nil {
		p.Value = []byte{}
	}
	sealed, err := t.k.seal(id, last+1, p)
	if err != nil {
		return driver.Version{}, err
	}
	rs = append(rs, rec{id: id, ver: last + 1, data: sealed})
	rs, err = t.prune(key, id, rs, prev, p)
	if err != nil {
		return driver.Version{}, err
	}
	t.byID[id] = rs
	return toVersion(&versionEntry{ID: strconv.Itoa(last + 1), Created: p.Created, Meta: p.Meta}), nil
}

// prune drops key's oldest versions beyond t.keep, never the current one
// and never one that the current or the previous current version lists
// as still in its rotation grace.
func (t *txn) prune(key, id string, rs []rec, prev, cur *recPlain) ([]rec, error) {
	if t.keep < 0 {
		return rs, nil
	}
	keep := max(t.keep, 1)
	var marker *rec
	vers := rs
	if len(rs) > 0 && rs[0].ver == 0 {
		marker, vers = &rs[0], rs[1:]
	}
	if len(vers) <= keep {
		return rs, nil
	}
	now := t.now()
	grace := map[string]bool{}
	for _, p := range []*recPlain{prev, cur} {
		if p == nil {
			continue
		}
		for _, ref := range driver.ParseRing(p.Meta[driver.MetaRing]) {
			if !ref.Retired && (ref.Expires.IsZero() || ref.Expires.After(now)) {
				grace[ref.ID] = true
			}
		}
	}
	// The newest keep versions stay, and so does every version in grace.
	cut := len(vers) - keep
	var kept []rec
	through, count := 0, 0
	for i, r := range vers {
		if i < cut && !grace[strconv.Itoa(r.ver)] {
			count++
			through = max(through, r.ver)
			continue
		}
		kept = append(kept, r)
	}
	if count == 0 {
		return rs, nil
	}
	m := &recPlain{Key: key}
	if marker != nil {
		old, err := t.open(marker, key)
		if err != nil {
			return nil, err
		}
		m.PrunedCount, m.PrunedThrough = old.PrunedCount, old.PrunedThrough
	}
	m.PrunedCount += count
	m.PrunedThrough = max(m.PrunedThrough, through)
	m.PrunedAt = now.UTC()
	sealed, err := t.k.seal(id, 0, m)
	if err != nil {
		return nil, err
	}
	if t.pruned == nil {
		t.pruned = map[string]int{}
	}
	t.pruned[key] += count
	return append([]rec{{id: id, ver: 0, data: sealed}}, kept...), nil
}

// delete removes key with every version; it reports whether key existed.
func (t *txn) delete(key string) bool {
	id := t.k.entryID(key)
	if _, ok := t.byID[id]; !ok {
		return false
	}
	delete(t.byID, id)
	return true
}

// file renders the transaction as a v2 file.
func (t *txn) file() *v2File {
	f := &v2File{recipients: t.recipients, wrapped: t.wrapped}
	n := 0
	for _, rs := range t.byID {
		n += len(rs)
	}
	f.recs = make([]rec, 0, n)
	for _, rs := range t.byID {
		f.recs = append(f.recs, rs...)
	}
	slices.SortFunc(f.recs, compareRec)
	return f
}

func (t *txn) encode() []byte { return t.file().encode(t.k) }

// materialize decrypts a whole snapshot into the v1 payload shape (for
// the merge and diff drivers, conversion checks and tests). Pruning
// markers are returned by key.
func (s *snapshot) materialize() (*payload, map[string]*recPlain, error) {
	if s.v1 != nil {
		return s.v1, nil, nil
	}
	p := newPayload(s.f.recipients)
	p.Format = 2
	markers := map[string]*recPlain{}
	recs, err := s.fullRecs()
	if err != nil {
		return nil, nil, err
	}
	for i := range recs {
		r := &recs[i]
		pl, err := s.k.open(r)
		if err != nil {
			return nil, nil, recDamaged(s.name, err)
		}
		if r.ver == 0 {
			markers[pl.Key] = pl
			continue
		}
		e := p.Secrets[pl.Key]
		if e == nil {
			e = &secretEntry{}
			p.Secrets[pl.Key] = e
		}
		e.Versions = append(e.Versions, plainToEntry(r.ver, pl))
	}
	for k := range markers {
		if p.Secrets[k] == nil {
			return nil, nil, recDamaged(s.name, errBadRecord)
		}
	}
	return p, markers, nil
}

// decodeAny reads a v1 or v2 file whole.
func decodeAny(name string, data []byte, id *Identity) (*payload, error) {
	s, err := loadSnapshot(name, data, id, nil)
	if err != nil {
		return nil, err
	}
	p, _, err := s.materialize()
	return p, err
}
