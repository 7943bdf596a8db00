//go:build !keyward_omit_k8s

package k8s_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/keyward/keyward/internal/testing/golden"
	"github.com/keyward/keyward/internal/testing/providertest"
	"github.com/keyward/keyward/policy"
)

// allows is RBAC's rule evaluation for namespaced resources (no
// aggregation, no non-resource URLs).
func allows(role *rbacv1.Role, group, resource, name, verb string) bool {
	for _, r := range role.Rules {
		if (slices.Contains(r.APIGroups, group) || slices.Contains(r.APIGroups, "*")) &&
			(slices.Contains(r.Resources, resource) || slices.Contains(r.Resources, "*")) &&
			(slices.Contains(r.Verbs, verb) || slices.Contains(r.Verbs, "*")) &&
			(len(r.ResourceNames) == 0 || slices.Contains(r.ResourceNames, name)) {
			return true
		}
	}
	return false
}

// TestPolicy parses the printed Role and RoleBinding back into the API
// types (strictly) and evaluates them: the one Secret with exactly the
// verbs of the access, patch on the rollout workloads, nothing else.
func TestPolicy(t *testing.T) {
	for _, c := range []struct {
		name    string
		access  policy.Access
		rollout []string
		verbs   []string
	}{
		{"read", policy.Read, nil, []string{"get"}},
		{"write", policy.Write, nil, []string{"get", "update"}},
		{"rotate-rollout", policy.Rotate, []string{"deployment/api", "deployment/worker", "statefulset/db"}, []string{"get", "update"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc := providertest.Derive(t, "k8s://production/dharmamind", policy.Request{Access: c.access,
				Keys: []string{"JWT_SECRET_KEY"}, Rollout: c.rollout, Principal: "api"})
			golden.Check(t, filepath.Join("testdata", "policy-"+c.name+".yaml"), doc.Native)
			parts := strings.Split(doc.Native, "\n---\n")
			if len(parts) != 2 {
				t.Fatalf("want a Role and a RoleBinding, got %d documents", len(parts))
			}
			var role rbacv1.Role
			if err := yaml.UnmarshalStrict([]byte(parts[0]), &role); err != nil {
				t.Fatal(err)
			}
			var rb rbacv1.RoleBinding
			if err := yaml.UnmarshalStrict([]byte(parts[1]), &rb); err != nil {
				t.Fatal(err)
			}
			if role.Kind != "Role" || role.Namespace != "production" || rb.RoleRef.Name != role.Name || rb.RoleRef.Kind != "Role" ||
				len(rb.Subjects) != 1 || rb.Subjects[0].Kind != "ServiceAccount" || rb.Subjects[0].Name != "api" {
				t.Fatalf("role %+v binding %+v", role, rb)
			}
			for _, v := range []string{"get", "list", "watch", "update", "patch", "create", "delete"} {
				want := slices.Contains(c.verbs, v)
				if got := allows(&role, "", "secrets", "dharmamind", v); got != want {
					t.Errorf("%s on the Secret: %v, want %v", v, got, want)
				}
				if allows(&role, "", "secrets", "other", v) {
					t.Errorf("%s on another Secret allowed", v)
				}
			}
			for _, w := range c.rollout {
				kind, name, _ := strings.Cut(w, "/")
				if !allows(&role, "apps", kind+"s", name, "patch") || allows(&role, "apps", kind+"s", name, "delete") {
					t.Errorf("rollout %s: want patch only", w)
				}
			}
			if allows(&role, "apps", "deployments", "unrelated", "patch") {
				t.Error("patch on an unnamed deployment")
			}
		})
	}
	u, _ := policy.ParseURL("k8s://production/dharmamind")
	if _, err := policy.Derive(context.Background(), &policy.Request{URL: u, Access: policy.Read, All: true, Rollout: []string{"pod/x"}}); err == nil {
		t.Error("--rollout pod/x accepted")
	}
}
