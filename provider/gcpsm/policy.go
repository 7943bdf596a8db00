//go:build !keyward_omit_gcpsm

package gcpsm

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/internal/cloudsm"
	"github.com/keyward/keyward/policy"
)

func init() { policy.Register(Scheme, Policy) }

// Predefined Secret Manager roles the policy uses.
const (
	RoleAccessor       = "roles/secretmanager.secretAccessor"       // versions.access: read a value
	RoleVersionAdder   = "roles/secretmanager.secretVersionAdder"   // versions.add: write a new version
	RoleVersionManager = "roles/secretmanager.secretVersionManager" // versions.add/list/get/enable/disable
	RoleViewer         = "roles/secretmanager.viewer"               // secrets.list and metadata, never values

	// CheckAndSetRoleID is the custom role a check-and-set write needs
	// (rotation always, `set --if-version` when asked): it claims the
	// expected version with an etag-conditional UpdateSecret, which no
	// narrow predefined role allows. Bound as projects/PROJECT/roles/ID.
	CheckAndSetRoleID = "keywardCheckAndSet"
)

// Condition is an IAM condition.
type Condition struct {
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	Expression  string `json:"expression"`
}

// Binding is one role binding on one resource.
type Binding struct {
	Resource  string     `json:"resource"`
	Role      string     `json:"role"`
	Members   []string   `json:"members"`
	Condition *Condition `json:"condition,omitempty"`
}

// CustomRole is a project-level custom role the bindings use.
type CustomRole struct {
	Name        string   `json:"name"` // projects/P/roles/ID
	Title       string   `json:"title"`
	Permissions []string `json:"permissions"`
}

// Bindings is the --format json document.
type Bindings struct {
	CustomRoles []CustomRole `json:"customRoles,omitempty"`
	Bindings    []Binding    `json:"bindings"`
}

// checkAndSetPermissions are CheckAndSetRoleID's: read the secret's etag
// and the latest version, and update the secret's annotations.
var checkAndSetPermissions = []string{"secretmanager.secrets.get", "secretmanager.secrets.update", "secretmanager.versions.get"}

var numericProject = regexp.MustCompile(`^[0-9]+$`)

