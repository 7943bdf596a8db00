//go:build live

package export

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/keyward/keyward"
)

// TestLiveServerSideApply applies a rendered Secret with the command
// docs/delivery.md recommends, `kubectl apply --server-side -f -`, to a
// real API server (scripts/k8s-live.sh starts one) and reads every value
// back byte for byte: the characters the API server's YAML decoder refuses
// or rewrites travel under data. Server-side apply keeps no
// last-applied-configuration copy of the values.
func TestLiveServerSideApply(t *testing.T) {
	ns := os.Getenv("KEYWARD_LIVE_K8S_NAMESPACE")
	if ns == "" || os.Getenv("KUBECONFIG") == "" {
		t.Skip("KUBECONFIG and KEYWARD_LIVE_K8S_NAMESPACE are not set (scripts/k8s-live.sh sets them)")
	}
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Skip("no kubectl on PATH")
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "keyward-live-apply-" + hex.EncodeToString(b)
	values := map[string]string{
		"PLAIN": "postgres://u:p@db/app", "MULTI": "-----BEGIN-----\nabc\n-----END-----\n", "QUOTES": `"q" 'q' \ $X`,
		"DEL": "a\x7fb", "C1": "a\u0080\u009fb", "NEL": "line\u0085break", "NONCHAR": "\ufffe\uffff", "BOM": "\ufeffx",
		"LS": "a\u2028b\u2029c", "CTRL": "\x01\x1b[0m", "NUL": "a\x00b", "BINARY": "\xff\xfe\x00",
		"UNICODE": "é日本🔑\ufffd",
	}
	var es []Entry
	for k, v := range values {
		es = append(es, Entry{Key: k, Value: keyward.NewSecretString(v)})
	}
	var manifest bytes.Buffer
	if err := Kubernetes(&manifest, es, KubernetesOptions{Name: name, Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("kubectl", "apply", "--server-side", "--field-manager=keyward", "-f", "-")
	cmd.Stdin = &manifest
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		// kubectl's error names the object and the decoder's complaint, not values.
		t.Fatalf("kubectl apply --server-side: %v: %s", err, stderr.String())
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		clientcmd.NewDefaultClientConfigLoadingRules(), &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	defer cs.CoreV1().Secrets(ns).Delete(ctx, name, metav1.DeleteOptions{})
	sec, err := cs.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range values {
		if got, ok := sec.Data[k]; !ok || string(got) != v {
			t.Errorf("%s: the server stores %d bytes, want %d", k, len(got), len(v))
		}
	}
	if _, ok := sec.Annotations["kubectl.kubernetes.io/last-applied-configuration"]; ok {
		t.Error("server-side apply left a last-applied-configuration annotation")
	}
	if sec.Annotations[ChecksumAnnotation] != Checksum(es) {
		t.Error("the checksum annotation did not survive the apply")
	}
}
