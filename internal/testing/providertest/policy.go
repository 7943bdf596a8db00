package providertest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyward/keyward/policy"
)

// Derive derives the policy r asks for on the store rawURL names, through
// the policy registry as `keyward policy` does (r.URL is set from rawURL;
// an empty Environment is "production"). A document that holds any of
// canaries (values the test's stores hold) fails the test.
func Derive(t *testing.T, rawURL string, r policy.Request, canaries ...string) *policy.Document {
	t.Helper()
	u, err := policy.ParseURL(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	r.URL = u
	if r.Environment == "" {
		r.Environment = "production"
	}
	doc, err := policy.Derive(context.Background(), &r)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range canaries {
		if strings.Contains(doc.Native+doc.Terraform, c) {
			t.Fatal("the policy holds a secret value")
		}
	}
	return doc
}

// DecodeStrict reads a policy document back (as JSON) into v, refusing
// unknown fields: the provider's document types must describe all of it.
// It returns the JSON.
func DecodeStrict(t *testing.T, doc any, v any) []byte {
	t.Helper()
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("the document does not read back: %v", err)
	}
	return b
}
