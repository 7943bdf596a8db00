package local

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/rogpeppe/go-internal/txtar"

	"github.com/keyward/keyward/driver"
)

var updateVectors = flag.Bool("update-vectors", false, "regenerate testdata/vectors (only when adding a case: checked-in vectors are a promise)")

var addV2Vectors = flag.Bool("add-v2-vectors", false, "write the store-v2-* vectors that do not exist yet (never rewrites one)")

// A vector is one txtar file in testdata/vectors:
//
//	identity     the identity that reads it (test-only, never a real key)
//	store.age    a store file as some keyward version wrote it
//	expected     either the JSON of the decrypted payload, or "error: CODE"
type vector struct {
	name     string
	comment  string
	identity string
	store    []byte
	expected []byte
}

func readVectors(t testing.TB) []vector {
	t.Helper()
	files, err := filepath.Glob("testdata/vectors/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test vectors in testdata/vectors: %v", err)
	}
	var out []vector
	for _, f := range files {
		a, err := txtar.ParseFile(f)
		if err != nil {
			t.Fatal(err)
		}
		v := vector{name: strings.TrimSuffix(filepath.Base(f), ".txtar"), comment: string(a.Comment)}
		for _, af := range a.Files {
			switch af.Name {
			case "identity":
				v.identity = string(af.Data)
			case "store.age":
				v.store = af.Data
			case "expected":
				v.expected = af.Data
			default:
				t.Fatalf("%s: unknown section %q", f, af.Name)
			}
		}
		if v.identity == "" || v.store == nil || v.expected == nil {
			t.Fatalf("%s: a vector needs identity, store.age and expected", f)
		}
		out = append(out, v)
	}
	return out
}

