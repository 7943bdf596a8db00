package local

import (
	"encoding/hex"
	"strings"
	"testing"
)

// TestV2KnownAnswers pins the v2 primitives to the values printed in
// docs/local-store.md, so another implementation can check itself: the
// file key is the bytes 00 01 … 1f, the nonce 24 bytes of 0xaa.
func TestV2KnownAnswers(t *testing.T) {
	fk := make([]byte, 32)
	for i := range fk {
		fk[i] = byte(i)
	}
	k, err := deriveKeys(fk)
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, 24)
	for i := range nonce {
		nonce[i] = 0xaa
	}
	id := k.entryID("JWT_SECRET_KEY")
	plain := `{"k":"JWT_SECRET_KEY","t":"2026-12-01T09:00:00Z","v":"ZmFrZQ=="}`
	got := map[string]string{
		"idKey":       hex.EncodeToString(k.id),
		"macKey":      hex.EncodeToString(k.mac),
		"entryID":     id,
		"fingerprint": k.fingerprint([]byte("fake")),
		"record":      k.sealPlain(id, 1, nonce, []byte(plain)),
	}
	f := &v2File{recipients: []string{"age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"}, wrapped: []byte("wrapped")}
	f.recs = []rec{{id: id, ver: 1, data: got["record"]}}
	out := f.encode(k)
	got["headerMAC"] = b64.EncodeToString(f.headerMAC)
	got["setMAC"] = b64.EncodeToString(f.setMAC)
	want := map[string]string{
		"idKey":       "22741579a97bdcaeaa0c706e3c6d4e14cfd26bf88e1053962694d03432a199f3",
		"macKey":      "692744972c23a1ac2df0e67a770276dff6eb487d973c9b72c23796b0ca3550aa",
		"entryID":     "cf11b215adc2384e9dbf93f5477967c4",
		"fingerprint": "c7ab54417a3d",
		"record":      "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq6D8DpXvrsht3beeqB9fG2lr37RiUXH3RYbYLa5+dlrsu+cTIKx30sjtmJNEV8VwEHdAdKGsFupsyAAjhk+s6pDHXXHMK7uv0BKTziP4EoAY=",
		"headerMAC":   "7y79dmf9UBKc4qbIfyaJjUfbTHd07VfHzI/XoY66yN0=",
		"setMAC":      "8X95yOsc44hmL0PQBt37/mLTMWrbLw+6sI+WjzqqEVY=",
	}
	if !strings.HasSuffix(string(out), "mac: "+want["setMAC"]+"\n") {
		t.Errorf("the rendered file does not end with the set MAC line")
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s = %s, want %s", name, got[name], w)
		}
	}
	p, err := k.open(&f.recs[0])
	if err != nil || string(p.Value) != "fake" {
		t.Fatalf("the known record does not open: %v", err)
	}
}
