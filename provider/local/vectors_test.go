package local

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/rogpeppe/go-internal/txtar"
)

var updateVectors = flag.Bool("update-vectors", false, "regenerate testdata/vectors (only when adding a case: checked-in vectors are a promise)")

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
				t.Fatalf("a checked-in v1 store no longer decrypts: %v", err)
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
