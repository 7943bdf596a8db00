package vaultserver

import (
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	headerToken     = "X-Vault-Token"
	headerNamespace = "X-Vault-Namespace"
	errDenied       = "permission denied"
)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/v1/")
	method := r.Method
	q := r.URL.Query()
	if method == "LIST" || (method == http.MethodGet && q.Get("list") == "true") {
		method = "LIST"
	}
	if method == http.MethodPut {
		method = http.MethodPost
	}
	ns := r.Header.Get(headerNamespace)
	// A namespace may also prefix the path, as Vault allows.
	s.mu.Lock()
	s.log = append(s.log, Request{Method: method, Path: path, Query: r.URL.RawQuery, Namespace: ns, HasToken: r.Header.Get(headerToken) != ""})
	latency := s.latency
	f := s.takeFault(method, path)
	s.mu.Unlock()

	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		case <-s.quit:
			t.Stop()
			return
		}
	}
	if f != nil {
		s.applyFault(w, r, f)
		return
	}
	if !strings.HasPrefix(r.URL.Path, "/v1/") {
		writeErrors(w, http.StatusNotFound)
		return
	}

	var body map[string]any
	if r.Body != nil && (method == http.MethodPost || method == http.MethodPatch) {
		b, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
		if err != nil {
			return
		}
		if len(b) > 0 {
			dec := json.NewDecoder(strings.NewReader(string(b)))
			dec.UseNumber()
			if err := dec.Decode(&body); err != nil {
				writeErrors(w, http.StatusBadRequest, "failed to parse JSON input: "+err.Error())
				return
			}
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	switch path {
	case "sys/health":
		s.health(w)
		return
	case "sys/seal-status":
		writeJSON(w, http.StatusOK, map[string]any{"type": "shamir", "initialized": true, "sealed": s.sealed, "t": 1, "n": 1, "progress": 0, "version": "1.21.4"})
		return
	}
	if s.sealed {
		writeErrors(w, http.StatusServiceUnavailable, "Vault is sealed")
		return
	}
	switch path {
	case "auth/approle/login":
		s.approleLogin(w, body)
		return
	case "auth/kubernetes/login":
		s.k8sLogin(w, body)
		return
	}
	tok := s.validToken(r.Header.Get(headerToken))
	if tok == nil {
		writeErrors(w, http.StatusForbidden, errDenied)
		return
	}
	nsKey := normNS(ns)
	if rules := s.acl(tok); rules != nil {
		if !s.aclPermits(rules, nsKey, method, path) {
			writeErrors(w, http.StatusForbidden, "1 error occurred:\n\t* permission denied\n\n")
			return
		}
		tok = &Token{ID: tok.ID, Policies: tok.Policies, TTL: tok.TTL, MaxTTL: tok.MaxTTL, Renewable: tok.Renewable,
			Created: tok.Created, Expires: tok.Expires, aclRules: rules, real: tok}
	}
	switch {
	case path == "auth/token/lookup-self":
		writeJSON(w, http.StatusOK, envelope(s.tokenInfo(tok), nil))
	case path == "auth/token/renew-self" && method == http.MethodPost:
		s.renewSelf(w, tok.self(), body)
	case strings.HasPrefix(path, "sys/internal/ui/mounts/"):
		s.uiMount(w, tok, nsKey, strings.TrimPrefix(path, "sys/internal/ui/mounts/"))
	case path == "sys/mounts" && method == http.MethodGet:
		s.listMounts(w, nsKey)
	default:
		m, rest := s.matchMount(nsKey, path)
		if m == nil {
			writeErrors(w, http.StatusNotFound, "no handler for route \""+path+"\". route entry not found.")
			return
		}
		if !allowed(tok, path) {
			writeErrors(w, http.StatusForbidden, errDenied)
			return
		}
		if m.version == 1 {
			s.kv1(w, r, m, method, rest, body)
		} else {
			s.kv2(w, r, m, method, rest, body, q)
		}
	}
}

func (s *Server) health(w http.ResponseWriter) {
	st := http.StatusOK
	if s.sealed {
		st = http.StatusServiceUnavailable
	}
	writeJSON(w, st, map[string]any{"initialized": true, "sealed": s.sealed, "standby": false, "version": "1.21.4", "server_time_utc": s.now().Unix()})
}

func (s *Server) validToken(id string) *Token {
	if id == "" {
		return nil
	}
	t := s.tokens[id]
	if t == nil || t.Revoked || (!t.Expires.IsZero() && !s.now().Before(t.Expires)) {
		return nil
	}
	return t
}

func allowed(t *Token, path string) bool {
	if t.aclRules != nil {
		return true // checked by aclPermits
	}
	if t.Allow == nil {
		return true
	}
	for _, p := range t.Allow {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// allowedUnder reports whether t may use anything under prefix.
func allowedUnder(t *Token, prefix string) bool {
	if t.Allow == nil || t.aclRules != nil {
		return true
	}
	for _, p := range t.Allow {
		if strings.HasPrefix(p, prefix) || strings.HasPrefix(prefix, p) {
			return true
		}
	}
	return false
}

func (s *Server) matchMount(nsKey, path string) (*mount, string) {
	var best *mount
	for p, m := range s.mounts[nsKey] {
		if (strings.HasPrefix(path, p) || path+"/" == p) && (best == nil || len(p) > len(best.path)) {
			best = m
		}
	}
	if best == nil {
		return nil, ""
	}
	return best, strings.Trim(strings.TrimPrefix(path, best.path), "/")
}

func (s *Server) tokenInfo(t *Token) map[string]any {
	ttl := 0
	expire := any(nil)
	if !t.Expires.IsZero() {
		ttl = int(t.Expires.Sub(s.now()) / time.Second)
		expire = t.Expires.UTC().Format(time.RFC3339Nano)
	}
	return map[string]any{
		"accessor":         "acc-" + t.ID[:min(6, len(t.ID))],
		"creation_time":    t.Created.Unix(),
		"creation_ttl":     int(t.TTL / time.Second),
		"display_name":     "token",
		"expire_time":      expire,
		"explicit_max_ttl": int(t.MaxTTL / time.Second),
		"id":               t.ID,
		"policies":         t.Policies,
		"renewable":        t.Renewable,
		"ttl":              ttl,
		"type":             "service",
		"path":             "auth/token/create",
		"orphan":           false,
	}
}

func (s *Server) authBlock(t *Token) map[string]any {
	return map[string]any{
		"client_token":   t.ID,
		"accessor":       "acc-" + t.ID[:min(6, len(t.ID))],
		"policies":       t.Policies,
		"token_policies": t.Policies,
		"metadata":       map[string]any{},
		"lease_duration": int(t.TTL / time.Second),
		"renewable":      t.Renewable,
		"entity_id":      "",
		"token_type":     "service",
		"orphan":         true,
	}
}

func (s *Server) renewSelf(w http.ResponseWriter, t *Token, body map[string]any) {
	if !t.Renewable {
		writeErrors(w, http.StatusBadRequest, "lease is not renewable")
		return
	}
	ttl := t.TTL
	if inc, ok := body["increment"]; ok {
		if d, err := parseDuration(inc); err == nil && d > 0 {
			ttl = d
		}
	}
	exp := s.now().Add(ttl)
	if t.MaxTTL > 0 && exp.After(t.Created.Add(t.MaxTTL)) {
		exp = t.Created.Add(t.MaxTTL)
	}
	t.Expires = exp
	a := s.authBlock(t)
	a["lease_duration"] = int(exp.Sub(s.now()) / time.Second)
	writeJSON(w, http.StatusOK, envelope(nil, a))
}

func parseDuration(v any) (time.Duration, error) {
	switch x := v.(type) {
	case json.Number:
		n, err := x.Int64()
		return time.Duration(n) * time.Second, err
	case string:
		if n, err := strconv.Atoi(x); err == nil {
			return time.Duration(n) * time.Second, nil
		}
		return time.ParseDuration(x)
	}
	return 0, strconv.ErrSyntax
}

func (s *Server) issue(ttl, maxTTL time.Duration, allow []string, policies []string) *Token {
	t := &Token{ID: "hvs." + strings.ReplaceAll(randID(), "-", ""), Policies: policies, Allow: allow,
		TTL: ttl, MaxTTL: maxTTL, Renewable: ttl > 0, Created: s.now()}
	if ttl > 0 {
		t.Expires = t.Created.Add(ttl)
	}
	s.tokens[t.ID] = t
	return t
}

func (s *Server) approleLogin(w http.ResponseWriter, body map[string]any) {
	roleID, _ := body["role_id"].(string)
	secretID, _ := body["secret_id"].(string)
	if roleID == "" {
		writeErrors(w, http.StatusBadRequest, "missing role_id")
		return
	}
	r := s.approles[roleID]
	if r == nil || r.SecretID != secretID {
		writeErrors(w, http.StatusBadRequest, "invalid role or secret ID")
		return
	}
	t := s.issue(r.TokenTTL, r.TokenMaxTTL, r.Allow, withDefault(r.Policies, "approle"))
	writeJSON(w, http.StatusOK, envelope(nil, s.authBlock(t)))
}

func (s *Server) k8sLogin(w http.ResponseWriter, body map[string]any) {
	role, _ := body["role"].(string)
	jwt, _ := body["jwt"].(string)
	if role == "" {
		writeErrors(w, http.StatusBadRequest, "missing role")
		return
	}
	if jwt == "" {
		writeErrors(w, http.StatusBadRequest, "missing jwt")
		return
	}
	r := s.k8sRoles[role]
	if r == nil {
		writeErrors(w, http.StatusBadRequest, "invalid role name \""+role+"\"")
		return
	}
	ok := false
	for _, j := range r.JWTs {
		if j == jwt {
			ok = true
		}
	}
	if !ok {
		writeErrors(w, http.StatusForbidden, errDenied)
		return
	}
	t := s.issue(r.TokenTTL, 0, r.Allow, withDefault(r.Policies, "k8s"))
	writeJSON(w, http.StatusOK, envelope(nil, s.authBlock(t)))
}

func (m *mount) info() map[string]any {
	opts := map[string]any{"version": strconv.Itoa(m.version)}
	return map[string]any{
		"accessor":                m.accessor,
		"config":                  map[string]any{"default_lease_ttl": 0, "force_no_cache": false, "max_lease_ttl": 0},
		"description":             "key/value secret storage",
		"external_entropy_access": false,
		"local":                   false,
		"options":                 opts,
		"plugin_version":          "",
		"running_plugin_version":  "v0.24.0+builtin",
		"running_sha256":          "",
		"seal_wrap":               false,
		"type":                    m.typ,
		"uuid":                    m.uuid,
	}
}

func (s *Server) uiMount(w http.ResponseWriter, t *Token, nsKey, path string) {
	m, _ := s.matchMount(nsKey, strings.Trim(path, "/"))
	ok := m != nil && allowedUnder(t, m.path)
	if m != nil && t.aclRules != nil {
		ok = mountAccess(t.aclRules, m.path) || aclAllows(t.aclRules, CapRead, "sys/internal/ui/mounts/"+strings.Trim(path, "/"))
	}
	if !ok {
		writeErrors(w, http.StatusForbidden, "preflight capability check returned 403, please ensure client's policies grant access to path \""+strings.Trim(path, "/")+"/\"")
		return
	}
	d := m.info()
	d["path"] = m.path
	writeJSON(w, http.StatusOK, envelope(d, nil))
}

func (s *Server) listMounts(w http.ResponseWriter, nsKey string) {
	data := map[string]any{}
	for p, m := range s.mounts[nsKey] {
		data[p] = m.info()
	}
	data["sys/"] = map[string]any{"type": "system", "options": nil, "description": "system endpoints"}
	data["cubbyhole/"] = map[string]any{"type": "cubbyhole", "options": nil, "description": "per-token private secret storage"}
	out := envelope(data, nil)
	for k, v := range data { // Vault repeats mounts at the top level (legacy shape)
		out[k] = v
	}
	writeJSON(w, http.StatusOK, out)
}

// ---- KV v1 ----

func (s *Server) kv1(w http.ResponseWriter, r *http.Request, m *mount, method, p string, body map[string]any) {
	switch method {
	case http.MethodGet:
		d, ok := m.v1[p]
		if !ok || p == "" {
			writeErrors(w, http.StatusNotFound)
			return
		}
		e := envelope(cloneMap(d), nil)
		e["lease_duration"] = 2764800
		e["mount_type"] = "kv"
		writeJSON(w, http.StatusOK, e)
	case "LIST":
		keys := listKeys(p, func(yield func(string)) {
			for k := range m.v1 {
				yield(k)
			}
		})
		if len(keys) == 0 {
			writeErrors(w, http.StatusNotFound)
			return
		}
		writeJSON(w, http.StatusOK, envelope(map[string]any{"keys": keys}, nil))
	case http.MethodPost:
		if p == "" {
			writeErrors(w, http.StatusMethodNotAllowed, "1 error occurred:\n\t* unsupported operation\n\n")
			return
		}
		if body == nil {
			body = map[string]any{}
		}
		m.v1[p] = cloneMap(body)
		w.WriteHeader(http.StatusNoContent)
	case http.MethodDelete:
		delete(m.v1, p)
		w.WriteHeader(http.StatusNoContent)
	default:
		writeErrors(w, http.StatusMethodNotAllowed, "1 error occurred:\n\t* unsupported operation\n\n")
	}
}

// listKeys lists the direct children of prefix: names, and folders with "/".
func listKeys(prefix string, all func(yield func(string))) []string {
	if prefix != "" {
		prefix += "/"
	}
	seen := map[string]bool{}
	all(func(k string) {
		if !strings.HasPrefix(k, prefix) {
			return
		}
		rest := strings.TrimPrefix(k, prefix)
		if i := strings.Index(rest, "/"); i >= 0 {
			rest = rest[:i+1]
		}
		seen[rest] = true
	})
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ---- KV v2 ----

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func (v *kvVersion) metadata(n int) map[string]any {
	return map[string]any{
		"created_time":    rfc3339(v.created),
		"custom_metadata": nil,
		"deletion_time":   rfc3339(v.deleted),
		"destroyed":       v.destroyed,
		"version":         n,
	}
}

func (s *Server) kv2(w http.ResponseWriter, r *http.Request, m *mount, method, rest string, body map[string]any, q map[string][]string) {
	kind, p, _ := strings.Cut(rest, "/")
	switch kind {
	case "data":
		s.kv2Data(w, m, method, p, body, q)
	case "metadata":
		s.kv2Metadata(w, m, method, p)
	case "config":
		writeJSON(w, http.StatusOK, envelope(map[string]any{"cas_required": false, "delete_version_after": "0s", "max_versions": m.maxVersions}, nil))
	default:
		// Vault answers KV v1-style paths on a v2 mount with a hint.
		writeErrors(w, http.StatusNotFound)
	}
}

func (s *Server) kv2Data(w http.ResponseWriter, m *mount, method, p string, body map[string]any, q map[string][]string) {
	if p == "" {
		writeErrors(w, http.StatusNotFound)
		return
	}
	sec := m.v2[p]
	switch method {
	case http.MethodGet:
		if sec == nil {
			writeErrors(w, http.StatusNotFound)
			return
		}
		n := sec.current
		if vs := first(q["version"]); vs != "" && vs != "0" {
			var err error
			if n, err = strconv.Atoi(vs); err != nil {
				writeErrors(w, http.StatusBadRequest, "invalid version")
				return
			}
		}
		v := sec.versions[n]
		if v == nil {
			writeErrors(w, http.StatusNotFound)
			return
		}
		if !v.deleted.IsZero() || v.destroyed {
			e := envelope(map[string]any{"data": nil, "metadata": v.metadata(n)}, nil)
			writeJSON(w, http.StatusNotFound, e)
			return
		}
		e := envelope(map[string]any{"data": cloneMap(v.data), "metadata": v.metadata(n)}, nil)
		e["mount_type"] = "kv"
		writeJSON(w, http.StatusOK, e)
	case http.MethodPost:
		data, ok := body["data"].(map[string]any)
		if !ok {
			writeErrors(w, http.StatusBadRequest, "no data provided")
			return
		}
		if opts, ok := body["options"].(map[string]any); ok {
			if c, ok := opts["cas"]; ok {
				cas, err := parseInt(c)
				if err != nil {
					writeErrors(w, http.StatusBadRequest, "invalid cas parameter")
					return
				}
				cur := 0
				if sec != nil {
					cur = sec.current
				}
				if cas != cur {
					writeErrors(w, http.StatusBadRequest, "check-and-set parameter did not match the current version")
					return
				}
			}
		}
		n := m.writeV2(p, data, s.now())
		v := m.v2[p].versions[n]
		writeJSON(w, http.StatusOK, envelope(v.metadata(n), nil))
	case http.MethodDelete:
		if sec != nil {
			if v := sec.versions[sec.current]; v != nil && v.deleted.IsZero() {
				v.deleted = s.now()
			}
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		writeErrors(w, http.StatusMethodNotAllowed, "1 error occurred:\n\t* unsupported operation\n\n")
	}
}

func (s *Server) kv2Metadata(w http.ResponseWriter, m *mount, method, p string) {
	switch method {
	case "LIST":
		keys := listKeys(p, func(yield func(string)) {
			for k := range m.v2 {
				yield(k)
			}
		})
		if len(keys) == 0 {
			writeErrors(w, http.StatusNotFound)
			return
		}
		writeJSON(w, http.StatusOK, envelope(map[string]any{"keys": keys}, nil))
	case http.MethodGet:
		sec := m.v2[p]
		if sec == nil || p == "" {
			writeErrors(w, http.StatusNotFound)
			return
		}
		versions := map[string]any{}
		for n, v := range sec.versions {
			md := v.metadata(n)
			delete(md, "version")
			delete(md, "custom_metadata")
			versions[strconv.Itoa(n)] = md
		}
		writeJSON(w, http.StatusOK, envelope(map[string]any{
			"cas_required":         false,
			"created_time":         rfc3339(sec.created),
			"current_version":      sec.current,
			"custom_metadata":      nil,
			"delete_version_after": "0s",
			"max_versions":         0,
			"oldest_version":       sec.oldest,
			"updated_time":         rfc3339(sec.updated),
			"versions":             versions,
		}, nil))
	case http.MethodDelete:
		delete(m.v2, p)
		w.WriteHeader(http.StatusNoContent)
	default:
		writeErrors(w, http.StatusMethodNotAllowed, "1 error occurred:\n\t* unsupported operation\n\n")
	}
}

func parseInt(v any) (int, error) {
	switch x := v.(type) {
	case json.Number:
		n, err := x.Int64()
		return int(n), err
	case string:
		return strconv.Atoi(x)
	}
	return 0, strconv.ErrSyntax
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func withDefault(policies []string, fallback string) []string {
	if len(policies) == 0 {
		return []string{"default", fallback}
	}
	return append([]string{"default"}, policies...)
}

func (t *Token) self() *Token {
	if t.real != nil {
		return t.real
	}
	return t
}

// aclPermits checks a request against ACL rules (see acl.go). s.mu is held.
func (s *Server) aclPermits(rules map[string][]string, nsKey, method, path string) bool {
	if strings.HasPrefix(path, "sys/internal/ui/mounts/") {
		return true // answered from the token's access inside the mount (uiMount)
	}
	switch method {
	case http.MethodGet:
		return aclAllows(rules, CapRead, path)
	case "LIST":
		if !strings.HasSuffix(path, "/") {
			path += "/"
		}
		return aclAllows(rules, CapList, path)
	case http.MethodDelete:
		return aclAllows(rules, CapDelete, path)
	case http.MethodPatch:
		return aclAllows(rules, CapPatch, path)
	case http.MethodPost:
		if path == "auth/token/renew-self" || path == "auth/token/revoke-self" || path == "sys/capabilities-self" {
			return aclAllows(rules, CapUpdate, path)
		}
		if s.exists(nsKey, path) {
			return aclAllows(rules, CapUpdate, path)
		}
		return aclAllows(rules, CapCreate, path)
	}
	return false
}

// exists is the existence check that tells create from update.
func (s *Server) exists(nsKey, path string) bool {
	m, rest := s.matchMount(nsKey, path)
	if m == nil {
		return true
	}
	if m.version == 1 {
		_, ok := m.v1[rest]
		return ok
	}
	kind, p, _ := strings.Cut(rest, "/")
	if kind != "data" && kind != "metadata" {
		return true
	}
	return m.v2[p] != nil
}
