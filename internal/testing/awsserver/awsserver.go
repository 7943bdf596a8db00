// Package awsserver is an in-process AWS Secrets Manager for tests. It speaks
// the service's real wire protocol, JSON 1.1 over HTTP (POST /, an
// X-Amz-Target: secretsmanager.<Operation> header, a
// application/x-amz-json-1.1 body), as aws-sdk-go-v2 sends it, so the
// awssm provider is tested through the unmodified SDK: request signing,
// serialization, error deserialization and all.
//
// It implements GetSecretValue, BatchGetSecretValue, CreateSecret,
// PutSecretValue, UpdateSecretVersionStage, ListSecrets, ListSecretVersionIds,
// DescribeSecret, DeleteSecret and RestoreSecret with the staging-label rules
// of the real service: a new version takes AWSCURRENT unless VersionStages
// says otherwise, the version that loses AWSCURRENT takes AWSPREVIOUS, a
// ClientRequestToken is the version id and makes a write idempotent, and
// moving a label that is attached elsewhere requires RemoveFromVersionId to
// name the version that holds it (the only compare-and-swap the service has).
//
// Every request must carry a SigV4 Authorization header; the signature
// itself is not verified. An identity policy bound to an access key id with
// [Server.SetPolicy] is enforced on that key's requests (see iam.go). Faults can be injected per operation with
// [Server.Inject].
package awsserver

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/testing/faults"
)

// Stage labels the service manages.
const (
	StageCurrent  = "AWSCURRENT"
	StagePrevious = "AWSPREVIOUS"
	StagePending  = "AWSPENDING"
)

// Fault is one injected failure. Exactly one of Status, Hang, Truncate or
// Close is normally set.
type Fault struct {
	// Op limits the fault to one operation ("GetSecretValue"); "" is any.
	Op string
	// Status answers with this HTTP status and an AWS JSON error body.
	Status int
	// Type is the error's __type (default InternalServiceError for 5xx,
	// ThrottlingException for 429, AccessDeniedException for 403).
	Type string
	// RetryAfter, if set, is sent as the Retry-After header.
	RetryAfter string
	// Hang holds the request until the client gives up or the server closes.
	Hang bool
	// Truncate answers the real response but cuts the body in half while
	// promising its full length.
	Truncate bool
	// Close drops the connection without answering.
	Close bool
	// Delay answers normally after this long (or when the client gives up).
	Delay time.Duration
}

// Server is a fake Secrets Manager. Create one with New; it is closed with
// the test.
type Server struct {
	// URL is the endpoint to give the SDK (AWS_ENDPOINT_URL_SECRETS_MANAGER).
	URL string

	srv *httptest.Server

	mu       sync.Mutex
	secrets  map[string]*secret     // by name
	faults   faults.Queue[Fault]    // and the call counters
	policies map[string][]statement // SetPolicy: access key id → identity policy
	pageSize int
	now      func() time.Time
	hang     chan struct{}
	seq      int
}

type secret struct {
	name, arn   string
	description string
	created     time.Time
	changed     time.Time
	deleted     time.Time // zero unless scheduled for deletion
	versions    []*version
}

type version struct {
	id      string
	str     *string
	bin     []byte
	stages  []string
	created time.Time
}

// TB is the part of testing.TB that New needs.
type TB interface {
	Helper()
	Cleanup(func())
}

// New starts a server and stops it when the test ends.
func New(t TB) *Server {
	t.Helper()
	s := NewUnstarted()
	s.srv = httptest.NewServer(s)
	s.URL = s.srv.URL
	t.Cleanup(s.Close)
	return s
}

// NewUnstarted returns a server that is not listening: serve it yourself.
func NewUnstarted() *Server {
	return &Server{
		secrets:  map[string]*secret{},
		pageSize: 100,
		now:      func() time.Time { return time.Now().UTC() },
		hang:     make(chan struct{}),
	}
}

// Close releases hung requests and stops the server.
func (s *Server) Close() {
	s.mu.Lock()
	select {
	case <-s.hang:
	default:
		close(s.hang)
	}
	s.mu.Unlock()
	if s.srv != nil {
		s.srv.CloseClientConnections()
		s.srv.Close()
	}
}

