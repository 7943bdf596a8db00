//go:build !keyward_omit_gcpsm

package gcpsm_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/testing/golden"
	"github.com/keyward/keyward/policy"
	"github.com/keyward/keyward/provider/gcpsm"
)

// TestPolicy pins the bindings (gcloud commands, and the JSON parsed back):
// accessor on each secret by the guide's name mapping; write adds the
// version adder; rotate the version manager on the secret and its
// KEY_ROTATION companion; --all a project binding with a name-prefix
// condition. No binding grants an admin role or reaches another project.
func TestPolicy(t *testing.T) {
	for _, c := range []struct {
		name, url string
		access    policy.Access
		all       bool
	}{
		{"read", "gcpsm://projects/dharmamind-prod", policy.Read, false},
		{"write", "gcpsm://dharmamind-prod", policy.Write, false},
		{"rotate", "gcpsm://projects/dharmamind-prod?names=exact", policy.Rotate, false},
		{"all-read", "gcpsm://projects/dharmamind-prod", policy.Read, true},
		{"all-rotate-number", "gcpsm://projects/123456789", policy.Rotate, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			u, err := policy.ParseURL(c.url)
			if err != nil {
				t.Fatal(err)
			}
			doc, err := policy.Derive(context.Background(), &policy.Request{URL: u, Environment: "production", Access: c.access,
				Keys: []string{"JWT_SECRET_KEY", "DATABASE_URL"}, All: c.all, Principal: "serviceAccount:api@dharmamind-prod.iam.gserviceaccount.com"})
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", "policy-"+c.name+".sh"), doc.Native)
			b, err := json.Marshal(doc.Document)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", "policy-"+c.name+".json"), string(b)+"\n")
			var back gcpsm.Bindings
			dec := json.NewDecoder(strings.NewReader(string(b)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&back); err != nil || len(back.Bindings) == 0 {
				t.Fatalf("bindings do not parse back: %v", err)
			}
			project := strings.TrimPrefix(strings.TrimPrefix(u.Host+u.Path, "projects/"), "projects")
			project = strings.Trim(project, "/")
			for _, bd := range back.Bindings {
				if !strings.HasPrefix(bd.Resource, "projects/"+project) {
					t.Errorf("binding on %s, outside project %s", bd.Resource, project)
				}
				if strings.Contains(bd.Role, "admin") || bd.Role == "roles/owner" || bd.Role == "roles/editor" {
					t.Errorf("broad role %s", bd.Role)
				}
				if bd.Resource == "projects/"+project && bd.Role != gcpsm.RoleViewer && bd.Condition == nil {
					t.Errorf("project-wide %s without a condition", bd.Role)
				}
				if !c.access.AtLeast(policy.Write) && bd.Role != gcpsm.RoleAccessor && bd.Role != gcpsm.RoleViewer {
					t.Errorf("read access grants %s", bd.Role)
				}
			}
		})
	}
}
