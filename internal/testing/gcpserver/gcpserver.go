// Package gcpserver is an in-process Google Cloud Secret Manager for tests.
// It implements the generated gRPC service interface
// (secretmanagerpb.SecretManagerServiceServer), so the real client library
// talks to it over a real gRPC connection: resource names, the `latest`
// alias, CRC32C payload checksums, pagination, version states and the
// service's status codes behave as the real service documents them.
//
// Connect a client with option.WithEndpoint(srv.Addr()), insecure transport
// credentials and option.WithoutAuthentication (the gcpsm provider does this
// for loopback endpoints).
//
// Faults can be injected per method (Unavailable, ResourceExhausted,
// PermissionDenied, a hang until the client gives up, a corrupted checksum)
// to test retries, deadlines and stale-if-error.
package gcpserver

import (
	"context"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keyward/keyward/internal/testing/faults"
)

// MaxPayload is the service's limit on one version's data (64 KiB).
const MaxPayload = 64 * 1024

var (
	secretIDRe = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,255}$`)
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

// Fault is an injected failure.
type Fault struct {
	// Method is the RPC it applies to ("AccessSecretVersion"); "" means any.
	Method string
	// Code, if not OK, fails the call with that status code.
	Code codes.Code
	// Hang blocks the call until the client's deadline or cancellation.
	Hang bool
	// CorruptCRC makes AccessSecretVersion return a checksum that does not
	// match the data (a corrupted transfer).
	CorruptCRC bool
	// Times is how many matching calls fail; 0 means every call until
	// ClearFaults.
	Times int
}

// Server is the fake service. Its methods are safe for concurrent use.
type Server struct {
	secretmanagerpb.UnimplementedSecretManagerServiceServer

	mu      sync.Mutex
	etags   int64               // etag counter: every etag is new
	secrets map[string]*secret  // by "projects/<id>/secrets/<secret>"
	faults  faults.Queue[Fault] // and the call counts
	// PageSize is the page size used when a request does not set one
	// (the real default is 25000; small values exercise pagination).
	PageSize int

	lis  net.Listener
	grpc *grpc.Server
}

type secret struct {
	pb       *secretmanagerpb.Secret
	versions []*version
}

type version struct {
	pb   *secretmanagerpb.SecretVersion
	data []byte
	crc  int64
}

// Start listens on a loopback port and serves until Close.
func Start() (*Server, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{secrets: map[string]*secret{}, PageSize: 25000, lis: lis}
	s.grpc = grpc.NewServer(grpc.UnaryInterceptor(s.intercept))
	secretmanagerpb.RegisterSecretManagerServiceServer(s.grpc, s)
	go func() { _ = s.grpc.Serve(lis) }()
	return s, nil
}

// Cleanuper is the part of testing.TB that New needs.
type Cleanuper interface {
	Cleanup(func())
	Fatalf(format string, args ...any)
}

// New starts a server that stops when the test ends.
func New(t Cleanuper) *Server {
	s, err := Start()
	if err != nil {
		t.Fatalf("gcpserver: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Addr is the host:port to dial (plaintext).
func (s *Server) Addr() string { return s.lis.Addr().String() }

// Close stops the server, failing calls in flight.
func (s *Server) Close() { s.grpc.Stop() }

// InjectFault adds a fault; faults are matched in the order added.
func (s *Server) InjectFault(f Fault) {
	s.faults.Add(f.Method, f.Times, f)
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.faults.Clear()
}

// Calls reports how many times method was called (including failed calls).
func (s *Server) Calls(method string) int {
	return s.faults.Calls(method)
}

// Seed stores data as a new version of project's secret, creating the
// secret if needed, and returns the version number.
func (s *Server) Seed(project, secretID string, data []byte) (string, error) {
	ctx := context.Background()
	parent := "projects/" + project
	_, err := s.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: parent, SecretId: secretID,
		Secret: &secretmanagerpb.Secret{Replication: automatic()}})
	if err != nil && status.Code(err) != codes.AlreadyExists {
		return "", err
	}
	c := int64(crc32.Checksum(data, castagnoli))
	v, err := s.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: parent + "/secrets/" + secretID,
		Payload: &secretmanagerpb.SecretPayload{Data: data, DataCrc32C: &c}})
	if err != nil {
		return "", err
	}
	return v.Name[strings.LastIndex(v.Name, "/")+1:], nil
}

// SetVersionState sets a version's state directly (tests).
func (s *Server) SetVersionState(project, secretID, ver string, st secretmanagerpb.SecretVersion_State) error {
	name := "projects/" + project + "/secrets/" + secretID + "/versions/" + ver
	_, err := s.setState(name, st)
	return err
}

func automatic() *secretmanagerpb.Replication {
	return &secretmanagerpb.Replication{Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}}}
}

func (s *Server) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	method := info.FullMethod[strings.LastIndex(info.FullMethod, "/")+1:]
	fault, faulted := s.faults.Take(method)
	if faulted {
		if fault.Hang {
			<-ctx.Done()
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		if fault.Code != codes.OK {
			return nil, status.Errorf(fault.Code, "injected fault: %s", fault.Code)
		}
	}
	resp, err := handler(ctx, req)
	if faulted && fault.CorruptCRC && err == nil {
		if r, ok := resp.(*secretmanagerpb.AccessSecretVersionResponse); ok {
			r = proto.CloneOf(r)
			bad := (*r.Payload.DataCrc32C + 1) & 0xffffffff
			r.Payload.DataCrc32C = &bad
			return r, nil
		}
	}
	return resp, err
}

// projectNumber is the stable fake project number the service reports in
// resource names (the real service names resources by project number).
func projectNumber(id string) string {
	if _, err := strconv.ParseUint(id, 10, 64); err == nil {
		return id
	}
	h := fnv.New32a()
	h.Write([]byte(id))
	return strconv.FormatUint(uint64(h.Sum32())%900000000000+100000000000, 10)
}

// parseProject accepts "projects/<id or number>".
func parseProject(parent string) (string, error) {
	p, ok := strings.CutPrefix(parent, "projects/")
	if !ok || p == "" || strings.Contains(p, "/") {
		return "", status.Errorf(codes.InvalidArgument, "invalid resource name %q: expected projects/*", parent)
	}
	return p, nil
}

// parseSecret accepts "projects/P/secrets/S" and returns the canonical key.
func parseSecret(name string) (key, project, id string, err error) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[2] != "secrets" || parts[1] == "" || parts[3] == "" {
		return "", "", "", status.Errorf(codes.InvalidArgument, "invalid resource name %q: expected projects/*/secrets/*", name)
	}
	if !secretIDRe.MatchString(parts[3]) {
		return "", "", "", status.Errorf(codes.InvalidArgument, "invalid secret id %q", parts[3])
	}
	return "projects/" + projectNumber(parts[1]) + "/secrets/" + parts[3], parts[1], parts[3], nil
}

// parseVersion accepts "projects/P/secrets/S/versions/V".
func parseVersion(name string) (secretKey, ver string, err error) {
	i := strings.LastIndex(name, "/versions/")
	if i < 0 {
		return "", "", status.Errorf(codes.InvalidArgument, "invalid resource name %q: expected projects/*/secrets/*/versions/*", name)
	}
	key, _, _, err := parseSecret(name[:i])
	if err != nil {
		return "", "", err
	}
	ver = name[i+len("/versions/"):]
	if ver != "latest" {
		if n, err := strconv.Atoi(ver); err != nil || n < 1 {
			return "", "", status.Errorf(codes.InvalidArgument, "invalid version %q: expected a positive number or latest", ver)
		}
	}
	return key, ver, nil
}

func (s *Server) lookupVersion(name string) (*secret, *version, error) {
	key, ver, err := parseVersion(name)
	if err != nil {
		return nil, nil, err
	}
	sec := s.secrets[key]
	if sec == nil {
		return nil, nil, status.Errorf(codes.NotFound, "Secret [%s] not found or has no versions.", key)
	}
	if ver == "latest" {
		if len(sec.versions) == 0 {
			return nil, nil, status.Errorf(codes.NotFound, "Secret [%s] not found or has no versions.", key)
		}
		return sec, sec.versions[len(sec.versions)-1], nil
	}
	n, _ := strconv.Atoi(ver)
	if n > len(sec.versions) {
		return nil, nil, status.Errorf(codes.NotFound, "Secret Version [%s/versions/%d] not found.", key, n)
	}
	return sec, sec.versions[n-1], nil
}

// ListSecrets implements the service.
func (s *Server) ListSecrets(ctx context.Context, req *secretmanagerpb.ListSecretsRequest) (*secretmanagerpb.ListSecretsResponse, error) {
	p, err := parseProject(req.GetParent())
	if err != nil {
		return nil, err
	}
	prefix := "projects/" + projectNumber(p) + "/secrets/"
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for k := range s.secrets {
		if strings.HasPrefix(k, prefix) {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	start, end, next, err := s.page(len(names), req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &secretmanagerpb.ListSecretsResponse{NextPageToken: next, TotalSize: int32(len(names))}
	for _, n := range names[start:end] {
		resp.Secrets = append(resp.Secrets, proto.CloneOf(s.secrets[n].pb))
	}
	return resp, nil
}

func (s *Server) page(n int, size int32, token string) (start, end int, next string, err error) {
	if size < 0 {
		return 0, 0, "", status.Error(codes.InvalidArgument, "page_size must not be negative")
	}
	ps := int(size)
	if ps == 0 || ps > 25000 {
		ps = s.PageSize
	}
	if token != "" {
		start, err = strconv.Atoi(strings.TrimPrefix(token, "offset-"))
		if err != nil || !strings.HasPrefix(token, "offset-") || start < 0 || start > n {
			return 0, 0, "", status.Errorf(codes.InvalidArgument, "invalid page token")
		}
	}
	end = min(start+ps, n)
	if end < n {
		next = "offset-" + strconv.Itoa(end)
	}
	return start, end, next, nil
}

// CreateSecret implements the service.
func (s *Server) CreateSecret(ctx context.Context, req *secretmanagerpb.CreateSecretRequest) (*secretmanagerpb.Secret, error) {
	p, err := parseProject(req.GetParent())
	if err != nil {
		return nil, err
	}
	if !secretIDRe.MatchString(req.GetSecretId()) {
		return nil, status.Errorf(codes.InvalidArgument, "invalid secret id %q: must match [a-zA-Z0-9_-]{1,255}", req.GetSecretId())
	}
	if req.GetSecret().GetReplication() == nil {
		return nil, status.Error(codes.InvalidArgument, "secret.replication is required")
	}
	key := "projects/" + projectNumber(p) + "/secrets/" + req.GetSecretId()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.secrets[key] != nil {
		return nil, status.Errorf(codes.AlreadyExists, "Secret [%s] already exists.", key)
	}
	pb := proto.CloneOf(req.GetSecret())
	pb.Name = key
	pb.CreateTime = timestamppb.Now()
	if err := checkAnnotations(pb.GetAnnotations()); err != nil {
		return nil, err
	}
	pb.Etag = s.newEtag()
	s.secrets[key] = &secret{pb: pb}
	return proto.CloneOf(pb), nil
}

// AddSecretVersion implements the service. A client-sent data_crc32c is
// verified; a mismatch is InvalidArgument, as the real service answers.
func (s *Server) AddSecretVersion(ctx context.Context, req *secretmanagerpb.AddSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	key, _, _, err := parseSecret(req.GetParent())
	if err != nil {
		return nil, err
	}
	data := req.GetPayload().GetData()
	if len(data) > MaxPayload {
		return nil, status.Errorf(codes.InvalidArgument, "payload is %d bytes; the limit is %d", len(data), MaxPayload)
	}
	c := int64(crc32.Checksum(data, castagnoli))
	clientCRC := req.GetPayload().DataCrc32C != nil
	if clientCRC && req.GetPayload().GetDataCrc32C() != c {
		return nil, status.Error(codes.InvalidArgument, "Checksum mismatch: data corruption detected")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[key]
	if sec == nil {
		return nil, status.Errorf(codes.NotFound, "Secret [%s] not found.", key)
	}
	n := len(sec.versions) + 1
	pb := &secretmanagerpb.SecretVersion{
		Name:                           fmt.Sprintf("%s/versions/%d", key, n),
		CreateTime:                     timestamppb.Now(),
		State:                          secretmanagerpb.SecretVersion_ENABLED,
		Etag:                           s.newEtag(),
		ClientSpecifiedPayloadChecksum: clientCRC,
	}
	sec.versions = append(sec.versions, &version{pb: pb, data: append([]byte(nil), data...), crc: c})
	return proto.CloneOf(pb), nil
}

// newEtag returns an etag no resource has had. Callers hold s.mu.
func (s *Server) newEtag() string {
	s.etags++
	return `"` + strconv.FormatInt(time.Now().UnixNano(), 16) + "-" + strconv.FormatInt(s.etags, 10) + `"`
}

// errEtag is the service's answer to a stale etag: FAILED_PRECONDITION
// (HTTP 400), per https://cloud.google.com/secret-manager/docs/etags.
var errEtag = status.Error(codes.FailedPrecondition, "The etag provided in the request does not match the current etag of the resource.")

var annotationKeyRe = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9._-]{0,61}[a-zA-Z0-9])?$`)

