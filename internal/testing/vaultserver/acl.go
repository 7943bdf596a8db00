package vaultserver

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl"
)

// ACL policies, enforced as OpenBao (and Vault) enforce them.
//
// A token whose Policies name at least one policy added with AddPolicy is
// governed by those policies (plus the built-in "default" policy, when the
// token lists it); other tokens keep the simple Allow prefixes.
//
// Path matching follows OpenBao's rules (vault/acl.go):
//
//   - an exact path ("secret/data/app") matches only itself;
//   - a trailing "*" is a prefix glob ("secret/data/app/*");
//   - "+" matches exactly one path segment ("secret/data/+/config");
//   - when several patterns match, the exact one wins; otherwise the
//     highest-priority one, where P1 ranks lower than P2 when its first
//     wildcard comes earlier, when it ends in "*" and P2 does not, when it
//     has more "+" segments, when it is shorter, or when it sorts first;
//   - only the winning pattern's capabilities apply; one pattern appearing
//     in several policies has the union of their capabilities, and deny in
//     any of them denies.
//
// Operations need capabilities: GET read, LIST list (the path gets a
// trailing "/", as Vault's HTTP layer adds), POST/PUT create when the
// target does not exist and update when it does, DELETE delete, PATCH
// patch. sys/internal/ui/mounts/PATH is answered, as Vault does, when the
// token may use some path inside the mount (or holds read on that sys path).

// Capabilities.
const (
	CapCreate = "create"
	CapRead   = "read"
	CapUpdate = "update"
	CapDelete = "delete"
	CapList   = "list"
	CapPatch  = "patch"
	CapSudo   = "sudo"
	CapDeny   = "deny"
)

var knownCaps = []string{CapCreate, CapRead, CapUpdate, CapDelete, CapList, CapPatch, CapSudo, CapDeny}

// DefaultPolicy is the built-in "default" policy (the token self-service
// part of Vault's).
const DefaultPolicy = `
path "auth/token/lookup-self" { capabilities = ["read"] }
path "auth/token/renew-self" { capabilities = ["update"] }
path "auth/token/revoke-self" { capabilities = ["update"] }
path "sys/capabilities-self" { capabilities = ["update"] }
`

// PolicyRule is one parsed path stanza.
type PolicyRule struct {
	Path         string
	Capabilities []string
}

// ParsePolicy parses an HCL (or JSON) policy as OpenBao does: path stanzas
// with capabilities. Unknown capabilities and malformed input are errors.
func ParsePolicy(text string) ([]PolicyRule, error) {
	var raw struct {
		Path map[string]struct {
			Capabilities []string `hcl:"capabilities"`
		} `hcl:"path"`
	}
	if err := hcl.Decode(&raw, text); err != nil {
		return nil, fmt.Errorf("failed to parse policy: %w", err)
	}
	var out []PolicyRule
	for p, r := range raw.Path {
		for _, c := range r.Capabilities {
			if !slices.Contains(knownCaps, c) {
				return nil, fmt.Errorf("path %q: invalid capability %q", p, c)
			}
		}
		out = append(out, PolicyRule{Path: strings.TrimPrefix(p, "/"), Capabilities: r.Capabilities})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// AddPolicy parses and stores a named policy (`vault policy write NAME`).
func (s *Server) AddPolicy(name, text string) error {
	rules, err := ParsePolicy(text)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.policies == nil {
		s.policies = map[string][]PolicyRule{}
	}
	s.policies[name] = rules
	return nil
}

// acl is the merged rules of a token's policies; nil means the token is not
// governed by ACL policies. s.mu is held.
func (s *Server) acl(t *Token) map[string][]string {
	governed := false
	for _, p := range t.Policies {
		if _, ok := s.policies[p]; ok {
			governed = true
		}
	}
	if !governed || slices.Contains(t.Policies, "root") {
		return nil
	}
	merged := map[string][]string{}
	add := func(rules []PolicyRule) {
		for _, r := range rules {
			merged[r.Path] = mergeCaps(merged[r.Path], r.Capabilities)
		}
	}
	for _, p := range t.Policies {
		if p == "default" {
			if _, custom := s.policies["default"]; !custom {
				rules, _ := ParsePolicy(DefaultPolicy)
				add(rules)
				continue
			}
		}
		add(s.policies[p])
	}
	return merged
}

func mergeCaps(a, b []string) []string {
	out := slices.Clone(a)
	for _, c := range b {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	if slices.Contains(out, CapDeny) {
		return []string{CapDeny}
	}
	return out
}

// Capabilities returns the capabilities rules grant on path (Vault's
// sys/capabilities), following the matching rules above.
func Capabilities(rules map[string][]string, path string) []string {
	if caps, ok := rules[path]; ok {
		return caps
	}
	best := ""
	found := false
	for p := range rules {
		if !strings.ContainsAny(p, "*+") || !globMatch(p, path) {
			continue
		}
		if !found || higherPriority(p, best) {
			best, found = p, true
		}
	}
	if !found {
		return nil
	}
	return rules[best]
}

// globMatch matches path against a pattern with "+" segments and an
// optional trailing "*".
func globMatch(pattern, path string) bool {
	glob := strings.HasSuffix(pattern, "*")
	if glob {
		pattern = strings.TrimSuffix(pattern, "*")
	}
	if !strings.Contains(pattern, "+") {
		if glob {
			return strings.HasPrefix(path, pattern)
		}
		return path == pattern
	}
	segs := strings.Split(pattern, "/")
	rest := path
	for i, seg := range segs {
		if i == len(segs)-1 {
			if seg == "+" {
				if glob {
					return true
				}
				return rest != "" && !strings.Contains(rest, "/")
			}
			if glob {
				return strings.HasPrefix(rest, seg)
			}
			return rest == seg
		}
		j := strings.Index(rest, "/")
		if j < 0 {
			return false
		}
		part := rest[:j]
		rest = rest[j+1:]
		if seg == "+" {
			if part == "" {
				return false
			}
			continue
		}
		if seg != part {
			return false
		}
	}
	return false
}

// higherPriority reports whether pattern a outranks pattern b.
func higherPriority(a, b string) bool {
	wa, wb := strings.IndexAny(a, "*+"), strings.IndexAny(b, "*+")
	if wa != wb {
		return wa > wb
	}
	ga, gb := strings.HasSuffix(a, "*"), strings.HasSuffix(b, "*")
	if ga != gb {
		return !ga
	}
	pa, pb := strings.Count(a, "+"), strings.Count(b, "+")
	if pa != pb {
		return pa < pb
	}
	if len(a) != len(b) {
		return len(a) > len(b)
	}
	return a > b
}

// aclAllows reports whether rules allow op on path.
func aclAllows(rules map[string][]string, op, path string) bool {
	caps := Capabilities(rules, path)
	if slices.Contains(caps, CapDeny) {
		return false
	}
	return slices.Contains(caps, op) || slices.Contains(caps, CapSudo) && op == CapSudo
}

// mountAccess reports whether rules allow anything inside mount (Vault's
// hasMountAccess for sys/internal/ui/mounts).
func mountAccess(rules map[string][]string, mount string) bool {
	for p, caps := range rules {
		if slices.Contains(caps, CapDeny) || len(caps) == 0 {
			continue
		}
		prefix := p
		if i := strings.IndexAny(p, "*+"); i >= 0 {
			prefix = p[:i]
		}
		if strings.HasPrefix(prefix, mount) || strings.HasPrefix(mount, prefix) && prefix != p {
			return true
		}
		if strings.Contains(p, "+") && globMatch(p, mount) {
			return true
		}
	}
	return false
}
