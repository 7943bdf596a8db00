//go:build live && !keyward_omit_k8s

package k8s_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/keyward/keyward/provider/k8s"
)

// TestLiveSync runs Sync against a real kube-apiserver (KUBECONFIG and
// KEYWARD_LIVE_K8S_NAMESPACE, as TestLiveConformance): the Secret is
// written through the API only when its content changes, and the
// Deployment's pod-template annotation changes exactly when a value does.
// No node is needed: the Deployment object is enough.
func TestLiveSync(t *testing.T) {
	c, ns := liveClient(t)
	ctx := context.Background()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "keyward-live-sync-" + hex.EncodeToString(b)
	labels := map[string]string{"app": name}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}}},
			},
		},
	}
	if _, err := c.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.AppsV1().Deployments(ns).Delete(context.Background(), name, metav1.DeleteOptions{})
		_ = c.CoreV1().Secrets(ns).Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	o := &k8s.SyncOptions{Namespace: ns, Name: name, Secrets: c.CoreV1(), Apps: c.AppsV1(),
		Rollouts: []k8s.Workload{{Kind: "deployment", Name: name}}}
	annotation := func() string {
		d, err := c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return d.Spec.Template.Annotations[k8s.RolloutAnnotation(name)]
	}
	es := entries("JWT_SECRET_KEY", "live-sync-canary-new-0123456789", "JWT_SECRET_KEY_OLD", "live-sync-canary-old-0123456789")
	res, err := k8s.Sync(ctx, es, o)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || annotation() != "1" {
		t.Fatalf("first sync %+v, annotation %q", res, annotation())
	}
	sec, err := c.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(sec.Data["JWT_SECRET_KEY_OLD"]) != "live-sync-canary-old-0123456789" {
		t.Fatal("JWT_SECRET_KEY_OLD not stored")
	}
	if _, ok := sec.Annotations["kubectl.kubernetes.io/last-applied-configuration"]; ok {
		t.Fatal("last-applied-configuration present")
	}
	rv := sec.ResourceVersion
	if res, err = k8s.Sync(ctx, es, o); err != nil || res.Changed || annotation() != "1" {
		t.Fatalf("unchanged sync: %+v %v, annotation %q", res, err, annotation())
	}
	if sec, _ = c.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{}); sec.ResourceVersion != rv {
		t.Fatal("an unchanged sync wrote the Secret")
	}
	es = entries("JWT_SECRET_KEY", "live-sync-canary-new-0123456789")
	if res, err = k8s.Sync(ctx, es, o); err != nil || !res.Changed || annotation() != "2" {
		t.Fatalf("changed sync: %+v %v, annotation %q", res, err, annotation())
	}
}
