package local

import (
	"bytes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"filippo.io/age"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/keyward/keyward/driver"
)

// The on-disk format, version 2 (docs/local-store.md is the specification):
//
//	keyward-store v2
//	recipient: age1…                  one line per recipient, at least one
//	file-key: BASE64                  the 32-byte file key, age-encrypted to every recipient (binary age, base64)
//	header-mac: BASE64                HMAC-SHA256 over the lines above
//	ID VER BASE64                     one line per record, sorted by ID then VER
//	…
//	mac: BASE64                       HMAC-SHA256 over the header MAC and every record line
//
// ID is the keyed identifier of a secret's name (hex of the first 16 bytes
// of HMAC-SHA256(idKey, name)); VER is its version (decimal; 0 is the
// key's pruning marker). A record is nonce||XChaCha20-Poly1305 ciphertext
// of a small JSON object, sealed under encKey with associated data binding
// ID and VER. encKey, idKey, macKey and fpKey are derived from the file key
// with HKDF-SHA256.
const (
	magicV2        = "keyward-store v2"
	fileKeyPrefix  = "file-key: "
	headerMACPfx   = "header-mac: "
	setMACPrefix   = "mac: "
	fileKeySize    = 32
	entryIDHexLen  = 32
	maxWrappedSize = 64 << 10

	hkdfEnc = "keyward-store v2 record encryption"
	hkdfID  = "keyward-store v2 entry identifier"
	hkdfMAC = "keyward-store v2 mac"
	hkdfFP  = "keyward-store v2 fingerprint"

	macHeaderLabel = "keyward-store v2 header\n"
	macSetLabel    = "keyward-store v2 entries\n"
	adLabel        = "keyward-store v2 record\x00"
)

var b64 = base64.StdEncoding.Strict()

// Counters the tests read: records opened and file keys unwrapped.
var recordOpens, unwraps, fileReads atomic.Int64

// fileKeys are the keys derived from one file key.
type fileKeys struct {
	aead cipher.AEAD
	id   []byte
	mac  []byte
	fp   []byte
	raw  []byte
	// idMAC is HMAC-SHA256 keyed with id, reset for each entryID: opening
	// a record checks its entry id, and keying a new HMAC per record was
	// ~1% of a 50-secret keyward run.
	idMu  sync.Mutex
	idMAC hash.Hash
}

func deriveKeys(fileKey []byte) (*fileKeys, error) {
	if len(fileKey) != fileKeySize {
		return nil, errors.New("bad file key size")
	}
	derive := func(info string) []byte {
		k, err := hkdf.Key(sha256.New, fileKey, nil, info, 32)
		if err != nil {
			panic(err) // only for lengths HKDF cannot produce
		}
		return k
	}
	aead, err := chacha20poly1305.NewX(derive(hkdfEnc))
	if err != nil {
		return nil, err
	}
	return &fileKeys{aead: aead, id: derive(hkdfID), mac: derive(hkdfMAC), fp: derive(hkdfFP), raw: slices.Clone(fileKey)}, nil
}

