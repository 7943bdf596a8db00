//go:build !keyward_omit_k8s

package k8s

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/policy"
)

func init() { policy.Register(Scheme, Policy) }

// Workload kinds `keyward sync kubernetes --rollout KIND/NAME` restarts, by
// the resource RBAC names them with (all in the apps API group).
var rolloutKinds = map[string]string{
	"deployment": "deployments", "deployments": "deployments", "deploy": "deployments",
	"statefulset": "statefulsets", "statefulsets": "statefulsets", "sts": "statefulsets",
	"daemonset": "daemonsets", "daemonsets": "daemonsets", "ds": "daemonsets",
}

// Rule is one RBAC policy rule.
type Rule struct {
	APIGroups     []string `json:"apiGroups"`
	Resources     []string `json:"resources"`
	ResourceNames []string `json:"resourceNames,omitempty"`
	Verbs         []string `json:"verbs"`
}

// Policy derives a Role that names the one Secret the store is and only the
// verbs keyward uses on it: get for read (every key is an entry of its
// data), get and update for write and rotate (a read-modify-write carrying
// the resourceVersion; rotation's KEY_OLD is another entry of the same
// Secret). --rollout adds patch on each named workload (a rollout restart
// patches its pod template). The RoleBinding binds it to a ServiceAccount.
func Policy(_ context.Context, r *policy.Request) (*policy.Document, error) {
	ns, name, err := policyTarget(r)
	if err != nil {
		return nil, err
	}
	var notes []string
	if ns == "" {
		ns = "NAMESPACE"
		notes = append(notes, "The URL names no namespace (k8s:///NAME uses the kubeconfig's): replace NAMESPACE.")
	}
	verbs := []string{"get"}
	if r.Access.AtLeast(policy.Write) {
		verbs = []string{"get", "update"}
		notes = append(notes, "Writing to a Secret that does not exist yet creates it, and RBAC cannot limit create by name: create the Secret once (kubectl create secret generic "+name+" -n "+ns+") rather than grant create.")
	}
	if r.Access == policy.Rotate {
		notes = append(notes, "Rotation keeps KEY_OLD, KEY_PENDING and KEY_ROTATION as entries of the same Secret: it needs no more than write.")
	}
	if !r.All {
		notes = append(notes, "RBAC grants a whole Secret, not single keys: this reaches every key of "+ns+"/"+name+".")
	}
	rules := []Rule{{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{name}, Verbs: verbs}}
	byRes := map[string][]string{}
	var order []string
	for _, w := range r.Rollout {
		kind, wname, ok := strings.Cut(w, "/")
		res := rolloutKinds[strings.ToLower(kind)]
		if !ok || res == "" || !dnsName.MatchString(wname) {
			return nil, keyward.Errorf(keyward.InvalidArgument, "derive the policy", "--rollout %q must be deployment/NAME, statefulset/NAME or daemonset/NAME", w)
		}
		if _, seen := byRes[res]; !seen {
			order = append(order, res)
		}
		byRes[res] = append(byRes[res], wname)
	}
	for _, res := range order {
		rules = append(rules, Rule{APIGroups: []string{"apps"}, Resources: []string{res}, ResourceNames: policy.Dedup(byRes[res]), Verbs: []string{"patch"}})
	}
	if len(order) > 0 {
		notes = append(notes, "patch on the named workloads is what a rollout restart needs (keyward sync kubernetes --rollout).")
	}
	roleName := "keyward-" + name + "-" + string(r.Access)
	sa := policy.Or(r.Principal, "SERVICE_ACCOUNT")
	if r.Principal == "" {
		notes = append(notes, "Pass --principal NAME to name the ServiceAccount the RoleBinding binds.")
	}
	var b strings.Builder
	b.WriteString(policy.Comment("# ", policy.Header(r)...))
	b.WriteString(policy.Comment("# ", notes...))
	fmt.Fprintf(&b, "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: %s\n  namespace: %s\nrules:\n", roleName, ns)
	for _, rule := range rules {
		fmt.Fprintf(&b, "  - apiGroups: %s\n    resources: %s\n    resourceNames: %s\n    verbs: %s\n",
			yamlList(rule.APIGroups), yamlList(rule.Resources), yamlList(rule.ResourceNames), yamlList(rule.Verbs))
	}
	fmt.Fprintf(&b, "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: %s\n  namespace: %s\n", roleName, ns)
	fmt.Fprintf(&b, "roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: %s\nsubjects:\n  - kind: ServiceAccount\n    name: %s\n    namespace: %s\n", roleName, sa, ns)
	structured := []any{
		map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
			"metadata": map[string]any{"name": roleName, "namespace": ns}, "rules": rules},
		map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
			"metadata": map[string]any{"name": roleName, "namespace": ns},
			"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": roleName},
			"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": sa, "namespace": ns}}},
	}
	return &policy.Document{Language: "yaml", Native: b.String(), Document: structured, Notes: notes}, nil
}

func yamlList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// dnsName is a Kubernetes object name (DNS-1123 subdomain).
var dnsName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)

func policyTarget(r *policy.Request) (ns, name string, err error) {
	name = strings.Trim(r.URL.Path, "/")
	if name == "" || strings.Contains(name, "/") {
		return "", "", keyward.Errorf(keyward.InvalidArgument, "derive the policy", "k8s: URL must be k8s://NAMESPACE/NAME")
	}
	if !dnsName.MatchString(name) || (r.URL.Host != "" && !dnsName.MatchString(r.URL.Host)) {
		return "", "", keyward.Errorf(keyward.InvalidArgument, "derive the policy", "k8s: %q is not a valid namespace/name", r.URL.Host+"/"+name)
	}
	return r.URL.Host, name, nil
}
