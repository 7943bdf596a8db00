// Package azureserver is an in-process Azure Key Vault (secrets) for tests.
// It speaks the Key Vault REST API over real HTTP, so the real azsecrets
// client talks to it through its whole pipeline, including the bearer
// challenge: the first request of a client carries no token and gets a 401
// with a `WWW-Authenticate: Bearer authorization=… resource=…` challenge,
// as Key Vault answers, and later requests must carry a bearer token.
//
// Served: GET/PUT /secrets/{name}, GET/PATCH /secrets/{name}/{version},
// GET /secrets (list), GET /secrets/{name}/versions, DELETE /secrets/{name}
// (soft delete), GET and DELETE (purge) /deletedsecrets/{name}; nextLink
// pagination; api-version required; names case-insensitive; error bodies
// {"error":{"code":"SecretNotFound","message":…}}; a disabled version
// answers 403 Forbidden with inner code SecretDisabled.
//
// The SDK ships a fake package (azsecrets/fake) that swaps the HTTP
// transport for per-method callbacks. It is not used here: it has no state,
// skips the HTTP protocol (challenge, status codes, paging links) and cannot
// serve a separate process such as the keyward CLI under testscript.
//
// Faults (status codes with Retry-After, hangs, truncated bodies) can be
// injected per operation.
package azureserver

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/keyward/keyward/internal/testing/faults"
)

// Operation names for faults and call counts.
const (
	OpGet          = "GetSecret"
	OpSet          = "SetSecret"
	OpUpdate       = "UpdateSecretProperties"
	OpDelete       = "DeleteSecret"
	OpList         = "ListSecretProperties"
	OpListVersions = "ListSecretPropertiesVersions"
	OpGetDeleted   = "GetDeletedSecret"
	OpPurge        = "PurgeDeletedSecret"
)

// Challenge is the WWW-Authenticate header the server sends to a request
// without a bearer token.
const Challenge = `Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", resource="https://vault.azure.net"`

// MaxValue is Key Vault's limit on a secret value (25k characters).
const MaxValue = 25 * 1024

var nameRe = regexp.MustCompile(`^[0-9a-zA-Z-]{1,127}$`)

// Fault is an injected failure.
type Fault struct {
	// Op is the operation it applies to (OpGet…); "" means any.
	Op string
	// Status, if non-zero, answers with that HTTP status and an Azure
	// error body (Code, or a default for the status).
	Status int
	Code   string
	// RetryAfter, if set, is sent as the Retry-After header (seconds).
	RetryAfter string
	// Hang blocks until the client gives up.
	Hang bool
	// Truncate sends a success status and half the body, then drops the
	// connection.
	Truncate bool
	// Times is how many matching calls fail; 0 means until ClearFaults.
	Times int
}

// Server is the fake Key Vault. Its methods are safe for concurrent use.
type Server struct {
	mu      sync.Mutex
	secrets map[string]*secret // by lower-case name
	deleted map[string]*deletedSecret
	faults  faults.Queue[Fault] // and the call counts
	// PageSize is the list page size (Key Vault's default is 25).
	PageSize int
	// Token, if set, is the only bearer token accepted; otherwise any
	// non-empty token is.
	Token string

	hs *httptest.Server
}

type secret struct {
	name     string
	versions []*version
}

type version struct {
	id          string
	value       string
	contentType string
	enabled     bool
	created     int64
	updated     int64
	tags        map[string]string
}

type deletedSecret struct {
	s           *secret
	deletedDate int64
}

