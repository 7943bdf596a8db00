package awsserver

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
)

// IAM: identity policies bound to access key ids, enforced on every request
// made with that key (requests signed with a key that has no policy are
// allowed everything, as before).
//
// Evaluation follows IAM's rules for identity policies: a request is
// allowed when some Allow statement matches its action and resource and no
// Deny statement does. Action and Resource match with IAM's wildcards ("*"
// any run of characters, slashes included; "?" one character), actions
// case-insensitively. The resource of a secret operation is the secret's
// ARN (ARN-pattern policies therefore need the "-??????" suffix the service
// appends); a secret that does not exist yet (CreateSecret, or a read of a
// missing one) is evaluated with the ARN it would get. ListSecrets and
// BatchGetSecretValue have no resource ("*"); BatchGetSecretValue also
// needs GetSecretValue on each secret, and a secret that is refused is
// reported in the response's Errors as AccessDeniedException, as the
// service does. Conditions, NotAction and NotResource are refused by
// SetPolicy rather than ignored.

// Region and Account are the ones the fake's ARNs carry.
const (
	Region  = "us-east-1"
	Account = "123456789012"
)

type statement struct {
	Effect   string
	Action   []string
	Resource []string
}

type stringOrList []string

func (s *stringOrList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("want a string or a list of strings")
	}
	*s = many
	return nil
}

// ParsePolicy parses an IAM policy document.
func ParsePolicy(doc []byte) ([]statement, error) {
	type rawStatement struct {
		Sid         string
		Effect      string
		Action      stringOrList
		Resource    stringOrList
		NotAction   json.RawMessage
		NotResource json.RawMessage
		Condition   json.RawMessage
		Principal   json.RawMessage
	}
	var raw struct {
		Version   string
		Statement json.RawMessage
	}
	if err := json.Unmarshal(doc, &raw); err != nil {
		return nil, fmt.Errorf("policy is not JSON: %w", err)
	}
	if raw.Version != "2012-10-17" {
		return nil, fmt.Errorf("policy Version %q: want 2012-10-17", raw.Version)
	}
	var list []rawStatement
	if err := json.Unmarshal(raw.Statement, &list); err != nil {
		var one rawStatement
		if err := json.Unmarshal(raw.Statement, &one); err != nil {
			return nil, fmt.Errorf("policy Statement: %w", err)
		}
		list = []rawStatement{one}
	}
	var out []statement
	for i, st := range list {
		switch {
		case st.Effect != "Allow" && st.Effect != "Deny":
			return nil, fmt.Errorf("statement %d: Effect %q", i, st.Effect)
		case st.NotAction != nil || st.NotResource != nil || st.Condition != nil || st.Principal != nil:
			return nil, fmt.Errorf("statement %d: NotAction, NotResource, Condition and Principal are not supported by awsserver", i)
		case len(st.Action) == 0 || len(st.Resource) == 0:
			return nil, fmt.Errorf("statement %d: needs Action and Resource", i)
		}
		out = append(out, statement{Effect: st.Effect, Action: st.Action, Resource: st.Resource})
	}
	return out, nil
}

// SetPolicy binds an identity policy (JSON) to an access key id. A nil doc
// removes it.
func (s *Server) SetPolicy(accessKeyID string, doc []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.policies == nil {
		s.policies = map[string][]statement{}
	}
	if doc == nil {
		delete(s.policies, accessKeyID)
		return nil
	}
	st, err := ParsePolicy(doc)
	if err != nil {
		return err
	}
	s.policies[accessKeyID] = st
	return nil
}

// Allowed evaluates a policy for one action ("secretsmanager:GetSecretValue")
// on one resource ARN.
func Allowed(policy []statement, action, resource string) bool {
	allowed := false
	for _, st := range policy {
		if !matchAny(st.Action, action, true) || !matchAny(st.Resource, resource, false) {
			continue
		}
		if st.Effect == "Deny" {
			return false
		}
		allowed = true
	}
	return allowed
}

func matchAny(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if fold {
			p, s = strings.ToLower(p), strings.ToLower(s)
		}
		if wildcardMatch(p, s) {
			return true
		}
	}
	return false
}

// wildcardMatch is IAM's matching: "*" any run (slashes too), "?" one character.
func wildcardMatch(pattern, s string) bool {
	// path.Match treats "/" specially; IAM does not. Map "/" away first.
	const slash = "\x00"
	pattern = strings.ReplaceAll(strings.ReplaceAll(pattern, "\\", "\\\\"), "/", slash)
	pattern = strings.NewReplacer("[", "\\[", "]", "\\]").Replace(pattern)
	ok, err := path.Match(pattern, strings.ReplaceAll(s, "/", slash))
	return err == nil && ok
}

func accessKeyOf(auth string) string {
	_, rest, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return ""
	}
	akid, _, _ := strings.Cut(rest, "/")
	return akid
}

// arnFor is the ARN a secret id names: the secret's, or the one it would get.
func (s *Server) arnFor(id string) string {
	if strings.HasPrefix(id, "arn:") {
		return id
	}
	if sec, ok := s.secrets[id]; ok {
		return sec.arn
	}
	return fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%06d", Region, Account, id, 0)
}

func denied(op, arn string) error {
	return &awsErr{400, "AccessDeniedException", fmt.Sprintf(
		"User: arn:aws:iam::%s:user/keyward-test is not authorized to perform: secretsmanager:%s on resource: %s because no identity-based policy allows the secretsmanager:%s action",
		Account, op, arn, op)}
}

// authorize checks op for the request's key. s.mu is held.
func (s *Server) authorize(akid, op string, body []byte) error {
	pol, ok := s.policies[akid]
	if !ok {
		return nil
	}
	var in struct {
		SecretId string
		Name     string
	}
	_ = json.Unmarshal(body, &in)
	resource := "*"
	switch op {
	case "ListSecrets", "BatchGetSecretValue":
	case "CreateSecret":
		resource = s.arnFor(in.Name)
	default:
		resource = s.arnFor(in.SecretId)
	}
	if !Allowed(pol, "secretsmanager:"+op, resource) {
		return denied(op, resource)
	}
	return nil
}

// batchDenied reports whether the key may not GetSecretValue id (batch).
func (s *Server) batchDenied(akid, id string) error {
	pol, ok := s.policies[akid]
	if !ok {
		return nil
	}
	if arn := s.arnFor(id); !Allowed(pol, "secretsmanager:GetSecretValue", arn) {
		return denied("GetSecretValue", arn)
	}
	return nil
}
