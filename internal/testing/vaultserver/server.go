// Package vaultserver is an in-process HashiCorp Vault (and OpenBao) HTTP
// server for tests. It speaks the parts of Vault's real HTTP API that the
// official github.com/hashicorp/vault/api client and the vault CLI use:
//
//   - KV v2 mounts: data/ (read, ?version=N, write with options.cas, soft
//     delete), metadata/ (read, list, delete), max_versions trimming;
//   - KV v1 mounts: read, write, list, delete;
//   - sys/internal/ui/mounts/<path> (the vault CLI's mount detection) and
//     sys/mounts;
//   - token auth: X-Vault-Token, auth/token/lookup-self, auth/token/renew-self,
//     TTL expiry on the server's clock;
//   - auth/approle/login (role_id + secret_id) and auth/kubernetes/login
//     (role + jwt);
//   - namespaces (X-Vault-Namespace), each with its own mount table;
//   - a sealed state (503 {"errors":["Vault is sealed"]});
//   - fault injection: the next N matching requests answer 5xx, 429 with
//     Retry-After, hang, a truncated body, 401/403, or a redirect.
//
// Response and error bodies have Vault's shapes ({"errors":[...]}, the
// request_id/lease_id/data/auth envelope). A token is governed either by ACL
// policies (AddPolicy, enforced with OpenBao's path-matching rules: see
// acl.go) or, more simply, by a list of allowed path prefixes.
package vaultserver

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// RootToken is the token New creates, allowed everywhere, never expiring.
const RootToken = "root-token-for-tests"

// Server is an in-process Vault. Use New; Close when done.
type Server struct {
	// URL is the server's address, for VAULT_ADDR.
	URL string

	ts   *httptest.Server
	quit chan struct{}

	mu       sync.Mutex
	now      func() time.Time
	sealed   bool
	latency  time.Duration
	mounts   map[string]map[string]*mount // namespace ("" root) → path ("secret/") → mount
	tokens   map[string]*Token
	approles map[string]*AppRole // role_id → role
	k8sRoles map[string]*K8sRole // role name → role
	faults   []*Fault
	policies map[string][]PolicyRule // AddPolicy
	log      []Request
	counts   map[string]int
}

// Request is one request the server saw (never a body or a token value).
type Request struct {
	Method    string
	Path      string // without /v1/
	Query     string
	Namespace string
	HasToken  bool
}

// Token is a token the server knows.
type Token struct {
	ID        string
	Policies  []string
	Allow     []string // allowed path prefixes; nil allows everything
	TTL       time.Duration
	MaxTTL    time.Duration
	Renewable bool
	Created   time.Time
	Expires   time.Time // zero: never
	Revoked   bool

	aclRules map[string][]string // set on the per-request copy of an ACL-governed token
	real     *Token
}

// AppRole is an AppRole role.
type AppRole struct {
	RoleID, SecretID string
	TokenTTL         time.Duration
	TokenMaxTTL      time.Duration
	Allow            []string
	// Policies are the ACL policies (AddPolicy) its tokens carry.
	Policies []string
}

// K8sRole is a Kubernetes auth role that accepts the listed JWTs.
type K8sRole struct {
	Name     string
	JWTs     []string
	TokenTTL time.Duration
	Allow    []string
	// Policies are the ACL policies (AddPolicy) its tokens carry.
	Policies []string
}

type mount struct {
	path        string // "secret/"
	typ         string // "kv"
	version     int    // 1 or 2
	maxVersions int
	uuid        string
	accessor    string
	v1          map[string]map[string]any
	v2          map[string]*kvSecret
}

type kvVersion struct {
	data      map[string]any
	created   time.Time
	deleted   time.Time
	destroyed bool
}

type kvSecret struct {
	created  time.Time
	updated  time.Time
	current  int
	oldest   int
	versions map[int]*kvVersion
}

// Options configures New.
type Options struct {
	// Now replaces time.Now for token expiry and KV timestamps.
	Now func() time.Time
	// NoDefaultMounts leaves out the default "secret/" KV v2 mount.
	NoDefaultMounts bool
}

// New starts a server with a root token (RootToken) and, unless
// opts.NoDefaultMounts, a KV v2 mount at secret/ as `vault server -dev` has.
func New(opts *Options) *Server {
	s := &Server{
		quit:     make(chan struct{}),
		now:      time.Now,
		mounts:   map[string]map[string]*mount{},
		tokens:   map[string]*Token{},
		approles: map[string]*AppRole{},
		k8sRoles: map[string]*K8sRole{},
		counts:   map[string]int{},
	}
	if opts != nil && opts.Now != nil {
		s.now = opts.Now
	}
	s.tokens[RootToken] = &Token{ID: RootToken, Policies: []string{"root"}, Created: s.now()}
	if opts == nil || !opts.NoDefaultMounts {
		s.Mount("", "secret/", 2)
	}
	s.ts = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.ts.URL
	return s
}

// Close stops the server, releasing any hung requests first.
func (s *Server) Close() {
	close(s.quit)
	s.ts.CloseClientConnections()
	s.ts.Close()
}

// Client returns an *http.Client for the server (plain HTTP).
func (s *Server) Client() *http.Client { return s.ts.Client() }