// Start serves on a loopback port (plain HTTP) until Close.
func Start() *Server {
	s := &Server{secrets: map[string]*secret{}, deleted: map[string]*deletedSecret{}, PageSize: 25}
	s.hs = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Cleanuper is the part of testing.TB that New needs.
type Cleanuper interface{ Cleanup(func()) }

// New starts a server that stops when the test ends.
func New(t Cleanuper) *Server {
	s := Start()
	t.Cleanup(s.Close)
	return s
}

// URL is the server's address ("http://127.0.0.1:PORT"). It serves plain
// HTTP; ids and nextLinks it returns say https://, as Key Vault's do.
func (s *Server) URL() string { return s.hs.URL }

// Close stops the server.
func (s *Server) Close() {
	s.hs.CloseClientConnections()
	s.hs.Close()
}

// InjectFault adds a fault; faults are matched in the order added.
func (s *Server) InjectFault(f Fault) {
	s.faults.Add(f.Op, f.Times, f)
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.faults.Clear()
}

// Calls reports how many authenticated requests reached op.
func (s *Server) Calls(op string) int {
	return s.faults.Calls(op)
}

// Seed adds value as the new current version of name and returns its id.
func (s *Server) Seed(name, value string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, _, err := s.set(name, setParams{Value: &value})
	if err != nil {
		return "", err
	}
	return v.id, nil
}

// SetEnabled enables or disables one version ("" is the current one).
func (s *Server) SetEnabled(name, ver string, enabled bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[strings.ToLower(name)]
	if sec == nil {
		return fmt.Errorf("no secret %s", name)
	}
	v := sec.find(ver)
	if v == nil {
		return fmt.Errorf("no version %s of %s", ver, name)
	}
	v.enabled = enabled
	return nil
}

func (sec *secret) find(ver string) *version {
	if ver == "" {
		return sec.versions[len(sec.versions)-1]
	}
	for _, v := range sec.versions {
		if strings.EqualFold(v.id, ver) {
			return v
		}
	}
	return nil
}

type apiError struct {
	status  int
	code    string
	message string
	inner   string
}

func (e *apiError) Error() string { return e.message }

func notFound(name string) *apiError {
	return &apiError{http.StatusNotFound, "SecretNotFound", fmt.Sprintf("A secret with (name/id) %s was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182", name), ""}
}

func badParam(msg string) *apiError { return &apiError{http.StatusBadRequest, "BadParameter", msg, ""} }

func writeError(w http.ResponseWriter, e *apiError) {
	body := map[string]any{"code": e.code, "message": e.message}
	if e.inner != "" {
		body["innererror"] = map[string]any{"code": e.inner}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("x-ms-keyvault-service-version", "1.9.0.0")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": body})
}

func defaultCode(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "Unauthorized"
	case http.StatusForbidden:
		return "Forbidden"
	case http.StatusTooManyRequests:
		return "Throttled"
	case http.StatusConflict:
		return "Conflict"
	case http.StatusNotFound:
		return "SecretNotFound"
	}
	if status >= 500 {
		return "ServiceUnavailable"
	}
	return "BadParameter"
}

// route classifies a request: op, secret name, version.
func route(r *http.Request) (op, name, ver string, ok bool) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	// A trailing slash (GET /secrets/name/) means "no version".
	trailing := strings.HasSuffix(r.URL.Path, "/")
	switch {
	case len(parts) == 1 && parts[0] == "secrets" && r.Method == http.MethodGet:
		return OpList, "", "", true
	case len(parts) == 2 && parts[0] == "secrets":
		switch r.Method {
		case http.MethodGet:
			return OpGet, parts[1], "", true
		case http.MethodPut:
			return OpSet, parts[1], "", true
		case http.MethodDelete:
			return OpDelete, parts[1], "", true
		case http.MethodPatch:
			return OpUpdate, parts[1], "", true
		}
	case len(parts) == 3 && parts[0] == "secrets" && parts[2] == "versions" && r.Method == http.MethodGet && !trailing:
		return OpListVersions, parts[1], "", true
	case len(parts) == 3 && parts[0] == "secrets":
		switch r.Method {
		case http.MethodGet:
			return OpGet, parts[1], parts[2], true
		case http.MethodPatch:
			return OpUpdate, parts[1], parts[2], true
		}
	case len(parts) == 2 && parts[0] == "deletedsecrets":
		switch r.Method {
		case http.MethodGet:
			return OpGetDeleted, parts[1], "", true
		case http.MethodDelete:
			return OpPurge, parts[1], "", true
		}
	}
	return "", "", "", false
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	tok, isBearer := strings.CutPrefix(auth, "Bearer ")
	if !isBearer || tok == "" || (s.Token != "" && tok != s.Token) {
		w.Header().Set("WWW-Authenticate", Challenge)
		writeError(w, &apiError{http.StatusUnauthorized, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.", ""})
		return
	}
	if r.URL.Query().Get("api-version") == "" {
		writeError(w, &apiError{http.StatusBadRequest, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.", ""})
		return
	}
	op, name, ver, ok := route(r)
	if !ok {
		writeError(w, &apiError{http.StatusBadRequest, "BadParameter", "The request URI contains an invalid path.", ""})
		return
	}
	fault, faulted := s.faults.Take(op)
	if faulted {
		switch {
		case fault.Hang:
			<-r.Context().Done()
			return
		case fault.Status != 0:
			if fault.RetryAfter != "" {
				w.Header().Set("Retry-After", fault.RetryAfter)
			}
			code := fault.Code
			if code == "" {
				code = defaultCode(fault.Status)
			}
			if fault.Status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", Challenge)
			}
			writeError(w, &apiError{fault.Status, code, "injected fault", ""})
			return
		}
	}
	body, status, aerr := s.handle(r, op, name, ver)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if faulted && fault.Truncate {
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.WriteHeader(status)
		_, _ = w.Write(b[:len(b)/2])
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
			}
		}
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

type attributes struct {
	Enabled         *bool  `json:"enabled,omitempty"`
	Created         int64  `json:"created,omitempty"`
	Updated         int64  `json:"updated,omitempty"`
	RecoveryLevel   string `json:"recoveryLevel,omitempty"`
	RecoverableDays int    `json:"recoverableDays,omitempty"`
}

type setParams struct {
	Value       *string           `json:"value"`
	ContentType string            `json:"contentType,omitempty"`
	Attributes  *attributes       `json:"attributes,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
}

// base is the vault URL as Key Vault writes it in ids and nextLinks: always
// https (clients for this plaintext server rewrite the scheme in transport).
func (s *Server) base(r *http.Request) string { return "https://" + r.Host }

func (v *version) attrs() attributes {
	en := v.enabled
	return attributes{Enabled: &en, Created: v.created, Updated: v.updated, RecoveryLevel: "Recoverable+Purgeable", RecoverableDays: 90}
}

func (s *Server) bundle(base string, sec *secret, v *version, withValue bool) map[string]any {
	m := map[string]any{
		"id":         base + "/secrets/" + sec.name + "/" + v.id,
		"attributes": v.attrs(),
	}
	if withValue {
		m["value"] = v.value
	}
	if v.contentType != "" {
		m["contentType"] = v.contentType
	}
	if len(v.tags) > 0 {
		m["tags"] = v.tags
	}
	return m
}

func newVersionID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// set adds a version; the caller holds s.mu.
func (s *Server) set(name string, p setParams) (*version, *secret, *apiError) {
	if !nameRe.MatchString(name) {
		return nil, nil, badParam("The request URI contains an invalid name: " + name)
	}
	if p.Value == nil {
		return nil, nil, badParam("Property value is required.")
	}
	if len(*p.Value) > MaxValue {
		return nil, nil, badParam("Secret value is too long.")
	}
	key := strings.ToLower(name)
	if s.deleted[key] != nil {
		return nil, nil, &apiError{http.StatusConflict, "Conflict", fmt.Sprintf("Secret %s is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.", name), "ObjectIsDeletedButRecoverable"}
	}
	sec := s.secrets[key]
	if sec == nil {
		sec = &secret{name: name}
		s.secrets[key] = sec
	}
	now := time.Now().Unix()
	v := &version{id: newVersionID(), value: *p.Value, contentType: p.ContentType, enabled: true, created: now, updated: now, tags: p.Tags}
	if p.Attributes != nil && p.Attributes.Enabled != nil {
		v.enabled = *p.Attributes.Enabled
	}
	sec.versions = append(sec.versions, v)
	return v, sec, nil
}

func (s *Server) handle(r *http.Request, op, name, ver string) (any, int, *apiError) {
	base := s.base(r)
	var reqBody []byte
	if r.Body != nil && (r.Method == http.MethodPut || r.Method == http.MethodPatch) {
		var err error
		reqBody, err = readAll(r)
		if err != nil {
			return nil, 0, badParam("could not read the request body")
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch op {
	case OpList:
		names := make([]string, 0, len(s.secrets))
		for k := range s.secrets {
			names = append(names, k)
		}
		sort.Strings(names)
		page, next, aerr := s.page(r, len(names))
		if aerr != nil {
			return nil, 0, aerr
		}
		items := []any{}
		for _, k := range names[page[0]:page[1]] {
			sec := s.secrets[k]
			cur := sec.versions[len(sec.versions)-1]
			items = append(items, map[string]any{"id": base + "/secrets/" + sec.name, "attributes": cur.attrs()})
		}
		return listBody(items, next, base+"/secrets"), http.StatusOK, nil
	case OpListVersions:
		sec := s.secrets[strings.ToLower(name)]
		if sec == nil {
			return nil, 0, notFound(name)
		}
		page, next, aerr := s.page(r, len(sec.versions))
		if aerr != nil {
			return nil, 0, aerr
		}
		items := []any{}
		for _, v := range sec.versions[page[0]:page[1]] {
			items = append(items, map[string]any{"id": base + "/secrets/" + sec.name + "/" + v.id, "attributes": v.attrs()})
		}
		return listBody(items, next, base+"/secrets/"+sec.name+"/versions"), http.StatusOK, nil
	case OpGet:
		sec := s.secrets[strings.ToLower(name)]
		if sec == nil {
			return nil, 0, notFound(name)
		}
		v := sec.find(ver)
		if v == nil {
			return nil, 0, notFound(name + "/" + ver)
		}
		if !v.enabled {
			return nil, 0, &apiError{http.StatusForbidden, "Forbidden", "Operation get is not allowed on a disabled secret.", "SecretDisabled"}
		}
		return s.bundle(base, sec, v, true), http.StatusOK, nil
	case OpSet:
		var p setParams
		if err := json.Unmarshal(reqBody, &p); err != nil {
			return nil, 0, badParam("The request body is not valid JSON.")
		}
		if p.Value != nil && !utf8.ValidString(*p.Value) {
			return nil, 0, badParam("The secret value is not valid UTF-8.")
		}
		v, sec, aerr := s.set(name, p)
		if aerr != nil {
			return nil, 0, aerr
		}
		return s.bundle(base, sec, v, true), http.StatusOK, nil
	case OpUpdate:
		sec := s.secrets[strings.ToLower(name)]
		if sec == nil {
			return nil, 0, notFound(name)
		}
		v := sec.find(ver)
		if v == nil {
			return nil, 0, notFound(name + "/" + ver)
		}
		var p setParams
		if err := json.Unmarshal(reqBody, &p); err != nil {
			return nil, 0, badParam("The request body is not valid JSON.")
		}
		if p.Value != nil {
			return nil, 0, badParam("The value of a secret version cannot be changed.")
		}
		if p.Attributes != nil && p.Attributes.Enabled != nil {
			v.enabled = *p.Attributes.Enabled
		}
		if p.ContentType != "" {
			v.contentType = p.ContentType
		}
		if p.Tags != nil {
			v.tags = p.Tags
		}
		v.updated = time.Now().Unix()
		return s.bundle(base, sec, v, false), http.StatusOK, nil
	case OpDelete:
		key := strings.ToLower(name)
		sec := s.secrets[key]
		if sec == nil {
			return nil, 0, notFound(name)
		}
		delete(s.secrets, key)
		now := time.Now().Unix()
		s.deleted[key] = &deletedSecret{s: sec, deletedDate: now}
		b := s.bundle(base, sec, sec.versions[len(sec.versions)-1], false)
		b["recoveryId"] = base + "/deletedsecrets/" + sec.name
		b["deletedDate"] = now
		b["scheduledPurgeDate"] = now + 90*24*3600
		return b, http.StatusOK, nil
	case OpGetDeleted:
		d := s.deleted[strings.ToLower(name)]
		if d == nil {
			return nil, 0, &apiError{http.StatusNotFound, "SecretNotFound", "Deleted Secret not found: " + name, ""}
		}
		b := s.bundle(base, d.s, d.s.versions[len(d.s.versions)-1], false)
		b["recoveryId"] = base + "/deletedsecrets/" + d.s.name
		b["deletedDate"] = d.deletedDate
		return b, http.StatusOK, nil
	case OpPurge:
		key := strings.ToLower(name)
		if s.deleted[key] == nil {
			return nil, 0, &apiError{http.StatusNotFound, "SecretNotFound", "Deleted Secret not found: " + name, ""}
		}
		delete(s.deleted, key)
		return nil, http.StatusNoContent, nil
	}
	return nil, 0, badParam("unsupported operation")
}

func listBody(items []any, next, link string) map[string]any {
	m := map[string]any{"value": items, "nextLink": nil}
	if next != "" {
		m["nextLink"] = link + "?api-version=2025-07-01&$skiptoken=" + next
	}
	return m
}

func (s *Server) page(r *http.Request, n int) ([2]int, string, *apiError) {
	start := 0
	if tok := r.URL.Query().Get("$skiptoken"); tok != "" {
		var err error
		start, err = strconv.Atoi(tok)
		if err != nil || start < 0 || start > n {
			return [2]int{}, "", badParam("invalid $skiptoken")
		}
	}
	size := s.PageSize
	if m := r.URL.Query().Get("maxresults"); m != "" {
		if v, err := strconv.Atoi(m); err == nil && v > 0 && v <= 25 {
			size = v
		}
	}
	end := min(start+size, n)
	next := ""
	if end < n {
		next = strconv.Itoa(end)
	}
	return [2]int{start, end}, next, nil
}

func readAll(r *http.Request) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r.Body, 1<<20))
}
