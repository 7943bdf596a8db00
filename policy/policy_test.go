package policy

import (
	"context"
	"strings"
	"testing"

	"github.com/keyward/keyward"
)

func TestParseAccess(t *testing.T) {
	for in, want := range map[string]Access{"read": Read, "WRITE": Write, "rotate": Rotate} {
		if got, err := ParseAccess(in); err != nil || got != want {
			t.Errorf("ParseAccess(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseAccess("admin"); err == nil {
		t.Error("admin accepted")
	}
	if !Rotate.AtLeast(Write) || !Write.AtLeast(Read) || Read.AtLeast(Write) || Write.AtLeast(Rotate) {
		t.Error("access order")
	}
}

func TestParseURLDropsStoreParams(t *testing.T) {
	u, err := ParseURL("vault:///app?timeout=5s&mount=kv&cache_ttl=1m&retries=0&max_stale=1h")
	if err != nil {
		t.Fatal(err)
	}
	if u.RawQuery != "mount=kv" {
		t.Fatalf("query %q, want mount=kv only", u.RawQuery)
	}
	if u, _ := ParseURL("secrets/prod.age"); u.Scheme != "local" {
		t.Fatalf("a bare path is a local store, got %s", u.Scheme)
	}
}

func TestDerive(t *testing.T) {
	u, _ := ParseURL("dotenv://.env")
	if _, err := Derive(context.Background(), &Request{URL: u}); keyward.ErrorCode(err) != keyward.InvalidArgument {
		t.Fatalf("no keys: %v", err)
	}
	doc, err := Derive(context.Background(), &Request{URL: u, Keys: []string{"B", " A ", "B", ""}})
	if err != nil {
		t.Fatal(err)
	}
	if doc.Access != Read || strings.Join(doc.Keys, ",") != "A,B" || doc.Language != "text" || !strings.Contains(doc.Native, "file-system permissions on .env") {
		t.Fatalf("%+v", doc)
	}
	u, _ = ParseURL("env://")
	if doc, _ := Derive(context.Background(), &Request{URL: u, All: true}); !strings.Contains(doc.Native, "process environment") || doc.Keys != nil {
		t.Fatalf("%+v", doc)
	}
}

func TestComment(t *testing.T) {
	if got := Comment("# ", "a\nb", ""); got != "# a\n# b\n#\n" {
		t.Fatalf("%q", got)
	}
}