// Mount enables a KV mount (version 1 or 2) at path in namespace ns ("" is
// the root namespace). The path gets a trailing "/".
func (s *Server) Mount(ns, path string, version int) {
	path = strings.Trim(path, "/") + "/"
	s.mu.Lock()
	defer s.mu.Unlock()
	nsKey := normNS(ns)
	if s.mounts[nsKey] == nil {
		s.mounts[nsKey] = map[string]*mount{}
	}
	s.mounts[nsKey][path] = &mount{path: path, typ: "kv", version: version, maxVersions: 10,
		uuid: randID(), accessor: "kv_" + randID()[:8],
		v1: map[string]map[string]any{}, v2: map[string]*kvSecret{}}
}

// Unmount disables the mount at path in namespace ns, with its secrets.
func (s *Server) Unmount(ns, path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.mounts[normNS(ns)], strings.Trim(path, "/")+"/")
}

// SetMaxVersions sets a KV v2 mount's max_versions (0 means Vault's default, 10).
func (s *Server) SetMaxVersions(ns, path string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.mounts[normNS(ns)][strings.Trim(path, "/")+"/"]; m != nil {
		if n == 0 {
			n = 10
		}
		m.maxVersions = n
	}
}

// AddToken registers a token. A zero Created becomes now; a TTL sets Expires.
func (s *Server) AddToken(t Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.Created.IsZero() {
		t.Created = s.now()
	}
	if t.TTL > 0 && t.Expires.IsZero() {
		t.Expires = t.Created.Add(t.TTL)
	}
	s.tokens[t.ID] = &t
}

// RevokeToken makes a token invalid.
func (s *Server) RevokeToken(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tokens[id]; t != nil {
		t.Revoked = true
	}
}

// AddAppRole enables an AppRole role.
func (s *Server) AddAppRole(r AppRole) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.approles[r.RoleID] = &r
}

// AddK8sRole enables a Kubernetes auth role.
func (s *Server) AddK8sRole(r K8sRole) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.k8sRoles[r.Name] = &r
}

// Seal seals (true) or unseals (false) the server.
func (s *Server) Seal(sealed bool) {
	s.mu.Lock()
	s.sealed = sealed
	s.mu.Unlock()
}

// SetLatency delays every request by d (benchmarks).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	s.latency = d
	s.mu.Unlock()
}

// Requests returns the requests seen so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

// Count returns how many requests had method and a path with the given
// prefix ("" matches all), e.g. Count("GET", "secret/data/").
func (s *Server) Count(method, pathPrefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.log {
		if (method == "" || r.Method == method) && strings.HasPrefix(r.Path, pathPrefix) {
			n++
		}
	}
	return n
}

// ResetLog forgets the requests seen so far.
func (s *Server) ResetLog() {
	s.mu.Lock()
	s.log = nil
	s.mu.Unlock()
}

// PutKV writes data as a new version of path (inside the mount at mountPath)
// in namespace ns, bypassing auth. It returns the new version (1 on KV v1).
func (s *Server) PutKV(ns, mountPath, path string, data map[string]any) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.mounts[normNS(ns)][strings.Trim(mountPath, "/")+"/"]
	if m == nil {
		return 0, fmt.Errorf("no mount %q", mountPath)
	}
	path = strings.Trim(path, "/")
	if m.version == 1 {
		m.v1[path] = cloneMap(data)
		return 1, nil
	}
	return m.writeV2(path, data, s.now()), nil
}

// GetKV reads the current data of path, bypassing auth (nil if absent or deleted).
func (s *Server) GetKV(ns, mountPath, path string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.mounts[normNS(ns)][strings.Trim(mountPath, "/")+"/"]
	if m == nil {
		return nil
	}
	path = strings.Trim(path, "/")
	if m.version == 1 {
		return cloneMap(m.v1[path])
	}
	sec := m.v2[path]
	if sec == nil {
		return nil
	}
	v := sec.versions[sec.current]
	if v == nil || !v.deleted.IsZero() || v.destroyed {
		return nil
	}
	return cloneMap(v.data)
}

func (m *mount) writeV2(path string, data map[string]any, now time.Time) int {
	sec := m.v2[path]
	if sec == nil {
		sec = &kvSecret{created: now, oldest: 1, versions: map[int]*kvVersion{}}
		m.v2[path] = sec
	}
	sec.current++
	sec.updated = now
	sec.versions[sec.current] = &kvVersion{data: cloneMap(data), created: now}
	for len(sec.versions) > m.maxVersions {
		delete(sec.versions, sec.oldest)
		sec.oldest++
	}
	return sec.current
}

func normNS(ns string) string {
	ns = strings.Trim(ns, "/")
	if ns == "" || ns == "root" {
		return ""
	}
	return ns + "/"
}

func randID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// writeJSON writes Vault's response envelope or an error body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeErrors(w http.ResponseWriter, status int, msgs ...string) {
	if msgs == nil {
		msgs = []string{}
	}
	writeJSON(w, status, map[string]any{"errors": msgs})
}

// envelope is Vault's response shape.
func envelope(data any, auth any) map[string]any {
	return map[string]any{
		"request_id":     randID(),
		"lease_id":       "",
		"renewable":      false,
		"lease_duration": 0,
		"data":           data,
		"wrap_info":      nil,
		"warnings":       nil,
		"auth":           auth,
		"mount_type":     "",
	}
}
