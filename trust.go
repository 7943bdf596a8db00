package keyward

import (
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"
)

// Trust rules for store URLs that keyward did not get from the user.
//
// A store URL typed by the user (a flag, the process environment, the
// user's own config) is trusted: it is opened as it is. A URL written in a
// repository's keyward.yaml, and a reference found in a stored value or a
// template, are not: a teammate (or anyone with commit access) wrote them.
// Such a URL must never make keyward send the user's ambient credentials
// somewhere the user did not choose, nor read the user's files or
// environment into output the repository controls.

// URLOrigin says who wrote a store URL.
type URLOrigin int

const (
	// OriginUser: a flag, the process environment or the user's config.
	OriginUser URLOrigin = iota
	// OriginProject: a repository's keyward.yaml.
	OriginProject
	// OriginData: a reference inside a stored value or a template.
	OriginData
)

// TrustPolicy decides which untrusted store URLs may be opened.
type TrustPolicy struct {
	// Allow lists store URL prefixes the user allowed (their config's
	// references.allow, --allow-ref, KEYWARD_ALLOW_REFS). See AllowMatch.
	Allow []string
	// Own is the store the command reads. A reference in it that names
	// exactly this store (another key of it) needs no allow entry.
	Own string
	// VaultAddr is the Vault address the user configured (VAULT_ADDR). A
	// vault://HOST URL of untrusted origin is opened only when it names
	// this server or an allow entry names its host.
	VaultAddr string
}

// sensitiveParams are the query parameters, per scheme, that select a
// credential or identity file, a network endpoint that receives
// credentials, or weaker transport security. Parameters of any scheme whose
// name contains one of sensitiveWords count too.
var sensitiveParams = map[string][]string{
	"vault":   {"tls"},
	"awssm":   {"endpoint"},
	"gcpsm":   {"endpoint"},
	"azurekv": {"endpoint"},
	"k8s":     {"kubeconfig"},
	"local":   {"identity"},
}

var sensitiveWords = []string{"identity", "kubeconfig", "endpoint", "file", "token", "secret", "password",
	"credential", "key", "cert", "addr", "insecure", "profile", "role"}

// dataOnlyByName are the schemes a reference from data may name only
// through an allow entry, never as "the store being read".
var dataOnlyByName = map[string]bool{"env": true, "file": true}

