package policy

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// TestRemoteDerive: a provider that is not linked in (the CLI runs it as a
// plugin program) has its policy derived by Remote, and DeriveAction (what
// the plugin program serves) answers the wire form with the provider's
// own deriver, so the document survives the trip.
func TestRemoteDerive(t *testing.T) {
	const scheme = "azurekv"
	// This process plays the CLI, which links no azurekv deriver.
	mu.Lock()
	linked := derivers[scheme]
	delete(derivers, scheme)
	mu.Unlock()
	defer func() {
		mu.Lock()
		if linked != nil {
			derivers[scheme] = linked
		}
		mu.Unlock()
	}()
	served := func(ctx context.Context, r *Request) (*Document, error) {
		return &Document{Language: "text", Native: "granted " + strings.Join(r.Keys, ",") + " at " + string(r.Access), Notes: []string{"from the plugin"}}, nil
	}
	var calls int
	remote := func(ctx context.Context, r *Request) (*Document, error) {
		calls++
		in, err := json.Marshal(r.Wire())
		if err != nil {
			return nil, err
		}
		// The plugin program's side: its deriver is registered there.
		mu.Lock()
		derivers[scheme] = served
		mu.Unlock()
		defer func() { mu.Lock(); delete(derivers, scheme); mu.Unlock() }()
		out, err := DeriveAction(ctx, in)
		if err != nil {
			return nil, err
		}
		b, _ := json.Marshal(out)
		var doc Document
		return &doc, json.Unmarshal(b, &doc)
	}
	u, _ := url.Parse(scheme + "://dharmamind-vault.vault.azure.net")
	doc, err := Derive(context.Background(), &Request{URL: u, Access: Write, Keys: []string{"B", "A", "B"}, Remote: remote})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 || doc.Native != "granted A,B at write" || doc.Provider != scheme || len(doc.Notes) != 1 {
		t.Fatalf("remote derive: calls=%d doc=%+v", calls, doc)
	}
	// A scheme with no plugin (env://) never goes remote.
	u, _ = url.Parse("env://")
	if _, err := Derive(context.Background(), &Request{URL: u, Keys: []string{"A"}}); err != nil || calls != 1 {
		t.Fatalf("env:// went remote (calls=%d, err=%v)", calls, err)
	}
}