// checkAnnotations applies the service's limits: keys of 1 to 63
// characters that begin and end with a letter or digit (letters, digits,
// '-', '_' and '.' between), and at most 16 KiB of keys and values in all.
func checkAnnotations(a map[string]string) error {
	n := 0
	for k, v := range a {
		if !annotationKeyRe.MatchString(k) {
			return status.Errorf(codes.InvalidArgument, "invalid annotation key %q", k)
		}
		n += len(k) + len(v)
	}
	if n > 16*1024 {
		return status.Errorf(codes.InvalidArgument, "annotations are %d bytes; the limit is 16384", n)
	}
	return nil
}

// UpdateSecret implements the service's secrets.patch for the fields
// labels and annotations (other update_mask paths are InvalidArgument
// here). As the real service does, it is a compare-and-swap when the
// request's secret carries an etag: a stale etag fails with
// FAILED_PRECONDITION and changes nothing. Every update, even one that
// changes nothing, gives the secret a new etag; adding a version does not
// (a version's etag is its own).
func (s *Server) UpdateSecret(ctx context.Context, req *secretmanagerpb.UpdateSecretRequest) (*secretmanagerpb.Secret, error) {
	key, _, _, err := parseSecret(req.GetSecret().GetName())
	if err != nil {
		return nil, err
	}
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		return nil, status.Error(codes.InvalidArgument, "update_mask is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[key]
	if sec == nil {
		return nil, status.Errorf(codes.NotFound, "Secret [%s] not found.", key)
	}
	if e := req.GetSecret().GetEtag(); e != "" && e != sec.pb.Etag {
		return nil, errEtag
	}
	next := proto.CloneOf(sec.pb)
	for _, p := range paths {
		switch p {
		case "labels":
			next.Labels = req.GetSecret().GetLabels()
		case "annotations":
			if err := checkAnnotations(req.GetSecret().GetAnnotations()); err != nil {
				return nil, err
			}
			next.Annotations = req.GetSecret().GetAnnotations()
		default:
			return nil, status.Errorf(codes.InvalidArgument, "update_mask path %q is not supported by this fake", p)
		}
	}
	next.Etag = s.newEtag()
	sec.pb = next
	return proto.CloneOf(next), nil
}

// GetSecret implements the service.
func (s *Server) GetSecret(ctx context.Context, req *secretmanagerpb.GetSecretRequest) (*secretmanagerpb.Secret, error) {
	key, _, _, err := parseSecret(req.GetName())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[key]
	if sec == nil {
		return nil, status.Errorf(codes.NotFound, "Secret [%s] not found.", key)
	}
	return proto.CloneOf(sec.pb), nil
}

// DeleteSecret implements the service.
func (s *Server) DeleteSecret(ctx context.Context, req *secretmanagerpb.DeleteSecretRequest) (*emptypb.Empty, error) {
	key, _, _, err := parseSecret(req.GetName())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[key]
	if sec == nil {
		return nil, status.Errorf(codes.NotFound, "Secret [%s] not found.", key)
	}
	if req.GetEtag() != "" && req.GetEtag() != sec.pb.Etag {
		return nil, errEtag
	}
	delete(s.secrets, key)
	return &emptypb.Empty{}, nil
}

// ListSecretVersions implements the service; newest first, as the real
// service lists them.
func (s *Server) ListSecretVersions(ctx context.Context, req *secretmanagerpb.ListSecretVersionsRequest) (*secretmanagerpb.ListSecretVersionsResponse, error) {
	key, _, _, err := parseSecret(req.GetParent())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[key]
	if sec == nil {
		return nil, status.Errorf(codes.NotFound, "Secret [%s] not found.", key)
	}
	n := len(sec.versions)
	start, end, next, err := s.page(n, req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &secretmanagerpb.ListSecretVersionsResponse{NextPageToken: next, TotalSize: int32(n)}
	for i := start; i < end; i++ {
		resp.Versions = append(resp.Versions, proto.CloneOf(sec.versions[n-1-i].pb))
	}
	return resp, nil
}

// GetSecretVersion implements the service.
func (s *Server) GetSecretVersion(ctx context.Context, req *secretmanagerpb.GetSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, v, err := s.lookupVersion(req.GetName())
	if err != nil {
		return nil, err
	}
	return proto.CloneOf(v.pb), nil
}

// AccessSecretVersion implements the service: the data with its CRC32C;
// FailedPrecondition for a disabled or destroyed version.
func (s *Server) AccessSecretVersion(ctx context.Context, req *secretmanagerpb.AccessSecretVersionRequest) (*secretmanagerpb.AccessSecretVersionResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, v, err := s.lookupVersion(req.GetName())
	if err != nil {
		return nil, err
	}
	switch v.pb.State {
	case secretmanagerpb.SecretVersion_DISABLED:
		return nil, status.Errorf(codes.FailedPrecondition, "Secret Version [%s] is in DISABLED state.", v.pb.Name)
	case secretmanagerpb.SecretVersion_DESTROYED:
		return nil, status.Errorf(codes.FailedPrecondition, "Secret Version [%s] is in DESTROYED state.", v.pb.Name)
	}
	c := v.crc
	return &secretmanagerpb.AccessSecretVersionResponse{
		Name:    v.pb.Name,
		Payload: &secretmanagerpb.SecretPayload{Data: append([]byte(nil), v.data...), DataCrc32C: &c},
	}, nil
}

func (s *Server) setState(name string, st secretmanagerpb.SecretVersion_State) (*secretmanagerpb.SecretVersion, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, v, err := s.lookupVersion(name)
	if err != nil {
		return nil, err
	}
	if v.pb.State == secretmanagerpb.SecretVersion_DESTROYED {
		return nil, status.Errorf(codes.FailedPrecondition, "Secret Version [%s] is in DESTROYED state.", v.pb.Name)
	}
	v.pb.State = st
	if st == secretmanagerpb.SecretVersion_DESTROYED {
		v.data = nil
		v.pb.DestroyTime = timestamppb.Now()
	}
	return proto.CloneOf(v.pb), nil
}

// DisableSecretVersion implements the service.
func (s *Server) DisableSecretVersion(ctx context.Context, req *secretmanagerpb.DisableSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	return s.setState(req.GetName(), secretmanagerpb.SecretVersion_DISABLED)
}

// EnableSecretVersion implements the service.
func (s *Server) EnableSecretVersion(ctx context.Context, req *secretmanagerpb.EnableSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	return s.setState(req.GetName(), secretmanagerpb.SecretVersion_ENABLED)
}

// DestroySecretVersion implements the service: the data is gone for good.
func (s *Server) DestroySecretVersion(ctx context.Context, req *secretmanagerpb.DestroySecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	return s.setState(req.GetName(), secretmanagerpb.SecretVersion_DESTROYED)
}
