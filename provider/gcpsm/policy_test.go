//go:build !keyward_omit_gcpsm

package gcpsm_test

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/testing/golden"
	"github.com/keyward/keyward/internal/testing/providertest"
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
			doc := providertest.Derive(t, c.url, policy.Request{Access: c.access, Keys: []string{"JWT_SECRET_KEY", "DATABASE_URL"},
				All: c.all, Principal: "serviceAccount:api@dharmamind-prod.iam.gserviceaccount.com"})
			golden.Check(t, filepath.Join("testdata", "policy-"+c.name+".sh"), doc.Native)
			var back gcpsm.Bindings
			b := providertest.DecodeStrict(t, doc.Document, &back)
			golden.Check(t, filepath.Join("testdata", "policy-"+c.name+".json"), string(b)+"\n")
			if len(back.Bindings) == 0 {
				t.Fatalf("no bindings")
			}
			u, _ := url.Parse(c.url)
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

// TestPolicyEnvironmentTitle: the environment name comes from keyward.yaml
// (untrusted) and stands in the --all condition's title, which the gcloud
// command prints inside a double-quoted argument: shell syntax and the comma
// that splits gcloud's --condition list never reach the script.
func TestPolicyEnvironmentTitle(t *testing.T) {
	env := "prod$(touch /tmp/pwned)`id`\\\",title=x"
	doc := providertest.Derive(t, "gcpsm://projects/dharmamind-prod", policy.Request{Access: policy.Write, All: true,
		Environment: env, Principal: "serviceAccount:api@dharmamind-prod.iam.gserviceaccount.com"})
	var back gcpsm.Bindings
	providertest.DecodeStrict(t, doc.Document, &back)
	titles := 0
	for _, b := range back.Bindings {
		if b.Condition == nil {
			continue
		}
		titles++
		if want := "keyward-prod--touch--tmp-pwned--id----title-x-write"; b.Condition.Title != want && b.Condition.Title != want+"-write" {
			t.Errorf("condition title %q, want %q (or it with -write)", b.Condition.Title, want)
		}
	}
	if titles != 2 {
		t.Fatalf("%d conditions, want 2 (accessor and version adder)", titles)
	}
	for _, line := range strings.Split(doc.Native, "\n") {
		if strings.HasPrefix(line, "#") || !strings.Contains(line, "--condition=") {
			continue
		}
		_, title, _ := strings.Cut(line, ",title=")
		if strings.ContainsAny(strings.TrimSuffix(title, `"`), "$`\\\",") {
			t.Errorf("condition argument carries shell syntax or a comma from the environment name: %s", line)
		}
	}
}
