package local

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"filippo.io/age"
)

// FuzzDecode feeds arbitrary bytes to the store decoder. It must never
// panic, and a file it accepts must decrypt to exactly the content of one
// of the vectors it was mutated from: a changed file is never silently read
// as different secrets. Seeds: the vectors and testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	vs := readVectors(f)
	all := &Identity{Source: "fuzz"}
	var known []*payload
	for _, v := range vs {
		f.Add(v.store)
		id, err := parseIdentity(strings.NewReader(v.identity), v.name)
		if err != nil {
			f.Fatal(err)
		}
		all.Identities = append(all.Identities, id.Identities...)
		all.Recipients = append(all.Recipients, id.Recipients...)
		p, err := decodeAny(v.name, v.store, id)
		if err == nil {
			known = append(known, p)
		}
	}
	if len(known) == 0 {
		f.Fatal("no decodable vectors to seed from")
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := decodeAny("fuzz.age", data, all)
		if err != nil {
			if errorCode(err) == 0 {
				t.Fatalf("an error without a code: %v", err)
			}
			return
		}
		for _, k := range known {
			if reflect.DeepEqual(p, k) {
				return
			}
		}
		t.Fatalf("a mutated file decrypted to content that no vector holds (%d keys)", len(p.Secrets))
	})
}

// FuzzParseIdentity: identity parsing never panics and its errors never
// repeat the input (which may be key material).
func FuzzParseIdentity(f *testing.F) {
	i, _ := age.GenerateX25519Identity()
	f.Add(i.String())
	f.Add("# comment\n\n" + i.String() + "\n")
	f.Add("AGE-SECRET-KEY-1NOTAKEY")
	f.Add("AGE-SECRET-KEY-PQ-1NOTAKEY")
	f.Fuzz(func(t *testing.T, s string) {
		_, err := parseIdentity(strings.NewReader(s), "fuzz")
		// Short inputs (a line number, a word) may occur in any message.
		if in := strings.TrimSpace(s); err != nil && len(in) >= 16 && strings.Contains(err.Error(), in) {
			t.Fatalf("error repeats the identity input")
		}
	})
}

// FuzzParseV2 feeds arbitrary bytes to the v2 structure parser: it never
// panics, its errors carry a code and name the file, and a file it accepts
// renders back to the same bytes (line endings aside), so no two inputs
// parse to the same records. Seeds: the v2 vectors and testdata/fuzz/FuzzParseV2.
func FuzzParseV2(f *testing.F) {
	for _, v := range readVectors(f) {
		if isV2(v.store) {
			f.Add(v.store)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parseV2("fuzz.age", data)
		if err != nil {
			if errorCode(err) == 0 || !strings.Contains(err.Error(), "fuzz.age") {
				t.Fatalf("an error without a code or file name: %v", err)
			}
			return
		}
		var b bytes.Buffer
		b.Write(p.canonicalHeader())
		b.WriteString(headerMACPfx + b64.EncodeToString(p.headerMAC) + "\n")
		for i := range p.recs {
			b.WriteString(p.recs[i].line() + "\n")
		}
		b.WriteString(setMACPrefix + b64.EncodeToString(p.setMAC) + "\n")
		if norm := bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n")); !bytes.Equal(b.Bytes(), norm) {
			t.Fatalf("an accepted file does not render back to itself")
		}
	})
}

// FuzzMerge: the merge driver never panics on any OURS and THEIRS it is
// given, and whatever it accepts it turns into a file that reads back.
// Seeds: the v2 vectors readable by the basic vector's identity.
func FuzzMerge(f *testing.F) {
	var id *Identity
	var stores [][]byte
	for _, v := range readVectors(f) {
		if v.name == "store-v2-basic" {
			id, _ = parseIdentity(strings.NewReader(v.identity), v.name)
		}
		if isV2(v.store) {
			stores = append(stores, v.store)
		}
	}
	if id == nil {
		f.Fatal("no store-v2-basic vector")
	}
	for _, s := range stores {
		f.Add(s, stores[0])
	}
	f.Fuzz(func(t *testing.T, ours, theirs []byte) {
		out, _, err := Merge(nil, ours, theirs, id)
		if err != nil {
			if errorCode(err) == 0 {
				t.Fatalf("an error without a code: %v", err)
			}
			return
		}
		if _, err := decodeAny("merged", out, id); err != nil {
			t.Fatalf("a merge result does not read back: %v", err)
		}
	})
}