// Policy derives the Secret Manager bindings this provider needs for
// r.Access: secretAccessor on each key's secret (the guide's name mapping,
// JWT_SECRET_KEY → jwt-secret-key, unless names=exact); write adds
// secretVersionAdder (Put is AddSecretVersion); rotate instead grants
// secretVersionManager (rotation lists versions and disables the retired
// one) on each secret and on its KEY_ROTATION companion. With --all the
// accessor binding is on the project, with an IAM condition limiting it to
// the project's secrets by name prefix, and viewer lets keyward list them.
func Policy(_ context.Context, r *policy.Request) (*policy.Document, error) {
	project, exact, err := policyTarget(r)
	if err != nil {
		return nil, err
	}
	member := policy.Or(r.Principal, "serviceAccount:SERVICE_ACCOUNT_EMAIL")
	var notes []string
	if r.Principal == "" {
		notes = append(notes, "Pass --principal (serviceAccount:NAME@PROJECT.iam.gserviceaccount.com) to name the member.")
	}
	for _, k := range r.Keys {
		if !r.All && !secretIDRe.MatchString(k) {
			return nil, keyward.Errorf(keyward.InvalidArgument, "derive the policy", "gcpsm: key %q cannot name a secret (letters, digits, _ and -)", k)
		}
	}
	id := func(k string) string {
		if exact {
			return k
		}
		return cloudsm.GuideName(k)
	}
	var bindings []Binding
	var cmds []string
	var roles []CustomRole
	casRole := "projects/" + project + "/roles/" + CheckAndSetRoleID
	if r.Access == policy.Rotate {
		// Rotation writes with check-and-set (the new version, the
		// KEY_ROTATION record): the custom role comes first.
		roles = append(roles, CustomRole{Name: casRole, Title: "keyward check-and-set", Permissions: checkAndSetPermissions})
		cmds = append(cmds, createRole(project, CheckAndSetRoleID, roles[0]))
		if numericProject.MatchString(project) {
			notes = append(notes, "Custom roles are named by project id: if "+project+" is the project number, put the project's id in the role's name (projects/ID/roles/"+CheckAndSetRoleID+") and in the create command.")
		}
		notes = append(notes, "Rotation writes with check-and-set: it claims the expected version with an etag-conditional UpdateSecret, so it needs secretmanager.secrets.update, which no narrow predefined role has; the first command creates the custom role "+CheckAndSetRoleID+" ("+strings.Join(checkAndSetPermissions, ", ")+") once per project (it fails harmlessly if the role exists).")
	}
	if r.All {
		num := project
		if !numericProject.MatchString(project) {
			num = "PROJECT_NUMBER"
			notes = append(notes, "IAM conditions see resource.name with the project number, not its id: the commands look it up.")
			cmds = append(cmds, fmt.Sprintf("PROJECT_NUMBER=$(gcloud projects describe %s --format='value(projectNumber)')", project))
		}
		cond := &Condition{Title: "keyward-" + titleWord(policy.Or(r.Environment, "store")) + "-" + string(r.Access),
			Description: "Secret Manager secrets of project " + project + " only",
			Expression:  fmt.Sprintf(`resource.type == "secretmanager.googleapis.com/Secret" && resource.name.startsWith("projects/%s/secrets/")`, num)}
		role := RoleAccessor
		bindings = append(bindings, Binding{Resource: "projects/" + project, Role: role, Members: []string{member}, Condition: cond})
		if r.Access.AtLeast(policy.Write) {
			role2 := RoleVersionAdder
			if r.Access == policy.Rotate {
				role2 = RoleVersionManager
			}
			c2 := *cond
			c2.Title += "-write"
			bindings = append(bindings, Binding{Resource: "projects/" + project, Role: role2, Members: []string{member}, Condition: &c2})
			if r.Access == policy.Rotate {
				c3 := *cond
				c3.Title += "-cas"
				bindings = append(bindings, Binding{Resource: "projects/" + project, Role: casRole, Members: []string{member}, Condition: &c3})
			}
		}
		bindings = append(bindings, Binding{Resource: "projects/" + project, Role: RoleViewer, Members: []string{member}})
		notes = append(notes, "A gcpsm store is a whole project: give each environment its own project, or this grant reaches the others' secrets.",
			"roles/secretmanager.viewer lets keyward list the secrets (names and metadata, never values); listing cannot be narrowed by a condition.")
	} else {
		notes = append(notes, "Listing is not granted: run, export and diff read named keys only (keyward run --only K1,K2), or print this policy with --all.")
		for _, k := range r.Keys {
			sid := id(k)
			res := "projects/" + project + "/secrets/" + sid
			bindings = append(bindings, Binding{Resource: res, Role: RoleAccessor, Members: []string{member}})
			switch r.Access {
			case policy.Write:
				bindings = append(bindings, Binding{Resource: res, Role: RoleVersionAdder, Members: []string{member}})
			case policy.Rotate:
				rot := "projects/" + project + "/secrets/" + id(k+driver.SuffixRotation)
				bindings = append(bindings,
					Binding{Resource: res, Role: RoleVersionManager, Members: []string{member}},
					Binding{Resource: res, Role: casRole, Members: []string{member}},
					Binding{Resource: rot, Role: RoleAccessor, Members: []string{member}},
					Binding{Resource: rot, Role: RoleVersionManager, Members: []string{member}},
					Binding{Resource: rot, Role: casRole, Members: []string{member}})
			}
		}
	}
	if r.Access.AtLeast(policy.Write) {
		notes = append(notes, "A secret is created on its first write, which needs secretmanager.secrets.create on the project (no narrow predefined role has it): create the secrets once with `gcloud secrets create NAME --replication-policy=automatic` instead.")
		if r.Access == policy.Write {
			notes = append(notes, "set --if-version is a check-and-set: it also needs the custom role "+CheckAndSetRoleID+" ("+strings.Join(checkAndSetPermissions, ", ")+") on the secret, as rotate access grants; plain writes do not.")
		}
	}
	if r.Access == policy.Rotate && !r.All {
		notes = append(notes, "Rotation keeps the previous value as the previous version and its record in the KEY_ROTATION companion secret (e.g. jwt-secret-key-rotation).")
	}
	for _, b := range bindings {
		cmds = append(cmds, gcloud(b))
	}
	var sb strings.Builder
	sb.WriteString(policy.Comment("# ", policy.Header(r)...))
	sb.WriteString(policy.Comment("# ", notes...))
	for _, c := range cmds {
		sb.WriteString("\n" + c + "\n")
	}
	return &policy.Document{Language: "shell", Native: sb.String(), Document: Bindings{CustomRoles: roles, Bindings: bindings}, Notes: notes}, nil
}

func gcloud(b Binding) string {
	var c string
	if name, ok := strings.CutPrefix(b.Resource, "projects/"); ok && !strings.Contains(name, "/") {
		c = "gcloud projects add-iam-policy-binding " + name
	} else {
		parts := strings.Split(b.Resource, "/") // projects/P/secrets/S
		c = "gcloud secrets add-iam-policy-binding " + parts[3] + " --project=" + parts[1]
	}
	c += " \\\n  --member=" + shellQuote(b.Members[0]) + " \\\n  --role=" + b.Role
	if b.Condition != nil {
		expr := strings.ReplaceAll(b.Condition.Expression, "projects/PROJECT_NUMBER/", "projects/${PROJECT_NUMBER}/")
		// gcloud splits --condition on commas, so the expression has none.
		c += " \\\n  --condition=\"expression=" + strings.ReplaceAll(expr, `"`, `\"`) + ",title=" + b.Condition.Title + "\""
	}
	return c
}

// createRole is the gcloud command that creates a project's custom role.
func createRole(project, id string, r CustomRole) string {
	return "gcloud iam roles create " + id + " --project=" + project + " \\\n  --title=" + shellQuote(r.Title) +
		" \\\n  --permissions=" + strings.Join(r.Permissions, ",")
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9@._:/=+-]+$`)

func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// titleWord is an environment name as it may stand in a condition's title:
// the name comes from keyward.yaml (untrusted) and the title is printed
// inside a double-quoted --condition="…" argument the user runs, where $,
// `, \ and " would be expanded by the shell and a comma splits gcloud's
// key=value list. Any character but a letter, a digit, _ and - becomes -.
func titleWord(s string) string {
	return strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			return c
		}
		return '-'
	}, s)
}

func policyTarget(r *policy.Request) (project string, exact bool, err error) {
	if project, err = projectOf(r.URL, r.Env, "derive the policy"); err != nil {
		return "", false, err
	}
	return project, r.URL.Query().Get("names") == "exact", nil
}
