//go:build !keyward_omit_k8s

package k8s

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
)

// The client keyward builds from a kubeconfig carries kubectl's limits, not
// client-go's 5 requests/s; a configuration with its own limiter keeps it.
func TestClientLimits(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "`+srv.URL+`"}}]
users: [{name: u, user: {token: test-token}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: ns}}]
current-context: x
`), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := NewDriver("", "app", &Options{Kubeconfig: kc})
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := d.(*k8sDriver).api()
	if err != nil {
		t.Fatal(err)
	}
	lim := c.(*corev1client.CoreV1Client).RESTClient().GetRateLimiter()
	if lim == nil || lim.QPS() != clientQPS {
		t.Fatalf("the kubeconfig client's limiter allows %v requests/s, want %d", lim.QPS(), clientQPS)
	}
	got := withClientLimits(&rest.Config{Host: srv.URL})
	if got.QPS != clientQPS || got.Burst != clientBurst {
		t.Fatalf("QPS %v burst %d, want %v/%d", got.QPS, got.Burst, float32(clientQPS), clientBurst)
	}
	own := flowcontrol.NewTokenBucketRateLimiter(1, 1)
	if got := withClientLimits(&rest.Config{Host: srv.URL, RateLimiter: own}); got.RateLimiter != own {
		t.Fatal("a configuration's own rate limiter was replaced")
	}
}

// client-go's limiter refuses at once, before any deadline passes, when the
// wait would outlast the context: that is Unavailable, not Unknown.
func TestRateLimiterRefusalIsUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`))
	}))
	defer srv.Close()
	// One token, refilled once a day: the second request must wait a day.
	cfg := &rest.Config{Host: srv.URL, RateLimiter: flowcontrol.NewTokenBucketRateLimiter(1.0/86400, 1)}
	cs, err := newSecretsClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := NewDriver("ns", "app", &Options{Client: cs})
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	_, err = d.Get(ctx, "K", "")
	if c := d.ErrorCode(err); c != driver.NotFound {
		t.Fatalf("first Get: %v (%v), want NotFound", c, err)
	}
	_, err = d.Get(ctx, "K", "")
	if c := d.ErrorCode(err); c != driver.Unavailable {
		t.Fatalf("throttled Get: %v (%v), want Unavailable", c, err)
	}
	s := keyward.NewStore(d, &keyward.StoreOptions{Retries: -1})
	if _, err := s.Get(ctx, "K"); keyward.ErrorCode(err) != keyward.Unavailable {
		t.Fatalf("throttled Store.Get: %v, want Unavailable", err)
	}
}