// SensitiveParam reports whether query parameter name of scheme selects
// credentials, an endpoint or transport security (see TrustPolicy).
func SensitiveParam(scheme, name string) bool {
	n := strings.ToLower(name)
	for _, p := range sensitiveParams[scheme] {
		if n == p {
			return true
		}
	}
	for _, w := range sensitiveWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// trustURL is a store URL cut into the parts the rules compare.
type trustURL struct {
	scheme string
	loc    string // host and path, host lower-cased ("" for scheme://)
	host   string
	query  url.Values
}

func parseTrustURL(raw string) (*trustURL, error) {
	u, err := ParseStoreURL(raw)
	if err != nil {
		return nil, err
	}
	t := &trustURL{scheme: strings.ToLower(u.Scheme), host: strings.ToLower(u.Host), query: u.Query()}
	if u.Opaque != "" {
		t.loc = u.Opaque
	} else {
		t.loc = t.host + u.Path
	}
	return t, nil
}

// display is the URL without user info or query, for messages.
func (t *trustURL) display() string { return t.scheme + "://" + t.loc }

// vaultAddress is the server a vault:// URL names ("" for vault:///PATH).
func (t *trustURL) vaultAddress() string {
	if t.host == "" {
		return ""
	}
	scheme := "https"
	switch strings.ToLower(t.query.Get("tls")) {
	case "false", "off", "0":
		scheme = "http"
	}
	return scheme + "://" + t.host
}

func normalAddr(a string) string {
	u, err := url.Parse(strings.TrimSpace(a))
	if err != nil || u.Host == "" {
		return ""
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host)
}

// AllowMatch reports whether allow entry e covers the store URL raw. An
// entry is a store URL prefix: its scheme must be the URL's; its host and
// path, when given, a prefix of the URL's ending at a '/' (so
// "vault://vault.example.com" covers vault://vault.example.com/app but not
// vault://vault.example.com.evil/app, and "local://secrets/" covers
// local://secrets/prod.age); each query parameter it names must be in the
// URL with the same value. A sensitive parameter of the URL (an identity
// or credential file, an endpoint, tls=) is covered only when the entry
// names it with the same value.
func AllowMatch(e, raw string) bool {
	te, err := parseAllowEntry(e)
	if err != nil {
		return false
	}
	t, err := parseTrustURL(raw)
	if err != nil {
		return false
	}
	return te.covers(t, "")
}

func parseAllowEntry(e string) (*trustURL, error) {
	e = strings.TrimSpace(e)
	if s, ok := strings.CutSuffix(e, "://"); ok && s != "" && !strings.ContainsAny(s, "/?#") {
		return &trustURL{scheme: strings.ToLower(s), query: url.Values{}}, nil
	}
	if !strings.Contains(e, "://") {
		return nil, Errorf(InvalidArgument, "allow reference", "an allow entry is a store URL prefix such as vault://vault.example.com or awssm://")
	}
	return parseTrustURL(e)
}

func (te *trustURL) covers(t *trustURL, vaultAddr string) bool {
	if te.scheme != t.scheme {
		return false
	}
	if te.loc != "" {
		if !strings.HasPrefix(t.loc, te.loc) {
			return false
		}
		if len(t.loc) > len(te.loc) && !strings.HasSuffix(te.loc, "/") && t.loc[len(te.loc)] != '/' {
			return false
		}
	}
	for k, vs := range te.query {
		if !t.query.Has(k) || t.query.Get(k) != vs[0] {
			return false
		}
	}
	for k := range t.query {
		if SensitiveParam(t.scheme, k) && !harmlessParam(t, k, vaultAddr) && !te.query.Has(k) {
			return false
		}
	}
	if t.scheme == "vault" && t.host != "" && te.host == "" && t.vaultAddress() != vaultAddr {
		// "vault://" allows vault:///PATH and the configured server; any
		// other server named in the URL must be named in the entry.
		return false
	}
	return true
}

// harmlessParam: tls=true on a vault:// URL only restates the default, and
// tls=false only restates a plain-http VAULT_ADDR the URL names.
func harmlessParam(t *trustURL, k, vaultAddr string) bool {
	if t.scheme == "vault" && k == "tls" {
		switch strings.ToLower(t.query.Get(k)) {
		case "", "true", "on", "1":
			return true
		case "false", "off", "0":
			return vaultAddr != "" && t.vaultAddress() == vaultAddr
		}
	}
	return false
}

func (p *TrustPolicy) allowed(t *trustURL) bool {
	if p == nil {
		return false
	}
	for _, e := range p.Allow {
		te, err := parseAllowEntry(e)
		if err == nil && te.covers(t, normalAddr(p.VaultAddr)) {
			return true
		}
	}
	return false
}

// CheckAllowEntries reports the first malformed allow entry.
func CheckAllowEntries(entries []string) error {
	for _, e := range entries {
		if _, err := parseAllowEntry(e); err != nil {
			return err
		}
	}
	return nil
}

// TrustError is a refusal to open an untrusted store URL. Hint says how the
// user allows it.
type TrustError struct {
	msg  string
	Hint string
}

func (e *TrustError) Error() string { return e.msg }

// Unwrap makes a refusal PermissionDenied for errors.Is and ErrorCode.
func (e *TrustError) Unwrap() error { return ErrPermissionDenied }

func allowHint(entry string) string {
	return "if you trust it, allow it: --allow-ref '" + entry + "', KEYWARD_ALLOW_REFS='" + entry +
		"', or `references: {allow: [\"" + entry + "\"]}` in ~/.config/keyward/config.yaml (see docs/delivery.md)"
}

// suggestEntry is the narrowest allow entry that covers t.
func suggestEntry(t *trustURL) string {
	s := t.display()
	var q []string
	for k := range t.query {
		if SensitiveParam(t.scheme, k) {
			// the value is the data's: never repeated (it could be a
			// misplaced credential)
			q = append(q, url.QueryEscape(k)+"=VALUE")
		}
	}
	sort.Strings(q)
	if len(q) > 0 {
		s += "?" + strings.Join(q, "&")
	}
	return s
}

// CheckURL returns nil when a store URL of the given origin may be opened,
// else a *TrustError saying why not. OriginUser is always allowed.
//
// OriginProject (keyward.yaml): allowed unless it would steer credentials —
// a vault://HOST other than VaultAddr (the token would go there), or a
// sensitive query parameter (an endpoint, a credential or identity file,
// tls=false or skip-verify) — and no allow entry covers it.
//
// OriginData (a reference in a value or template): allowed only when it
// names exactly the store being read (Own; not env:// or file://) or an
// allow entry covers it; a vault://HOST reference must besides name
// VaultAddr or be covered by an entry that names its host.
func (p *TrustPolicy) CheckURL(raw string, origin URLOrigin) error {
	if origin == OriginUser {
		return nil
	}
	t, err := parseTrustURL(raw)
	if err != nil {
		return err
	}
	var vaultAddr string
	if p != nil {
		vaultAddr = normalAddr(p.VaultAddr)
	}
	offHost := t.scheme == "vault" && t.host != "" && t.vaultAddress() != vaultAddr
	sensitive := ""
	for _, k := range slices.Sorted(maps.Keys(t.query)) {
		if SensitiveParam(t.scheme, k) && !harmlessParam(t, k, vaultAddr) && !(origin == OriginProject && projectParam(t.scheme, k)) {
			sensitive = k
			break
		}
	}
	switch origin {
	case OriginProject:
		if (!offHost && sensitive == "") || p.allowed(t) {
			return nil
		}
		what := "names the Vault server " + t.vaultAddress() + ", not the one you configured (VAULT_ADDR), so your Vault token would be sent there"
		if !offHost {
			what = "sets " + sensitive + "=, which selects credentials, an endpoint or transport security"
		}
		return &TrustError{
			msg:  "keyward: refused to open " + t.display() + " from keyward.yaml: it " + what,
			Hint: allowHint(suggestEntry(t)),
		}
	case OriginData:
		if p != nil && p.Own != "" && !dataOnlyByName[t.scheme] {
			if o, err := ParseStoreURL(p.Own); err == nil {
				if r, err := ParseStoreURL(raw); err == nil && sameURL(o, r) {
					return nil
				}
			}
		}
		if p.allowed(t) {
			return nil
		}
		why := "a reference in a stored value or template may name only the store being read, or stores you allow"
		switch {
		case offHost:
			why = "it names a Vault server other than the one you configured (VAULT_ADDR), and your Vault token would be sent there"
		case dataOnlyByName[t.scheme]:
			why = "a reference in a stored value or template never reads your environment or files unless you allow it"
		case sensitive != "":
			why = "it sets " + sensitive + "=, which selects credentials, an endpoint or transport security"
		}
		return &TrustError{
			msg:  "keyward: refused the reference to " + t.display() + ": " + why,
			Hint: allowHint(suggestEntry(t)),
		}
	}
	return nil
}

// projectParam: a sensitive parameter keyward.yaml may set. A local
// store's identity= only chooses which of the user's identity files
// decrypts the repository's own store file; nothing is sent anywhere.
func projectParam(scheme, k string) bool { return scheme == "local" && k == "identity" }

func sameURL(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Host, b.Host) &&
		a.Path == b.Path && a.Opaque == b.Opaque && a.Query().Encode() == b.Query().Encode()
}

// CheckRef applies CheckURL (OriginData) to a parsed reference; a
// keyward://ENV/KEY reference is checked as the URL keyward://ENV (the
// environment's own store URL is then checked as OriginProject when it is
// opened).
func (p *TrustPolicy) CheckRef(r *Ref) error {
	if r.Env != "" {
		t := &trustURL{scheme: "keyward", loc: r.Env, host: strings.ToLower(r.Env), query: url.Values{}}
		if p.allowed(t) {
			return nil
		}
		return &TrustError{
			msg:  "keyward: refused the reference to environment " + r.Env + " of keyward.yaml: a reference in a stored value or template may name only the store being read, or stores you allow",
			Hint: allowHint("keyward://" + r.Env),
		}
	}
	return p.CheckURL(r.StoreURL, OriginData)
}
