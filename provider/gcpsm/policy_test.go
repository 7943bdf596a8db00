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

// TestPolicyCheckAndSetRole: rotation writes with check-and-set, which
// claims the expected version with an etag-conditional UpdateSecret
// (secretmanager.secrets.update, in no narrow predefined role), so rotate
// access creates the custom role and binds it on every secret rotation
// writes — the key's and its KEY_ROTATION companion's, or the project's
// secrets under the condition with --all. Read and write access bind no
// custom role (write names it for set --if-version in a note).
func TestPolicyCheckAndSetRole(t *testing.T) {
	principal := "serviceAccount:api@dharmamind-prod.iam.gserviceaccount.com"
	cas := "projects/dharmamind-prod/roles/" + gcpsm.CheckAndSetRoleID
	for _, c := range []struct {
		access policy.Access
		all    bool
		want   []string // resources that must hold the custom role
	}{
		{policy.Read, false, nil},
		{policy.Write, false, nil},
		{policy.Rotate, false, []string{
			"projects/dharmamind-prod/secrets/jwt-secret-key", "projects/dharmamind-prod/secrets/jwt-secret-key-rotation",
			"projects/dharmamind-prod/secrets/database-url", "projects/dharmamind-prod/secrets/database-url-rotation"}},
		{policy.Rotate, true, []string{"projects/dharmamind-prod"}},
	} {
		doc := providertest.Derive(t, "gcpsm://projects/dharmamind-prod", policy.Request{Access: c.access, Keys: []string{"JWT_SECRET_KEY", "DATABASE_URL"},
			All: c.all, Principal: principal})
		var back gcpsm.Bindings
		providertest.DecodeStrict(t, doc.Document, &back)
		got := map[string]bool{}
		for _, b := range back.Bindings {
			if b.Role == cas {
				got[b.Resource] = true
				if c.all && b.Condition == nil {
					t.Errorf("%s --all: the custom role is bound project-wide without a condition", c.access)
				}
			}
		}
		for _, r := range c.want {
			if !got[r] {
				t.Errorf("%s (all=%v): no %s binding on %s", c.access, c.all, gcpsm.CheckAndSetRoleID, r)
			}
		}
		if len(c.want) == 0 && len(got) > 0 {
			t.Errorf("%s access binds the check-and-set role", c.access)
		}
		wantRole := len(c.want) > 0
		if hasRole := len(back.CustomRoles) == 1 && back.CustomRoles[0].Name == cas &&
			strings.Contains(strings.Join(back.CustomRoles[0].Permissions, ","), "secretmanager.secrets.update"); hasRole != wantRole {
			t.Errorf("%s (all=%v): custom role defined %v, want %v", c.access, c.all, hasRole, wantRole)
		}
		if wantRole && !strings.Contains(doc.Native, "gcloud iam roles create "+gcpsm.CheckAndSetRoleID+" --project=dharmamind-prod") {
			t.Errorf("%s: the commands do not create the custom role", c.access)
		}
		if c.access == policy.Write && !strings.Contains(strings.Join(doc.Notes, "\n"), "set --if-version") {
			t.Error("write access does not say what set --if-version needs")
		}
	}
}
