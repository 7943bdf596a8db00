package local_test

import (
	"context"
	"fmt"
	"log"
	"net/url"
	"os"
	"path/filepath"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/provider/local"
)

// Most programs open the store by URL.
func Example_openFromURL() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "keyward-example")
	defer os.RemoveAll(dir)

	// What 'keyward init' does: an identity, then a store encrypted to it.
	id, _ := local.GenerateIdentity()
	idFile := filepath.Join(dir, "identity.txt")
	if err := local.WriteIdentityFile(idFile, id); err != nil {
		log.Fatal(err)
	}
	storePath := filepath.Join(dir, "keyward.age")
	if err := local.Create(ctx, storePath, []string{id.Recipient().String()}, false); err != nil {
		log.Fatal(err)
	}

	// Without ?identity=, the identity comes from the environment or the
	// per-user default file.
	store, err := keyward.Open(ctx, "local://"+filepath.ToSlash(storePath)+"?identity="+url.QueryEscape(idFile))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	if _, err := store.Put(ctx, "JWT_SECRET_KEY", keyward.NewSecretString("example-not-a-real-secret"), nil); err != nil {
		log.Fatal(err)
	}
	jwt, err := store.Get(ctx, "JWT_SECRET_KEY")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(jwt)                // a Secret prints redacted
	fmt.Println(jwt.Len(), "bytes") // the plaintext is only behind Reveal
	// Output:
	// [REDACTED]
	// 25 bytes
}

// Every write keeps the previous versions, with their creation times.
func Example_versions() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "keyward-example")
	defer os.RemoveAll(dir)
	id, _ := local.GenerateIdentity()
	ident := &local.Identity{Identities: nil, Recipients: []string{id.Recipient().String()}}
	ident.Identities = append(ident.Identities, id)

	store, _ := local.OpenStore(filepath.Join(dir, "keyward.age"), &local.Options{Identity: ident}, nil)
	defer store.Close()
	v1, _ := store.Put(ctx, "API_KEY", keyward.NewSecretString("first"), nil)
	// Check-and-set: only write if nobody rotated since v1.
	if _, err := store.Put(ctx, "API_KEY", keyward.NewSecretString("second"), &keyward.PutOptions{IfVersion: v1.ID}); err != nil {
		log.Fatal(err)
	}
	_, err := store.Put(ctx, "API_KEY", keyward.NewSecretString("stale"), &keyward.PutOptions{IfVersion: v1.ID})
	fmt.Println(keyward.ErrorCode(err))

	history, _ := store.History(ctx, "API_KEY")
	for _, v := range history {
		fmt.Println("version", v.ID)
	}
	old, _ := store.GetValue(ctx, "API_KEY", &keyward.GetOptions{Version: "1"})
	fmt.Println(old.Secret.RevealString())
	// Output:
	// failed precondition
	// version 1
	// version 2
	// first
}

// A team shares one file in git: each member's public recipient is added,
// and the store is re-encrypted to all of them.
func ExampleAddRecipient() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "keyward-example")
	defer os.RemoveAll(dir)
	alice, _ := local.GenerateIdentity()
	bob, _ := local.GenerateIdentity()
	path := filepath.Join(dir, "keyward.age")
	_ = local.Create(ctx, path, []string{alice.Recipient().String()}, false)

	aliceID := &local.Identity{Recipients: []string{alice.Recipient().String()}}
	aliceID.Identities = append(aliceID.Identities, alice)
	added, err := local.AddRecipient(ctx, path, aliceID, bob.Recipient().String())
	if err != nil {
		log.Fatal(err)
	}
	rs, _ := local.Recipients(path)
	fmt.Println(added, len(rs))
	// Output: true 2
}
