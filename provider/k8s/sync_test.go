//go:build !keyward_omit_k8s

package k8s_test

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/export"
	"github.com/keyward/keyward/provider/k8s"
)

func workloads(ns string) []runtime.Object {
	meta := func(n string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: n, Namespace: ns} }
	return []runtime.Object{
		&appsv1.Deployment{ObjectMeta: meta("backend")},
		&appsv1.StatefulSet{ObjectMeta: meta("db")},
		&appsv1.DaemonSet{ObjectMeta: meta("agent")},
	}
}

func entries(kv ...string) []export.Entry {
	var es []export.Entry
	for i := 0; i < len(kv); i += 2 {
		es = append(es, export.Entry{Key: kv[i], Value: keyward.NewSecretString(kv[i+1])})
	}
	return es
}

func podAnnotation(t *testing.T, api *apiServer, kind, name string) string {
	t.Helper()
	ctx := context.Background()
	var ann map[string]string
	switch kind {
	case "deployment":
		d, err := api.AppsV1().Deployments("prod").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ann = d.Spec.Template.Annotations
	case "statefulset":
		d, err := api.AppsV1().StatefulSets("prod").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ann = d.Spec.Template.Annotations
	case "daemonset":
		d, err := api.AppsV1().DaemonSets("prod").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ann = d.Spec.Template.Annotations
	}
	return ann[k8s.RolloutAnnotation("dharmamind-secrets")]
}

// TestSync: the Secret is written through the API only when its content
// changes, _OLD entries included; the pod-template annotation of every
// named workload changes exactly when a value changes.
func TestSync(t *testing.T) {
	ctx := context.Background()
	api := newAPIServer(workloads("prod")...)
	var writes int
	api.PrependReactor("*", "secrets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetVerb() == "create" || a.GetVerb() == "update" {
			writes++
		}
		return false, nil, nil
	})
	o := &k8s.SyncOptions{Namespace: "prod", Name: "dharmamind-secrets", Secrets: api.CoreV1(), Apps: api.AppsV1(),
		Labels:   map[string]string{"app.kubernetes.io/name": "dharmamind"},
		Rollouts: []k8s.Workload{{Kind: "deployment", Name: "backend"}, {Kind: "statefulset", Name: "db"}, {Kind: "daemonset", Name: "agent"}}}
	es := entries("JWT_SECRET_KEY", "sync-canary-new-0123456789", "JWT_SECRET_KEY_OLD", "sync-canary-old-0123456789", "DATABASE_URL", "postgresql://sync-canary")

	res, err := k8s.Sync(ctx, es, o)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || !res.Created || res.Revision != "1" || len(res.RolledOut) != 3 || writes != 1 {
		t.Fatalf("first sync: %+v, %d writes", res, writes)
	}
	sec, err := api.CoreV1().Secrets("prod").Get(ctx, "dharmamind-secrets", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(sec.Data["JWT_SECRET_KEY_OLD"]) != "sync-canary-old-0123456789" || len(sec.Data) != 3 {
		t.Fatalf("Secret data has %d keys; JWT_SECRET_KEY_OLD wrong", len(sec.Data))
	}
	if sec.Labels["app.kubernetes.io/name"] != "dharmamind" || sec.Labels[k8s.ManagedByLabel] != "keyward" {
		t.Fatalf("labels %v", sec.Labels)
	}
	if _, ok := sec.Annotations["kubectl.kubernetes.io/last-applied-configuration"]; ok {
		t.Fatal("last-applied-configuration written")
	}
	for _, k := range []string{"deployment/backend", "statefulset/db", "daemonset/agent"} {
		kind, name, _ := strings.Cut(k, "/")
		if got := podAnnotation(t, api, kind, name); got != "1" {
			t.Fatalf("%s annotation %q, want 1", k, got)
		}
	}

	// Same content: no write, no rollout.
	res, err = k8s.Sync(ctx, es, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed || len(res.RolledOut) != 0 || writes != 1 || podAnnotation(t, api, "deployment", "backend") != "1" {
		t.Fatalf("unchanged sync: %+v, %d writes", res, writes)
	}

	// A value changes (the grace ended: _OLD gone): one write, every workload rolls.
	es2 := entries("JWT_SECRET_KEY", "sync-canary-new-0123456789", "DATABASE_URL", "postgresql://sync-canary")
	res, err = k8s.Sync(ctx, es2, o)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || res.Revision != "2" || len(res.RolledOut) != 3 || writes != 2 {
		t.Fatalf("changed sync: %+v, %d writes", res, writes)
	}
	sec, _ = api.CoreV1().Secrets("prod").Get(ctx, "dharmamind-secrets", metav1.GetOptions{})
	if _, ok := sec.Data["JWT_SECRET_KEY_OLD"]; ok || len(sec.Data) != 2 {
		t.Fatal("JWT_SECRET_KEY_OLD left in the Secret after it left the ring")
	}
	if got := podAnnotation(t, api, "daemonset", "agent"); got != "2" {
		t.Fatalf("annotation %q after a change, want 2", got)
	}

	// A rollout that failed (missing workload) is an error naming it; the
	// Secret is written; a later sync retries only what is missing.
	o.Rollouts = append(o.Rollouts, k8s.Workload{Kind: "deployment", Name: "worker"})
	_, err = k8s.Sync(ctx, es2, o)
	if err == nil || !strings.Contains(err.Error(), "deployment/worker") || keyward.ErrorCode(err) != keyward.NotFound {
		t.Fatalf("missing workload: %v", err)
	}
	for _, e := range es {
		if strings.Contains(err.Error(), e.Value.RevealString()) {
			t.Fatal("error contains a value")
		}
	}
}

func TestParseWorkload(t *testing.T) {
	for in, want := range map[string]string{"deployment/api": "deployment/api", "deploy/api": "deployment/api",
		"sts/db": "statefulset/db", "daemonset.apps/agent": "daemonset/agent", "StatefulSets/db-0": "statefulset/db-0"} {
		w, err := k8s.ParseWorkload(in)
		if err != nil || w.String() != want {
			t.Errorf("%s: %v %v", in, w, err)
		}
	}
	for _, in := range []string{"pod/x", "deployment", "deployment/", "deployment/a/b", "deployment/UPPER"} {
		if _, err := k8s.ParseWorkload(in); err == nil {
			t.Errorf("%s: no error", in)
		}
	}
}