// SetPageSize caps MaxResults of the List operations (default 100).
func (s *Server) SetPageSize(n int) {
	s.mu.Lock()
	s.pageSize = n
	s.mu.Unlock()
}

// Inject queues a fault for the next times matching requests; times < 0
// means until ClearFaults.
func (s *Server) Inject(f Fault, times int) { s.faults.Add(f.Op, times, f) }

// ClearFaults removes every queued fault.
func (s *Server) ClearFaults() { s.faults.Clear() }

// Calls returns how many requests for op (or all ops for "") reached the
// server, faulted ones included.
func (s *Server) Calls(op string) int {
	if op == "" {
		return s.faults.Total()
	}
	return s.faults.Calls(op)
}

// ResetCalls zeroes the counters.
func (s *Server) ResetCalls() { s.faults.ResetCalls() }

// PutString seeds a secret version directly (no request), as the current
// version, creating the secret if needed. It returns the version id.
func (s *Server) PutString(name, value string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[name]
	if sec == nil {
		sec = s.newSecret(name)
	}
	v := &version{id: newID(), str: &value, created: s.now()}
	s.addVersion(sec, v, []string{StageCurrent})
	return v.id
}

// GetCurrent returns the SecretString of name's AWSCURRENT version.
func (s *Server) GetCurrent(name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[name]
	if sec == nil {
		return "", false
	}
	v := sec.byStage(StageCurrent)
	if v == nil || v.str == nil {
		return "", false
	}
	return *v.str, true
}

// Stages returns the version id holding each staging label of name.
func (s *Server) Stages(name string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	if sec := s.secrets[name]; sec != nil {
		for _, v := range sec.versions {
			for _, st := range v.stages {
				out[st] = v.id
			}
		}
	}
	return out
}

// awsErr is an error answered as AWS JSON.
type awsErr struct {
	status int
	typ    string
	msg    string
}

func (e *awsErr) Error() string { return e.typ + ": " + e.msg }

func notFound() error {
	return &awsErr{400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret."}
}
func notFoundVersion() error {
	return &awsErr{400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label or version id."}
}
func invalidParam(format string, a ...any) error {
	return &awsErr{400, "InvalidParameterException", fmt.Sprintf(format, a...)}
}
func invalidRequest(format string, a ...any) error {
	return &awsErr{400, "InvalidRequestException", fmt.Sprintf(format, a...)}
}

var errMarkedForDeletion = invalidRequest("You can't perform this operation on the secret because it was marked for deletion.")

// ServeHTTP answers one Secrets Manager request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "secretsmanager.")
	if r.Method != http.MethodPost || r.URL.Path != "/" || !ok {
		writeErr(w, &awsErr{400, "UnknownOperationException", "unknown operation " + strconv.Quote(target)})
		return
	}
	var f *Fault
	if fv, ok := s.faults.Take(op); ok {
		f = &fv
	}
	s.mu.Lock()
	hang := s.hang
	s.mu.Unlock()
	if f != nil && f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-r.Context().Done():
		case <-hang:
		case <-t.C:
		}
		t.Stop()
	}
	if f != nil {
		switch {
		case f.Hang:
			select {
			case <-r.Context().Done():
			case <-hang:
			}
			return
		case f.Close:
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		case f.Status != 0:
			typ := f.Type
			if typ == "" {
				switch {
				case f.Status == 429:
					typ = "ThrottlingException"
				case f.Status == 403:
					typ = "AccessDeniedException"
				default:
					typ = "InternalServiceError"
				}
			}
			if f.RetryAfter != "" {
				w.Header().Set("Retry-After", f.RetryAfter)
			}
			writeErr(w, &awsErr{f.Status, typ, "injected fault"})
			return
		}
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		writeErr(w, &awsErr{400, "SerializationException", "unexpected Content-Type " + strconv.Quote(ct)})
		return
	}
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") || !strings.Contains(auth, "Credential=") ||
		!strings.Contains(auth, "Signature=") || r.Header.Get("X-Amz-Date") == "" {
		writeErr(w, &awsErr{400, "MissingAuthenticationTokenException", "Request is missing Authentication Token"})
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeErr(w, &awsErr{400, "SerializationException", "cannot read body"})
		return
	}
	out, err := s.dispatch(accessKeyOf(auth), op, body)
	if err != nil {
		writeErr(w, err)
		return
	}
	b, _ := json.Marshal(out)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", newID())
	if f != nil && f.Truncate {
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.WriteHeader(200)
		_, _ = w.Write(b[:len(b)/2])
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		panic(http.ErrAbortHandler)
	}
	w.WriteHeader(200)
	_, _ = w.Write(b)
}

