//go:build !keyward_omit_awssm

package awssm_test

import (
	"context"
	"fmt"
	"log"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/provider/awssm"
)

// The guide's layout: one JSON secret; JWT_SECRET_KEY reads jwt_secret_key.
func Example_openStoreFromURL() {
	ctx := context.Background()
	store, err := keyward.Open(ctx, "awssm://dharmamind/production?region=us-east-1")
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	jwt, err := store.Get(ctx, "JWT_SECRET_KEY")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(jwt.Len() >= 32) // never print the value itself
}

// One secret per key, read many at once with BatchGetSecretValue.
func Example_perKeyMode() {
	ctx := context.Background()
	store, err := keyward.Open(ctx, "awssm://dharmamind/production?mode=keys")
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	vals, err := store.GetMany(ctx, []string{"JWT_SECRET_KEY", "DATABASE_URL"})
	if err != nil {
		log.Fatal(err)
	}
	for k, v := range vals {
		fmt.Println(k, v.Version.ID, v.Version.Labels)
	}
}

// Reading the previous version during a rotation's grace period.
func Example_previousVersion() {
	ctx := context.Background()
	store, err := keyward.Open(ctx, "awssm://dharmamind/production")
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	old, err := store.GetValue(ctx, "JWT_SECRET_KEY", &keyward.GetOptions{Version: "AWSPREVIOUS"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(old.Version.ID)
}

// A driver over a client you configured yourself, and the SDK client back
// through As.
func ExampleOpenStore() {
	client := secretsmanager.New(secretsmanager.Options{Region: "eu-west-1"})
	store, err := awssm.OpenStore("dharmamind/production", &awssm.Options{Client: client}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	var c *secretsmanager.Client
	if store.As(&c) {
		fmt.Println("same client:", c == client)
	}
}
