//go:build live && !keyward_omit_k8s

package k8s_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/drivertest"
	"github.com/keyward/keyward/provider/k8s"
)

func liveClient(t *testing.T) (kubernetes.Interface, string) {
	t.Helper()
	ns := os.Getenv("KEYWARD_LIVE_K8S_NAMESPACE")
	if ns == "" {
		t.Skip("KEYWARD_LIVE_K8S_NAMESPACE is not set (a namespace the live tests may create Secrets in)")
	}
	kc := os.Getenv("KUBECONFIG")
	if kc == "" {
		home, _ := os.UserHomeDir()
		kc = filepath.Join(home, ".kube", "config")
		if _, err := os.Stat(kc); err != nil {
			t.Skip("no kubeconfig ($KUBECONFIG or ~/.kube/config)")
		}
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		clientcmd.NewDefaultClientConfigLoadingRules(), &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		t.Skipf("kubeconfig: %v", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Skipf("client: %v", err)
	}
	return cs, ns
}

type liveHarness struct {
	c        kubernetes.Interface
	ns, name string
}

// MakeDriver builds the client the way keyward does for a user (the
// kubeconfig's loading rules and keyward's client-side limits), not the
// test's own clientset, so the suite exercises what ships.
func (h *liveHarness) MakeDriver(context.Context) (driver.Store, error) {
	return k8s.NewDriver(h.ns, h.name, nil)
}

func (h *liveHarness) Seed(ctx context.Context, key string, data []byte) error {
	d, _ := h.MakeDriver(ctx)
	_, err := d.(driver.Writer).Put(ctx, key, data, nil)
	return err
}

func (h *liveHarness) Caps() drivertest.Caps {
	return drivertest.Caps{BinaryValues: true, CheckAndSet: true}
}

func (h *liveHarness) Close() {
	_ = h.c.CoreV1().Secrets(h.ns).Delete(context.Background(), h.name, metav1.DeleteOptions{})
}

func TestLiveConformance(t *testing.T) {
	drivertest.RunConformanceTests(t, func(ctx context.Context, t *testing.T) (drivertest.Harness, error) {
		c, ns := liveClient(t)
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		return &liveHarness{c: c, ns: ns, name: "keyward-live-" + hex.EncodeToString(b)}, nil
	})
}