// TestVectors is the backwards-compatibility promise: every checked-in
// store file decrypts to exactly its expected content (or fails with its
// expected code) with this keyward.
func TestVectors(t *testing.T) {
	for _, v := range readVectors(t) {
		t.Run(v.name, func(t *testing.T) {
			id, err := parseIdentity(strings.NewReader(v.identity), "identity")
			if err != nil {
				t.Fatal(err)
			}
			p, err := decodeAny(v.name, v.store, id)
			if code, ok := strings.CutPrefix(strings.TrimSpace(string(v.expected)), "error: "); ok {
				if err == nil {
					t.Fatalf("decoding succeeded; want a %s error", code)
				}
				if got := errorCode(err).String(); got != code {
					t.Fatalf("error code %q (%v), want %q", got, err, code)
				}
				if !strings.Contains(err.Error(), v.name) {
					t.Fatalf("error does not name the file: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("a checked-in store no longer decrypts: %v", err)
			}
			var want payload
			if err := json.Unmarshal(v.expected, &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p, &want) {
				// Names only: never print values.
				t.Fatalf("decrypted content differs from the expected content (%d keys, want %d)", len(p.Secrets), len(want.Secrets))
			}
			// The driver serves it too.
			dir := t.TempDir()
			path := filepath.Join(dir, "store.age")
			if err := os.WriteFile(path, v.store, 0o600); err != nil {
				t.Fatal(err)
			}
			d, _ := NewDriver(path, &Options{Identity: id})
			ld := d.(*localDriver)
			for k, e := range want.Secrets {
				got, err := ld.Get(context.Background(), k, "")
				if err != nil {
					t.Fatalf("Get(%s): %v", k, err)
				}
				last := e.Versions[len(e.Versions)-1]
				if !bytes.Equal(got.Data, last.Value) || got.Version.ID != last.ID || !got.Version.Created.Equal(last.Created) {
					t.Fatalf("Get(%s) differs from the vector's current version", k)
				}
			}
		})
	}
}

// generateVectors rewrites testdata/vectors (go test -update-vectors; see
// TestMain). The checked-in files must not change once released: add new
// cases instead.
func generateVectors(t interface{ Fatal(...any) }) {
	ids := make([]*age.X25519Identity, 3)
	for i := range ids {
		ids[i], _ = age.GenerateX25519Identity()
	}
	idText := func(i *age.X25519Identity) string {
		return "# test-only identity for keyward's store-format vectors; never use it for real secrets\n" + i.String() + "\n"
	}
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	basic := newPayload([]string{ids[0].Recipient().String()})
	basic.Secrets["JWT_SECRET_KEY"] = &secretEntry{Versions: []versionEntry{
		{ID: "1", Created: t0, Value: []byte("fake-jwt-secret-version-one")},
		{ID: "2", Created: t0.Add(time.Hour), Value: []byte("fake-jwt-secret-version-two"), Meta: map[string]string{"rotated-by": "test"}},
	}}
	basic.Secrets["DATABASE_URL"] = &secretEntry{Versions: []versionEntry{
		{ID: "1", Created: t0.Add(123456789), Value: []byte("postgres://fake:fake@localhost:5432/db")},
	}}
	basic.Secrets["BINARY_KEY"] = &secretEntry{Versions: []versionEntry{
		{ID: "1", Created: t0, Value: []byte{0, 1, 2, 0xff, 0xfe, '\n', 0}},
	}}
	basic.Secrets["UNICODE_ПАРОЛЬ"] = &secretEntry{Versions: []versionEntry{
		{ID: "1", Created: t0, Value: []byte("pässwörd-🔑-秘密\nline two")},
	}}
	team := newPayload([]string{ids[0].Recipient().String(), ids[1].Recipient().String()})
	team.Secrets["SHARED"] = &secretEntry{Versions: []versionEntry{{ID: "1", Created: t0, Value: []byte("fake-shared-value")}}}
	empty := newPayload([]string{ids[0].Recipient().String()})

	mustEncode := func(p *payload) []byte {
		b, err := encode(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	basicFile := mustEncode(basic)
	teamFile := mustEncode(team)
	js := func(p *payload) []byte {
		b, _ := json.MarshalIndent(p, "", "  ")
		return append(b, '\n')
	}
	flipped := bytes.Clone(basicFile)
	// Flip one bit in the middle of the armored ciphertext (keeping it base64).
	mid := bytes.Index(flipped, []byte("-----BEGIN")) + 200
	if flipped[mid] == 'A' {
		flipped[mid] = 'B'
	} else {
		flipped[mid] = 'A'
	}
	armorStart := bytes.Index(basicFile, []byte("-----BEGIN"))
	truncated := basicFile[:armorStart+(len(basicFile)-armorStart)/2]
	tamperedHeader := bytes.Replace(basicFile, []byte(ids[0].Recipient().String()+"\n"),
		[]byte(ids[0].Recipient().String()+"\nrecipient: "+ids[2].Recipient().String()+"\n"), 1)
	future := bytes.Replace(basicFile, []byte("keyward-store v1"), []byte("keyward-store v2"), 1)

	cases := []vector{
		{name: "v1-basic", comment: "A v1 store with several keys, versions, metadata, a binary and a Unicode value.", identity: idText(ids[0]), store: basicFile, expected: js(basic)},
		{name: "v1-empty", comment: "A v1 store as 'keyward init' creates it: no secrets.", identity: idText(ids[0]), store: mustEncode(empty), expected: js(empty)},
		{name: "v1-team-second-member", comment: "A v1 store encrypted to two recipients, read by the second.", identity: idText(ids[1]), store: teamFile, expected: js(team)},
		{name: "v1-other-identity", comment: "A v1 store read by an identity it is not encrypted to.", identity: idText(ids[2]), store: basicFile, expected: []byte("error: permission denied\n")},
		{name: "v1-bit-flipped", comment: "One base64 character of the ciphertext changed.", identity: idText(ids[0]), store: flipped, expected: []byte("error: failed precondition\n")},
		{name: "v1-truncated", comment: "The file cut in the middle of its ciphertext.", identity: idText(ids[0]), store: truncated, expected: []byte("error: failed precondition\n")},
		{name: "v1-recipient-added-in-clear", comment: "A recipient added to the clear header only (an attempt to be included in the next re-encryption).", identity: idText(ids[0]), store: tamperedHeader, expected: []byte("error: failed precondition\n")},
		{name: "v2-unsupported", comment: "A future format version this keyward must refuse, not misread.", identity: idText(ids[0]), store: future, expected: []byte("error: failed precondition\n")},
		{name: "not-a-store", comment: "Some other file.", identity: idText(ids[0]), store: []byte("JWT_SECRET_KEY=fake\n"), expected: []byte("error: invalid argument\n")},
	}
	_ = os.MkdirAll("testdata/vectors", 0o755)
	for _, c := range cases {
		a := &txtar.Archive{Comment: []byte(c.comment + "\n"), Files: []txtar.File{
			{Name: "identity", Data: []byte(c.identity)},
			{Name: "store.age", Data: c.store},
			{Name: "expected", Data: c.expected},
		}}
		if err := os.WriteFile(filepath.Join("testdata/vectors", c.name+".txtar"), txtar.Format(a), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// generateV2Vectors writes the store-v2-* vectors that are missing
// (go test -run TestVectors -add-v2-vectors). Existing files are never
// rewritten.
func generateV2Vectors(t interface{ Fatal(...any) }) {
	ids := make([]*Identity, 3)
	raw := make([]*age.X25519Identity, 3)
	for i := range ids {
		raw[i], _ = age.GenerateX25519Identity()
		ids[i] = &Identity{Identities: []age.Identity{raw[i]}, Recipients: []string{raw[i].Recipient().String()}, Source: "vector"}
	}
	idText := func(i *age.X25519Identity) string {
		return "# test-only identity for keyward's store-format vectors; never use it for real secrets\n" + i.String() + "\n"
	}
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	build := func(recipients []string, f func(tx *txn)) []byte {
		tx, err := emptyTxn("vector", recipients)
		if err != nil {
			t.Fatal(err)
		}
		tx.keep = -1
		n := 0
		tx.now = func() time.Time { n++; return t0.Add(time.Duration(n) * time.Minute) }
		f(tx)
		return tx.encode()
	}
	put := func(tx *txn, k, v string, meta map[string]string) {
		if _, err := tx.put(k, []byte(v), &driver.PutOptions{Meta: meta}); err != nil {
			t.Fatal(err)
		}
	}
	basic := build(ids[0].Recipients, func(tx *txn) {
		put(tx, "JWT_SECRET_KEY", "fake-jwt-secret-version-one", nil)
		put(tx, "JWT_SECRET_KEY", "fake-jwt-secret-version-two", map[string]string{"rotated-by": "test"})
		put(tx, "DATABASE_URL", "postgres://fake:fake@localhost:5432/db", nil)
		put(tx, "BINARY_KEY", "\x00\x01\x02\xff\xfe\n\x00", nil)
		put(tx, "UNICODE_ПАРОЛЬ", "pässwörd-🔑-秘密\nline two", nil)
		put(tx, "EMPTY", "", nil)
		tx.keep = 2
		for i := range 4 {
			put(tx, "PRUNED", fmt.Sprintf("fake-pruned-%d", i+1), nil)
		}
		tx.keep = -1
	})
	team := build([]string{ids[0].Recipients[0], ids[1].Recipients[0]}, func(tx *txn) { put(tx, "SHARED", "fake-shared-value", nil) })
	empty := build(ids[0].Recipients, func(*txn) {})
	expect := func(file []byte, id *Identity) []byte {
		p, err := decodeAny("vector", file, id)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.MarshalIndent(p, "", "  ")
		return append(b, '\n')
	}
	ls := lines(basic)
	join := func(ls []string) []byte { return []byte(strings.Join(ls, "")) }
	dropped := join(append(append([]string(nil), ls[:5]...), ls[6:]...))
	swapped := append([]string(nil), ls...)
	a, b := strings.Fields(swapped[4]), strings.Fields(swapped[5])
	swapped[4], swapped[5] = a[0]+" "+a[1]+" "+b[2]+"\n", b[0]+" "+b[1]+" "+a[2]+"\n"
	added := append(append(append([]string(nil), ls[:2]...), recipientPrefix+ids[2].Recipients[0]+"\n"), ls[2:]...)
	flipped := bytes.Clone(basic)
	i := bytes.Index(flipped, []byte(ls[6])) + 60
	if flipped[i] == 'A' {
		flipped[i] = 'B'
	} else {
		flipped[i] = 'A'
	}
	failed := []byte("error: failed precondition\n")
	cases := []vector{
		{name: "store-v2-basic", comment: "A v2 store: several keys and versions, metadata, binary, Unicode and empty values, and a key pruned to 2 versions.", identity: idText(raw[0]), store: basic, expected: expect(basic, ids[0])},
		{name: "store-v2-empty", comment: "A v2 store as 'keyward init' creates it: no records.", identity: idText(raw[0]), store: empty, expected: expect(empty, ids[0])},
		{name: "store-v2-team-second-member", comment: "A v2 store whose file key is wrapped to two recipients, read by the second.", identity: idText(raw[1]), store: team, expected: expect(team, ids[1])},
		{name: "store-v2-other-identity", comment: "A v2 store read by an identity it is not encrypted to.", identity: idText(raw[2]), store: basic, expected: []byte("error: permission denied\n")},
		{name: "store-v2-record-dropped", comment: "One record line removed (the set MAC fails).", identity: idText(raw[0]), store: dropped, expected: failed},
		{name: "store-v2-records-swapped", comment: "Two records' ciphertexts exchanged (each fails its associated data).", identity: idText(raw[0]), store: join(swapped), expected: failed},
		{name: "store-v2-recipient-added-in-clear", comment: "A recipient line added without the file key (the header MAC fails).", identity: idText(raw[0]), store: join(added), expected: failed},
		{name: "store-v2-bit-flipped", comment: "One base64 character of a record changed.", identity: idText(raw[0]), store: flipped, expected: failed},
		{name: "store-v2-truncated", comment: "The file cut in the middle of its records.", identity: idText(raw[0]), store: basic[:len(basic)/2], expected: failed},
	}
	for _, c := range cases {
		path := filepath.Join("testdata/vectors", c.name+".txtar")
		if _, err := os.Stat(path); err == nil {
			continue
		}
		a := &txtar.Archive{Comment: []byte(c.comment + "\n"), Files: []txtar.File{
			{Name: "identity", Data: []byte(c.identity)},
			{Name: "store.age", Data: c.store},
			{Name: "expected", Data: c.expected},
		}}
		if err := os.WriteFile(path, txtar.Format(a), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
