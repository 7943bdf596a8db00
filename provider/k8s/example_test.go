//go:build !keyward_omit_k8s

package k8s_test

import (
	"context"
	"fmt"
	"log"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/provider/k8s"
)

// Read one key of Secret production/dharmamind with the kubeconfig's
// credentials (or the pod's service account).
func Example_openStoreFromURL() {
	ctx := context.Background()
	store, err := keyward.Open(ctx, "k8s://production/dharmamind")
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	jwt, err := store.Get(ctx, "JWT_SECRET_KEY")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(jwt.Len())
}

// Write with a check-and-set on the Secret's resourceVersion, against any
// core/v1 secrets client (here client-go's fake clientset's CoreV1()).
func ExampleOpenStore() {
	ctx := context.Background()
	store, err := k8s.OpenStore("production", "dharmamind", &k8s.Options{Client: fake.NewClientset().CoreV1()}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	if _, err := store.Put(ctx, "SMTP_PASSWORD", keyward.NewSecretString("example-not-a-secret"), &keyward.PutOptions{IfVersion: "0"}); err != nil {
		log.Fatal(err)
	}
	v, err := store.Get(ctx, "SMTP_PASSWORD")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Len())
	// Output: 20
}
