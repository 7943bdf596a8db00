package local

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestCRLF: a store checked out with Windows line endings (git autocrlf)
// still reads.
func TestCRLF(t *testing.T) {
	ctx := context.Background()
	i, _ := GenerateIdentity()
	id := &Identity{Recipients: []string{i.Recipient().String()}}
	id.Identities = append(id.Identities, i)
	path := filepath.Join(t.TempDir(), "s.age")
	d, _ := NewDriver(path, &Options{Identity: id})
	if _, err := d.(*localDriver).Put(ctx, "K", []byte("line1\nline2"), nil); err != nil {
		t.Fatal(err)
	}
	data, _ := readStoreFile(path)
	crlf := bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n"))
	v1 := newPayload(id.Recipients)
	v1.Secrets["K"] = &secretEntry{Versions: []versionEntry{{ID: "1", Value: []byte("line1\nline2")}}}
	v1File, err := encode(v1)
	if err != nil {
		t.Fatal(err)
	}
	for name, file := range map[string][]byte{"v2": crlf, "v1": bytes.ReplaceAll(v1File, []byte("\n"), []byte("\r\n"))} {
		p, err := decodeAny(path, file, id)
		if err != nil {
			t.Fatalf("CRLF %s store: %v", name, err)
		}
		if string(p.current("K").Value) != "line1\nline2" {
			t.Fatalf("CRLF %s store read a different value", name)
		}
	}
}

// TestEncodeIsCanonical: the header lists the payload's recipients in
// order, and decoding what encode wrote gives the same payload.
func TestEncodeRoundTrip(t *testing.T) {
	a, _ := GenerateIdentity()
	b, _ := GenerateIdentity()
	p := newPayload([]string{a.Recipient().String(), b.Recipient().String()})
	p.Secrets["K"] = &secretEntry{Versions: []versionEntry{{ID: "1", Value: []byte{0, 1}}}}
	out, err := encode(p)
	if err != nil {
		t.Fatal(err)
	}
	want := "keyward-store v1\nrecipient: " + a.Recipient().String() + "\nrecipient: " + b.Recipient().String() + "\n-----BEGIN AGE ENCRYPTED FILE-----\n"
	if !strings.HasPrefix(string(out), want) {
		t.Fatalf("unexpected header:\n%s", out[:len(want)])
	}
	id := &Identity{Recipients: []string{b.Recipient().String()}}
	id.Identities = append(id.Identities, b)
	got, err := decode("x", out, id)
	if err != nil || !bytes.Equal(got.current("K").Value, []byte{0, 1}) || len(got.Recipients) != 2 {
		t.Fatalf("round trip: %v", err)
	}
}