func newFileKeys() (*fileKeys, error) {
	k := make([]byte, fileKeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	return deriveKeys(k)
}

// entryID is the keyed identifier of a secret's name.
func (k *fileKeys) entryID(name string) string {
	k.idMu.Lock()
	defer k.idMu.Unlock()
	if k.idMAC == nil {
		k.idMAC = hmac.New(sha256.New, k.id)
	} else {
		k.idMAC.Reset()
	}
	k.idMAC.Write([]byte(name))
	var sum [sha256.Size]byte
	return hex.EncodeToString(k.idMAC.Sum(sum[:0])[:entryIDHexLen/2])
}

// fingerprint is a short keyed digest of a value: equal values have equal
// fingerprints within one file key, and it tells nothing to anyone
// without the key.
func (k *fileKeys) fingerprint(value []byte) string {
	m := hmac.New(sha256.New, k.fp)
	m.Write(value)
	return hex.EncodeToString(m.Sum(nil)[:6])
}

func recordAD(id string, ver int) []byte {
	return []byte(adLabel + id + "\x00" + strconv.Itoa(ver))
}

// recPlain is a record's plaintext. A version record has K, T, M and V; a
// pruning marker (version 0) has K and the P* fields.
type recPlain struct {
	Key     string            `json:"k"`
	Created time.Time         `json:"t,omitzero"`
	Meta    map[string]string `json:"m,omitempty"`
	Value   []byte            `json:"v,omitempty"`
	// PrunedThrough is the highest version id removed by retention,
	// PrunedCount how many were removed in all, PrunedAt the last time.
	PrunedThrough int       `json:"pt,omitempty"`
	PrunedCount   int       `json:"pn,omitempty"`
	PrunedAt      time.Time `json:"pa,omitzero"`
}

func (k *fileKeys) seal(id string, ver int, p *recPlain) (string, error) {
	plain, err := json.Marshal(p)
	if err != nil {
		return "", errors.New("cannot encode a record")
	}
	defer clear(plain)
	nonce := make([]byte, chacha20poly1305.NonceSizeX, chacha20poly1305.NonceSizeX+len(plain)+chacha20poly1305.Overhead)
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return k.sealPlain(id, ver, nonce, plain), nil
}

func (k *fileKeys) sealPlain(id string, ver int, nonce, plain []byte) string {
	out := k.aead.Seal(nonce, nonce, plain, recordAD(id, ver))
	return b64.EncodeToString(out)
}

var errBadRecord = errors.New("record does not authenticate")

// open decrypts a record and checks that it belongs where it was found.
func (k *fileKeys) open(r *rec) (*recPlain, error) {
	recordOpens.Add(1)
	sealed, err := b64.DecodeString(r.data)
	if err != nil || len(sealed) < chacha20poly1305.NonceSizeX+chacha20poly1305.Overhead {
		return nil, errBadRecord
	}
	n := chacha20poly1305.NonceSizeX
	plain, err := k.aead.Open(nil, sealed[:n], sealed[n:], recordAD(r.id, r.ver))
	if err != nil {
		return nil, errBadRecord
	}
	defer clear(plain)
	p, err := decodeRecPlain(plain)
	if err != nil {
		return nil, errBadRecord
	}
	if validateKey(p.Key) != nil || k.entryID(p.Key) != r.id {
		return nil, errBadRecord
	}
	if r.ver == 0 {
		if p.PrunedThrough <= 0 || p.PrunedCount <= 0 || p.Value != nil || p.Meta != nil {
			return nil, errBadRecord
		}
	} else if p.PrunedThrough != 0 || p.PrunedCount != 0 || !p.PrunedAt.IsZero() {
		return nil, errBadRecord
	}
	if p.Value == nil && r.ver > 0 {
		p.Value = []byte{}
	}
	return &p, nil
}

// rec is one record line of a v2 file. data is the base64 text, kept as
// written: it is decoded only when the record is opened.
type rec struct {
	id   string
	ver  int
	data string
}

func (r *rec) line() string { return r.id + " " + strconv.Itoa(r.ver) + " " + r.data }

func compareRec(a, b rec) int {
	if c := strings.Compare(a.id, b.id); c != 0 {
		return c
	}
	return a.ver - b.ver
}

// v2File is a parsed v2 store file. Parsing checks its structure; verify
// checks its MACs once the file key is known.
type v2File struct {
	recipients []string
	wrapped    []byte
	headerMAC  []byte
	recs       []rec
	setMAC     []byte
}

func (f *v2File) canonicalHeader() []byte {
	var b bytes.Buffer
	b.WriteString(magicV2 + "\n")
	for _, r := range f.recipients {
		b.WriteString(recipientPrefix + r + "\n")
	}
	b.WriteString(fileKeyPrefix + b64.EncodeToString(f.wrapped) + "\n")
	return b.Bytes()
}

func (f *v2File) computeHeaderMAC(k *fileKeys) []byte {
	m := hmac.New(sha256.New, k.mac)
	m.Write([]byte(macHeaderLabel))
	m.Write(f.canonicalHeader())
	return m.Sum(nil)
}

func (f *v2File) computeSetMAC(k *fileKeys, headerMAC []byte) []byte {
	m := hmac.New(sha256.New, k.mac)
	m.Write([]byte(macSetLabel))
	m.Write(headerMAC)
	var sp = []byte{' '}
	var nl = []byte{'\n'}
	var num [20]byte
	for i := range f.recs {
		r := &f.recs[i]
		m.Write([]byte(r.id))
		m.Write(sp)
		m.Write(strconv.AppendInt(num[:0], int64(r.ver), 10))
		m.Write(sp)
		m.Write([]byte(r.data))
		m.Write(nl)
	}
	return m.Sum(nil)
}

// verify checks both MACs with the file's keys.
func (f *v2File) verify(name string, k *fileKeys) error {
	if !hmac.Equal(f.computeHeaderMAC(k), f.headerMAC) {
		return newErr(driver.FailedPrecondition, damagedHint(name),
			"%s: the store header does not match its MAC: the recipient list or file key was changed by someone without the file key", name)
	}
	if !hmac.Equal(f.computeSetMAC(k, f.headerMAC), f.setMAC) {
		return newErr(driver.FailedPrecondition, damagedHint(name),
			"%s: the set of records does not match the store's MAC: records were added, removed, replayed or changed", name)
	}
	return nil
}

// encode renders f with fresh MACs under k.
func (f *v2File) encode(k *fileKeys) []byte {
	f.headerMAC = f.computeHeaderMAC(k)
	f.setMAC = f.computeSetMAC(k, f.headerMAC)
	size := 256 + len(f.wrapped)*2
	for i := range f.recs {
		size += len(f.recs[i].id) + len(f.recs[i].data) + 16
	}
	var b bytes.Buffer
	b.Grow(size)
	b.Write(f.canonicalHeader())
	b.WriteString(headerMACPfx + b64.EncodeToString(f.headerMAC) + "\n")
	for i := range f.recs {
		b.WriteString(f.recs[i].line())
		b.WriteByte('\n')
	}
	b.WriteString(setMACPrefix + b64.EncodeToString(f.setMAC) + "\n")
	return b.Bytes()
}

// span returns the index range of id's records.
func (f *v2File) span(id string) (int, int) {
	lo := sort.Search(len(f.recs), func(i int) bool { return f.recs[i].id >= id })
	hi := lo
	for hi < len(f.recs) && f.recs[hi].id == id {
		hi++
	}
	return lo, hi
}

// isV2 reports whether data starts with the v2 magic line.
func isV2(data []byte) bool {
	line, _, _ := bytes.Cut(data, []byte{'\n'})
	return strings.TrimSuffix(string(line), "\r") == magicV2
}

// parseV2 checks a v2 file's structure. Its errors name name:line:column
// and never quote the file.
func parseV2(name string, data []byte) (*v2File, error) {
	if len(data) > maxFileSize {
		return nil, newErr(driver.InvalidArgument, "", "%s: store file is larger than %d bytes", name, maxFileSize)
	}
	bad := func(line, col int, what string) error {
		return newErr(driver.FailedPrecondition, damagedHint(name), "%s:%d:%d: %s: the file is damaged or was tampered with", name, line, col, what)
	}
	f := &v2File{}
	text := string(data)
	lineNo := 0
	stage := 0 // 0 magic, 1 recipients, 2 after file-key, 3 records, 4 after mac
	for len(text) > 0 {
		lineNo++
		i := strings.IndexByte(text, '\n')
		if i < 0 {
			return nil, bad(lineNo, 1, "the last line has no newline (truncated file)")
		}
		line := strings.TrimSuffix(text[:i], "\r")
		text = text[i+1:]
		switch stage {
		case 0:
			if line != magicV2 {
				return nil, bad(1, 1, "not a v2 store")
			}
			stage = 1
		case 1:
			if r, ok := strings.CutPrefix(line, recipientPrefix); ok {
				if _, err := parseRecipient(r); err != nil {
					return nil, bad(lineNo, len(recipientPrefix)+1, "invalid recipient")
				}
				if slices.Contains(f.recipients, r) {
					return nil, bad(lineNo, len(recipientPrefix)+1, "duplicate recipient")
				}
				f.recipients = append(f.recipients, r)
				continue
			}
			w, ok := strings.CutPrefix(line, fileKeyPrefix)
			if !ok {
				return nil, bad(lineNo, 1, fmt.Sprintf("want a %q or %q line", recipientPrefix+"…", fileKeyPrefix+"…"))
			}
			if len(f.recipients) == 0 {
				return nil, bad(lineNo, 1, "the store lists no recipients")
			}
			wrapped, err := b64.DecodeString(w)
			if err != nil || len(wrapped) == 0 || len(wrapped) > maxWrappedSize {
				return nil, bad(lineNo, len(fileKeyPrefix)+1, "invalid file key")
			}
			f.wrapped = wrapped
			stage = 2
		case 2:
			m, ok := strings.CutPrefix(line, headerMACPfx)
			mac, err := b64.DecodeString(m)
			if !ok || err != nil || len(mac) != sha256.Size {
				return nil, bad(lineNo, 1, "want a header-mac line")
			}
			f.headerMAC = mac
			stage = 3
		case 3:
			if m, ok := strings.CutPrefix(line, setMACPrefix); ok {
				mac, err := b64.DecodeString(m)
				if err != nil || len(mac) != sha256.Size {
					return nil, bad(lineNo, len(setMACPrefix)+1, "invalid mac")
				}
				f.setMAC = mac
				stage = 4
				continue
			}
			r, col, ok := parseRecLine(line)
			if !ok {
				return nil, bad(lineNo, col, "invalid record line")
			}
			if n := len(f.recs); n > 0 && compareRec(f.recs[n-1], r) >= 0 {
				return nil, bad(lineNo, 1, "records out of order or repeated")
			}
			f.recs = append(f.recs, r)
		case 4:
			return nil, bad(lineNo, 1, "data after the mac line")
		}
	}
	if stage != 4 {
		return nil, bad(lineNo+1, 1, "the file ends before its mac line (truncated file)")
	}
	return f, nil
}

func parseRecLine(line string) (rec, int, bool) {
	id, rest, ok := strings.Cut(line, " ")
	if !ok || len(id) != entryIDHexLen || !isLowerHex(id) {
		return rec{}, 1, false
	}
	vs, data, ok := strings.Cut(rest, " ")
	col := len(id) + 2
	ver, err := strconv.Atoi(vs)
	if !ok || err != nil || ver < 0 || strconv.Itoa(ver) != vs {
		return rec{}, col, false
	}
	col += len(vs) + 1
	if data == "" || strings.ContainsAny(data, " \t\r") {
		return rec{}, col, false
	}
	return rec{id: id, ver: ver, data: data}, 0, true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// wrapFileKey encrypts the file key to recipients with age.
func wrapFileKey(k *fileKeys, recipients []string) ([]byte, error) {
	rs := make([]age.Recipient, 0, len(recipients))
	for _, s := range recipients {
		r, err := parseRecipient(s)
		if err != nil {
			return nil, newErr(driver.InvalidArgument, "", "a store recipient is not a valid public key")
		}
		rs = append(rs, r)
	}
	if len(rs) == 0 {
		return nil, newErr(driver.InvalidArgument, "", "a store needs at least one recipient")
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, rs...)
	if err != nil {
		return nil, wrapErr(driver.InvalidArgument, err, "", "cannot encrypt the file key: %v", err)
	}
	if _, err := w.Write(k.raw); err != nil {
		return nil, wrapErr(driver.Unknown, err, "", "cannot encrypt the file key: %v", err)
	}
	if err := w.Close(); err != nil {
		return nil, wrapErr(driver.Unknown, err, "", "cannot encrypt the file key: %v", err)
	}
	return buf.Bytes(), nil
}

// unwrapFileKey decrypts the file key with id.
func unwrapFileKey(name string, f *v2File, id *Identity) (*fileKeys, error) {
	unwraps.Add(1)
	// DecryptReaderAt: the file key is one small chunk, which it reads and
	// authenticates at once; age.Decrypt's stream reader would allocate two
	// 64 KiB chunk buffers for it on every start.
	r, size, err := age.DecryptReaderAt(bytes.NewReader(f.wrapped), int64(len(f.wrapped)), id.Identities...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			for _, mine := range id.Recipients {
				if slices.Contains(f.recipients, mine) {
					return nil, newErr(driver.FailedPrecondition, damagedHint(name),
						"%s: the store lists your recipient but your identity cannot decrypt its file key: the file is damaged or was tampered with", name)
				}
			}
			return nil, notEncryptedToYou(name, id)
		}
		return nil, damaged(name, err)
	}
	key := make([]byte, fileKeySize)
	if n, err := r.ReadAt(key, 0); size != fileKeySize || n != fileKeySize || (err != nil && err != io.EOF) {
		return nil, newErr(driver.FailedPrecondition, damagedHint(name), "%s: the store's file key is malformed: the file is damaged", name)
	}
	defer clear(key)
	k, err := deriveKeys(key)
	if err != nil {
		return nil, newErr(driver.FailedPrecondition, damagedHint(name), "%s: the store's file key is malformed: the file is damaged", name)
	}
	return k, nil
}

func notEncryptedToYou(name string, id *Identity) error {
	hint := "ask a member to run: keyward init --add-recipient " + strings.Join(id.Recipients, " --add-recipient ")
	if len(id.Recipients) == 0 {
		hint = "ask a member to add your recipient with keyward init --add-recipient"
	}
	return newErr(driver.PermissionDenied, hint,
		"%s: the store is not encrypted to your identity (%s); ask a member to add your recipient", name, strings.Join(id.Recipients, ", "))
}

func recDamaged(name string, err error) error {
	return wrapErr(driver.FailedPrecondition, err, damagedHint(name),
		"%s: a record does not decrypt or does not belong where it is: the file is damaged or was tampered with", name)
}

// lazyV2 is a v2 file whose header is parsed and whose record lines are
// only located: reads of a few keys parse just their lines.
type lazyV2 struct {
	f      *v2File // header and MACs; recs nil
	region []byte  // the record lines, each ending in "\n"
	starts []int32
}

// lazyParseV2 parses the header and the mac line of a v2 file and locates
// its record lines. It returns nil (and no error) for a file it leaves to
// parseV2: one with CR line endings.
func lazyParseV2(name string, data []byte) (*lazyV2, error) {
	if len(data) > maxFileSize {
		return nil, newErr(driver.InvalidArgument, "", "%s: store file is larger than %d bytes", name, maxFileSize)
	}
	if bytes.IndexByte(data, '\r') >= 0 || len(data) == 0 || data[len(data)-1] != '\n' {
		return nil, nil
	}
	// The header: every line up to and including header-mac.
	end := 0
	lines := 0
	for {
		i := bytes.IndexByte(data[end:], '\n')
		if i < 0 {
			return nil, nil
		}
		line := data[end : end+i]
		end += i + 1
		lines++
		if bytes.HasPrefix(line, []byte(headerMACPfx)) {
			break
		}
		if lines > 1 && !bytes.HasPrefix(line, []byte(recipientPrefix)) && !bytes.HasPrefix(line, []byte(fileKeyPrefix)) {
			return nil, nil // let parseV2 name the bad line
		}
	}
	last := bytes.LastIndexByte(data[:len(data)-1], '\n') + 1
	if last < end || !bytes.HasPrefix(data[last:], []byte(setMACPrefix)) {
		return nil, nil
	}
	// Parse the header and mac line with the full parser.
	hdr := make([]byte, 0, end+len(data)-last)
	hdr = append(append(hdr, data[:end]...), data[last:]...)
	f, err := parseV2(name, hdr)
	if err != nil {
		return nil, err
	}
	region := data[end:last]
	starts := make([]int32, 0, bytes.Count(region, []byte{'\n'}))
	for off := 0; off < len(region); {
		starts = append(starts, int32(off))
		i := bytes.IndexByte(region[off:], '\n')
		off += i + 1
	}
	return &lazyV2{f: f, region: region, starts: starts}, nil
}

// verify checks the MACs; the set MAC is over the record lines as they
// are in the file (which, without CRs, is their canonical form).
func (lz *lazyV2) verify(name string, k *fileKeys) error {
	if !hmac.Equal(lz.f.computeHeaderMAC(k), lz.f.headerMAC) {
		return newErr(driver.FailedPrecondition, damagedHint(name),
			"%s: the store header does not match its MAC: the recipient list or file key was changed by someone without the file key", name)
	}
	m := hmac.New(sha256.New, k.mac)
	m.Write([]byte(macSetLabel))
	m.Write(lz.f.headerMAC)
	m.Write(lz.region)
	if !hmac.Equal(m.Sum(nil), lz.f.setMAC) {
		return newErr(driver.FailedPrecondition, damagedHint(name),
			"%s: the set of records does not match the store's MAC: records were added, removed, replayed or changed", name)
	}
	return nil
}

// lazyRecords finds entry id's record lines by binary search and parses them.
func (s *snapshot) lazyRecords(id string) ([]rec, error) {
	lineAt := func(i int) []byte {
		start := int(s.starts[i])
		end := len(s.region)
		if i+1 < len(s.starts) {
			end = int(s.starts[i+1])
		}
		return s.region[start : end-1]
	}
	idOf := func(i int) string {
		l := lineAt(i)
		if len(l) < entryIDHexLen {
			return string(l)
		}
		return string(l[:entryIDHexLen])
	}
	lo := sort.Search(len(s.starts), func(i int) bool { return idOf(i) >= id })
	var out []rec
	for i := lo; i < len(s.starts) && idOf(i) == id; i++ {
		r, _, ok := parseRecLine(string(lineAt(i)))
		if !ok || r.id != id || len(out) > 0 && out[len(out)-1].ver >= r.ver {
			return nil, recDamaged(s.name, errBadRecord)
		}
		out = append(out, r)
	}
	return out, nil
}