func writeErr(w http.ResponseWriter, err error) {
	ae, ok := err.(*awsErr)
	if !ok {
		ae = &awsErr{500, "InternalServiceError", err.Error()}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", newID())
	w.WriteHeader(ae.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": ae.typ, "message": ae.msg})
}

func (s *Server) dispatch(akid, op string, body []byte) (any, error) {
	dec := func(v any) error {
		if len(body) == 0 {
			return nil
		}
		if err := json.Unmarshal(body, v); err != nil {
			return &awsErr{400, "SerializationException", "malformed request body"}
		}
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.authorize(akid, op, body); err != nil {
		return nil, err
	}
	switch op {
	case "GetSecretValue":
		var in getIn
		if err := dec(&in); err != nil {
			return nil, err
		}
		return s.getSecretValue(in)
	case "BatchGetSecretValue":
		var in batchIn
		if err := dec(&in); err != nil {
			return nil, err
		}
		return s.batchGet(akid, in)
	case "CreateSecret":
		var in createIn
		if err := dec(&in); err != nil {
			return nil, err
		}
		return s.createSecret(in)
	case "PutSecretValue":
		var in putIn
		if err := dec(&in); err != nil {
			return nil, err
		}
		return s.putSecretValue(in)
	case "UpdateSecretVersionStage":
		var in stageIn
		if err := dec(&in); err != nil {
			return nil, err
		}
		return s.updateStage(in)
	case "ListSecrets":
		var in listIn
		if err := dec(&in); err != nil {
			return nil, err
		}
		return s.listSecrets(in)
	case "ListSecretVersionIds":
		var in listVersionsIn
		if err := dec(&in); err != nil {
			return nil, err
		}
		return s.listVersions(in)
	case "DescribeSecret":
		var in struct{ SecretId string }
		if err := dec(&in); err != nil {
			return nil, err
		}
		return s.describe(in.SecretId)
	case "DeleteSecret":
		var in deleteIn
		if err := dec(&in); err != nil {
			return nil, err
		}
		return s.deleteSecret(in)
	case "RestoreSecret":
		var in struct{ SecretId string }
		if err := dec(&in); err != nil {
			return nil, err
		}
		return s.restore(in.SecretId)
	}
	return nil, &awsErr{400, "UnknownOperationException", "operation " + op + " is not implemented by awsserver"}
}

// ---- model helpers (s.mu held) ----

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func (s *Server) newSecret(name string) *secret {
	s.seq++
	now := s.now()
	sec := &secret{
		name:    name,
		arn:     fmt.Sprintf("arn:aws:secretsmanager:us-east-1:123456789012:secret:%s-%06d", name, s.seq),
		created: now,
		changed: now,
	}
	s.secrets[name] = sec
	return sec
}

func (s *Server) lookup(id string) (*secret, error) {
	if sec, ok := s.secrets[id]; ok {
		return sec, nil
	}
	for _, sec := range s.secrets {
		if sec.arn == id {
			return sec, nil
		}
	}
	return nil, notFound()
}

func (s *Server) lookupLive(id string) (*secret, error) {
	sec, err := s.lookup(id)
	if err != nil {
		return nil, err
	}
	if !sec.deleted.IsZero() {
		return nil, errMarkedForDeletion
	}
	return sec, nil
}

func (sec *secret) byStage(stage string) *version {
	for _, v := range sec.versions {
		for _, st := range v.stages {
			if st == stage {
				return v
			}
		}
	}
	return nil
}

func (sec *secret) byID(id string) *version {
	for _, v := range sec.versions {
		if v.id == id {
			return v
		}
	}
	return nil
}

func (v *version) has(stage string) bool {
	for _, st := range v.stages {
		if st == stage {
			return true
		}
	}
	return false
}

func (v *version) remove(stage string) {
	out := v.stages[:0]
	for _, st := range v.stages {
		if st != stage {
			out = append(out, st)
		}
	}
	v.stages = out
}

// attach moves stage to v; when stage is AWSCURRENT the version that held it
// takes AWSPREVIOUS, as the service does.
func (s *Server) attach(sec *secret, v *version, stage string) {
	old := sec.byStage(stage)
	if old == v {
		return
	}
	if old != nil {
		old.remove(stage)
	}
	v.stages = append(v.stages, stage)
	if stage == StageCurrent && old != nil {
		if p := sec.byStage(StagePrevious); p != nil {
			p.remove(StagePrevious)
		}
		old.stages = append(old.stages, StagePrevious)
	}
	sec.changed = s.now()
}

func (s *Server) addVersion(sec *secret, v *version, stages []string) {
	sec.versions = append(sec.versions, v)
	for _, st := range stages {
		s.attach(sec, v, st)
	}
	// The service keeps about 100 versions; it drops the oldest unlabelled ones.
	for len(sec.versions) > 100 {
		dropped := false
		for i, old := range sec.versions {
			if len(old.stages) == 0 {
				sec.versions = append(sec.versions[:i], sec.versions[i+1:]...)
				dropped = true
				break
			}
		}
		if !dropped {
			break
		}
	}
	sec.changed = s.now()
}

type epoch time.Time

func (e epoch) MarshalJSON() ([]byte, error) {
	t := time.Time(e)
	return []byte(strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)), nil
}

func ptrEpoch(t time.Time) *epoch {
	if t.IsZero() {
		return nil
	}
	e := epoch(t)
	return &e
}

// ---- operations ----

type getIn struct {
	SecretId     string
	VersionId    string
	VersionStage string
}

type secretValue struct {
	ARN           string
	Name          string
	VersionId     string
	SecretString  *string `json:",omitempty"`
	SecretBinary  []byte  `json:",omitempty"` // base64 by encoding/json
	VersionStages []string
	CreatedDate   epoch
}

func (s *Server) getSecretValue(in getIn) (any, error) {
	if in.SecretId == "" {
		return nil, invalidParam("SecretId is required")
	}
	sec, err := s.lookupLive(in.SecretId)
	if err != nil {
		return nil, err
	}
	var v *version
	switch {
	case in.VersionId != "":
		v = sec.byID(in.VersionId)
		if v != nil && in.VersionStage != "" && !v.has(in.VersionStage) {
			return nil, invalidParam("version %s does not have staging label %s", in.VersionId, in.VersionStage)
		}
	case in.VersionStage != "":
		v = sec.byStage(in.VersionStage)
	default:
		v = sec.byStage(StageCurrent)
	}
	if v == nil {
		return nil, notFoundVersion()
	}
	return valueOf(sec, v), nil
}

func valueOf(sec *secret, v *version) *secretValue {
	return &secretValue{
		ARN: sec.arn, Name: sec.name, VersionId: v.id,
		SecretString: v.str, SecretBinary: v.bin,
		VersionStages: append([]string{}, v.stages...), CreatedDate: epoch(v.created),
	}
}

type filter struct {
	Key    string
	Values []string
}

type batchIn struct {
	SecretIdList []string
	Filters      []filter
	MaxResults   int
	NextToken    string
}

type apiErrorEntry struct {
	SecretId  string
	ErrorCode string
	Message   string
}

func (s *Server) batchGet(akid string, in batchIn) (any, error) {
	if len(in.SecretIdList) > 0 && len(in.Filters) > 0 {
		return nil, invalidParam("either SecretIdList or Filters, not both")
	}
	if len(in.SecretIdList) > 20 {
		return nil, invalidParam("SecretIdList can hold at most 20 ids")
	}
	out := struct {
		SecretValues []*secretValue
		Errors       []apiErrorEntry
		NextToken    *string `json:",omitempty"`
	}{SecretValues: []*secretValue{}, Errors: []apiErrorEntry{}}
	if len(in.SecretIdList) > 0 {
		for _, id := range in.SecretIdList {
			if err := s.batchDenied(akid, id); err != nil {
				ae := err.(*awsErr)
				out.Errors = append(out.Errors, apiErrorEntry{SecretId: id, ErrorCode: ae.typ, Message: ae.msg})
				continue
			}
			sec, err := s.lookupLive(id)
			if err != nil {
				ae := err.(*awsErr)
				out.Errors = append(out.Errors, apiErrorEntry{SecretId: id, ErrorCode: ae.typ, Message: ae.msg})
				continue
			}
			v := sec.byStage(StageCurrent)
			if v == nil {
				out.Errors = append(out.Errors, apiErrorEntry{SecretId: id, ErrorCode: "ResourceNotFoundException", Message: "no AWSCURRENT version"})
				continue
			}
			out.SecretValues = append(out.SecretValues, valueOf(sec, v))
		}
		return out, nil
	}
	secs, next, err := s.page(in.Filters, false, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	for _, sec := range secs {
		if s.batchDenied(akid, sec.name) != nil {
			continue
		}
		if v := sec.byStage(StageCurrent); v != nil {
			out.SecretValues = append(out.SecretValues, valueOf(sec, v))
		}
	}
	out.NextToken = next
	return out, nil
}

type createIn struct {
	Name               string
	ClientRequestToken string
	Description        string
	SecretString       *string
	SecretBinary       []byte
}

func (s *Server) createSecret(in createIn) (any, error) {
	if in.Name == "" {
		return nil, invalidParam("Name is required")
	}
	if in.SecretString != nil && in.SecretBinary != nil {
		return nil, invalidParam("You can't specify both a binary secret value and a string secret value in the same secret.")
	}
	if sec, ok := s.secrets[in.Name]; ok {
		if !sec.deleted.IsZero() {
			return nil, invalidRequest("You can't create this secret because a secret with this name is already scheduled for deletion.")
		}
		if v := sec.byID(in.ClientRequestToken); v != nil && in.ClientRequestToken != "" && sameValue(v, in.SecretString, in.SecretBinary) {
			return map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": v.id}, nil
		}
		return nil, &awsErr{400, "ResourceExistsException", "The operation failed because the secret " + in.Name + " already exists."}
	}
	sec := s.newSecret(in.Name)
	sec.description = in.Description
	out := map[string]any{"ARN": sec.arn, "Name": sec.name}
	if in.SecretString != nil || in.SecretBinary != nil {
		id := in.ClientRequestToken
		if id == "" {
			id = newID()
		}
		v := &version{id: id, str: in.SecretString, bin: in.SecretBinary, created: s.now()}
		s.addVersion(sec, v, []string{StageCurrent})
		out["VersionId"] = v.id
	}
	return out, nil
}

func sameValue(v *version, str *string, bin []byte) bool {
	if (v.str == nil) != (str == nil) {
		return false
	}
	if v.str != nil && *v.str != *str {
		return false
	}
	return string(v.bin) == string(bin)
}

type putIn struct {
	SecretId           string
	ClientRequestToken string
	SecretString       *string
	SecretBinary       []byte
	VersionStages      []string
}

func (s *Server) putSecretValue(in putIn) (any, error) {
	sec, err := s.lookupLive(in.SecretId)
	if err != nil {
		return nil, err
	}
	if in.SecretString == nil && in.SecretBinary == nil {
		return nil, invalidParam("You must provide either SecretString or SecretBinary.")
	}
	if in.SecretString != nil && in.SecretBinary != nil {
		return nil, invalidParam("You can't specify both a binary secret value and a string secret value in the same secret.")
	}
	if in.ClientRequestToken != "" {
		if v := sec.byID(in.ClientRequestToken); v != nil {
			if !sameValue(v, in.SecretString, in.SecretBinary) {
				return nil, &awsErr{400, "ResourceExistsException", "A resource with the ID you requested already exists."}
			}
			// Idempotent retry of the same request.
			return map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": v.id, "VersionStages": append([]string{}, v.stages...)}, nil
		}
	}
	id := in.ClientRequestToken
	if id == "" {
		id = newID()
	}
	stages := in.VersionStages
	if stages == nil {
		stages = []string{StageCurrent}
	}
	if len(stages) > 20 {
		return nil, invalidParam("a version can have at most 20 staging labels")
	}
	v := &version{id: id, str: in.SecretString, bin: in.SecretBinary, created: s.now()}
	s.addVersion(sec, v, stages)
	return map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": v.id, "VersionStages": append([]string{}, v.stages...)}, nil
}

type stageIn struct {
	SecretId            string
	VersionStage        string
	MoveToVersionId     string
	RemoveFromVersionId string
}

func (s *Server) updateStage(in stageIn) (any, error) {
	sec, err := s.lookupLive(in.SecretId)
	if err != nil {
		return nil, err
	}
	if in.VersionStage == "" {
		return nil, invalidParam("VersionStage is required")
	}
	holder := sec.byStage(in.VersionStage)
	if in.RemoveFromVersionId != "" && (holder == nil || holder.id != in.RemoveFromVersionId) {
		return nil, invalidParam("The parameter RemoveFromVersionId doesn't match the version that has the staging label %s.", in.VersionStage)
	}
	if in.MoveToVersionId != "" {
		to := sec.byID(in.MoveToVersionId)
		if to == nil {
			return nil, notFoundVersion()
		}
		if holder != nil && holder != to && in.RemoveFromVersionId == "" {
			return nil, invalidParam("The staging label %s is attached to version %s; specify RemoveFromVersionId to move it.", in.VersionStage, holder.id)
		}
		s.attach(sec, to, in.VersionStage)
	} else if holder != nil {
		if in.VersionStage == StageCurrent {
			return nil, invalidParam("You can't remove AWSCURRENT without moving it to another version.")
		}
		holder.remove(in.VersionStage)
		sec.changed = s.now()
	}
	return map[string]any{"ARN": sec.arn, "Name": sec.name}, nil
}

type listIn struct {
	Filters                []filter
	MaxResults             int
	NextToken              string
	IncludePlannedDeletion bool
}

// page returns one page of secrets sorted by name, filtered (name and all
// filters: prefix match, not case-sensitive, as the service documents).
func (s *Server) page(filters []filter, includeDeleted bool, max int, token string) ([]*secret, *string, error) {
	var names []string
	for name, sec := range s.secrets {
		if !sec.deleted.IsZero() && !includeDeleted {
			continue
		}
		ok := true
		for _, f := range filters {
			if f.Key != "name" && f.Key != "all" {
				return nil, nil, invalidParam("awsserver supports only the name and all filters")
			}
			match := false
			for _, val := range f.Values {
				neg := strings.HasPrefix(val, "!")
				val = strings.TrimPrefix(val, "!")
				m := strings.HasPrefix(strings.ToLower(name), strings.ToLower(val))
				if m != neg {
					match = true
				}
			}
			ok = ok && match
		}
		if ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	start := 0
	if token != "" {
		n, err := strconv.Atoi(token)
		if err != nil || n < 0 || n > len(names) {
			return nil, nil, &awsErr{400, "InvalidNextTokenException", "The NextToken value is invalid."}
		}
		start = n
	}
	if max <= 0 || max > s.pageSize {
		max = s.pageSize
	}
	end := min(start+max, len(names))
	var out []*secret
	for _, n := range names[start:end] {
		out = append(out, s.secrets[n])
	}
	var next *string
	if end < len(names) {
		t := strconv.Itoa(end)
		next = &t
	}
	return out, next, nil
}

type listEntry struct {
	ARN                    string
	Name                   string
	Description            string `json:",omitempty"`
	CreatedDate            epoch
	LastChangedDate        epoch
	DeletedDate            *epoch `json:",omitempty"`
	SecretVersionsToStages map[string][]string
}

func (s *Server) listSecrets(in listIn) (any, error) {
	secs, next, err := s.page(in.Filters, in.IncludePlannedDeletion, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := struct {
		SecretList []listEntry
		NextToken  *string `json:",omitempty"`
	}{SecretList: []listEntry{}, NextToken: next}
	for _, sec := range secs {
		out.SecretList = append(out.SecretList, listEntry{
			ARN: sec.arn, Name: sec.name, Description: sec.description,
			CreatedDate: epoch(sec.created), LastChangedDate: epoch(sec.changed),
			DeletedDate: ptrEpoch(sec.deleted), SecretVersionsToStages: stagesMap(sec),
		})
	}
	return out, nil
}

func stagesMap(sec *secret) map[string][]string {
	m := map[string][]string{}
	for _, v := range sec.versions {
		if len(v.stages) > 0 {
			m[v.id] = append([]string{}, v.stages...)
		}
	}
	return m
}

type listVersionsIn struct {
	SecretId          string
	MaxResults        int
	NextToken         string
	IncludeDeprecated bool
}

type versionEntry struct {
	VersionId     string
	VersionStages []string `json:",omitempty"`
	CreatedDate   epoch
}

func (s *Server) listVersions(in listVersionsIn) (any, error) {
	sec, err := s.lookupLive(in.SecretId)
	if err != nil {
		return nil, err
	}
	var vs []*version
	for _, v := range sec.versions {
		if len(v.stages) > 0 || in.IncludeDeprecated {
			vs = append(vs, v)
		}
	}
	start := 0
	if in.NextToken != "" {
		n, err := strconv.Atoi(in.NextToken)
		if err != nil || n < 0 || n > len(vs) {
			return nil, &awsErr{400, "InvalidNextTokenException", "The NextToken value is invalid."}
		}
		start = n
	}
	max := in.MaxResults
	if max <= 0 || max > s.pageSize {
		max = s.pageSize
	}
	end := min(start+max, len(vs))
	out := struct {
		ARN       string
		Name      string
		Versions  []versionEntry
		NextToken *string `json:",omitempty"`
	}{ARN: sec.arn, Name: sec.name, Versions: []versionEntry{}}
	for _, v := range vs[start:end] {
		out.Versions = append(out.Versions, versionEntry{VersionId: v.id, VersionStages: append([]string{}, v.stages...), CreatedDate: epoch(v.created)})
	}
	if end < len(vs) {
		t := strconv.Itoa(end)
		out.NextToken = &t
	}
	return out, nil
}

func (s *Server) describe(id string) (any, error) {
	sec, err := s.lookup(id)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"ARN": sec.arn, "Name": sec.name, "Description": sec.description,
		"CreatedDate": epoch(sec.created), "LastChangedDate": epoch(sec.changed),
		"DeletedDate": ptrEpoch(sec.deleted), "VersionIdsToStages": stagesMap(sec),
	}, nil
}

type deleteIn struct {
	SecretId                   string
	RecoveryWindowInDays       int
	ForceDeleteWithoutRecovery bool
}

func (s *Server) deleteSecret(in deleteIn) (any, error) {
	if in.ForceDeleteWithoutRecovery && in.RecoveryWindowInDays != 0 {
		return nil, invalidParam("You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
	}
	sec, err := s.lookup(in.SecretId)
	if err != nil {
		return nil, err
	}
	if in.ForceDeleteWithoutRecovery {
		delete(s.secrets, sec.name)
		return map[string]any{"ARN": sec.arn, "Name": sec.name, "DeletionDate": epoch(s.now())}, nil
	}
	if !sec.deleted.IsZero() {
		return nil, errMarkedForDeletion
	}
	days := in.RecoveryWindowInDays
	if days == 0 {
		days = 30
	}
	if days < 7 || days > 30 {
		return nil, invalidParam("RecoveryWindowInDays must be between 7 and 30")
	}
	sec.deleted = s.now()
	return map[string]any{"ARN": sec.arn, "Name": sec.name, "DeletionDate": epoch(sec.deleted.AddDate(0, 0, days))}, nil
}

func (s *Server) restore(id string) (any, error) {
	sec, err := s.lookup(id)
	if err != nil {
		return nil, err
	}
	sec.deleted = time.Time{}
	return map[string]any{"ARN": sec.arn, "Name": sec.name}, nil
}
