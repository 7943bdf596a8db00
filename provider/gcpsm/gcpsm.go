//go:build !keyward_omit_gcpsm

// Package gcpsm reads and writes secrets in Google Cloud Secret Manager.
//
// Most users name the store by the guide's variables and never import this
// package directly (provider/all links it in):
//
//	SECRET_PROVIDER=gcp GCP_PROJECT=dharmamind-prod keyward get JWT_SECRET_KEY
//
// reads the latest version of secret "jwt-secret-key" in project
// dharmamind-prod, exactly as the guide's get_secret does. From Go:
//
//	store, err := keyward.Open(ctx, "gcpsm://projects/dharmamind-prod")
//	jwt, err := store.Get(ctx, "JWT_SECRET_KEY")
//
// # URLs
//
// gcpsm://projects/PROJECT and gcpsm://PROJECT name a project (its id or
// number). gcpsm:// with no project uses $GCP_PROJECT. Query parameters:
//
//   - names=guide (default) maps keys as the guide does: JWT_SECRET_KEY →
//     secret id jwt-secret-key (lower-case, "_" → "-"). names=exact uses keys
//     as secret ids unchanged.
//   - endpoint=HOST:PORT talks to another endpoint (an emulator or the
//     in-process test server). A loopback endpoint (127.0.0.1, ::1,
//     localhost) without "https://" is plaintext and unauthenticated: no
//     credential is ever sent to it. Any other endpoint uses TLS and
//     Application Default Credentials; "http://" with a non-loopback host is
//     refused. $KEYWARD_GCPSM_ENDPOINT sets the endpoint when the URL has
//     none.
//
// Credentials never go in the URL: the client uses Application Default
// Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's user credentials, or
// the metadata server), resolved on first use, not when the store opens.
//
// # Names
//
// In names=guide mode any key made of letters, digits, "_" and "-" maps to a
// secret id by lower-casing it and turning "_" into "-", so JWT_SECRET_KEY and
// jwt-secret-key name the same secret. The reverse mapping is lossy: List
// reports a secret id made of lower-case letters, digits and "-" in
// environment-variable form (jwt-secret-key → JWT_SECRET_KEY), which Get maps
// back to the same id; other ids (with capitals or "_") are listed as they
// are and can only be read with names=exact.
//
// # Versions
//
// Version ids are the service's version numbers ("1", "2", …); "latest" (and
// "") is the newest version. A disabled or destroyed version is reported
// with Version.Disabled and reading it fails with FailedPrecondition — also
// when it is the newest version, as the service does. Put adds a version
// (creating the secret, with automatic replication, on first write); it never
// changes an existing one. Put's IfVersion is a real check-and-set although
// Secret Manager has no conditional AddSecretVersion: the writer first
// claims the expected version with an etag-conditional UpdateSecret (the
// service's one compare-and-swap), recorded in the secret's annotation
// keyward-cas, so of concurrent writers expecting the same version exactly
// one adds a version and the others fail with FailedPrecondition, changing
// nothing. This needs secretmanager.secrets.update (roles/secretmanager.admin,
// or a custom role) besides secretmanager.versions.add; a claim left by a
// writer that died expires at its deadline plus a minute.
// Delete deletes the secret and all its versions. PutOptions.Meta is not
// stored.
//
// Every read verifies the payload's CRC32C checksum and fails (Unavailable,
// so the Store retries) rather than return corrupt data; every write sends
// the checksum so the service can verify it.
//
// # Errors
//
// gRPC status codes map to keyward codes: NotFound, AlreadyExists,
// PermissionDenied (and Unauthenticated), InvalidArgument, FailedPrecondition
// (and Aborted); Unavailable, ResourceExhausted, Internal and a
// server-reported DeadlineExceeded are Unavailable and retried by the Store.
// The client library's own retries are turned off so the Store's bounded,
// jittered retry policy is the only one.
//
// # Constructors
//
// As in every provider package: OpenURL opens a gcpsm:// URL and is the
// opener registered on keyward.DefaultURLMux (keyward.Open uses it);
// NewDriver(project, opts) returns the driver for the project and
// OpenStore(project, opts, storeOpts) the keyward.Store over it.
//
// # As
//
// Store.As accepts **secretmanager.Client (the client, created on first
// use). Store.ErrorAs reaches *apierror.APIError and the gRPC status
// (interface{ GRPCStatus() *status.Status }).
package gcpsm

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"net"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/internal/cloudsm"
)

// Scheme is the URL scheme gcpsm registers.
const Scheme = "gcpsm"

func init() {
	keyward.DefaultURLMux().Register(Scheme, keyward.OpenerFunc(OpenURL))
}

// OpenURL opens a driver for a gcpsm:// URL (see # URLs) with the variables
// of the process environment; it is the opener registered on
// keyward.DefaultURLMux. The form is azurekv's: the project (from
// $GCP_PROJECT for gcpsm://), names= and endpoint= ($KEYWARD_GCPSM_ENDPOINT).
func OpenURL(ctx context.Context, u *url.URL) (driver.Store, error) {
	return urlForm.Open(u, os.Getenv)
}

var urlForm = &cloudsm.URLForm{Scheme: Scheme, EndpointEnv: "KEYWARD_GCPSM_ENDPOINT", Locate: projectOf,
	New: func(project string, q cloudsm.Query) (driver.Store, error) {
		return NewDriver(project, &Options{Endpoint: q.Endpoint, ExactNames: q.ExactNames})
	}}

// projectOf is the project a gcpsm:// URL names: gcpsm://projects/PROJECT,
// gcpsm://PROJECT, or gcpsm:// for $GCP_PROJECT. op names the operation
// in errors (open, derive the policy).
func projectOf(u *url.URL, getenv func(string) string, op string) (string, error) {
	var project string
	switch {
	case u.Host == "projects":
		project = strings.Trim(u.Path, "/")
	case u.Host == "" && strings.Trim(u.Path, "/") == "":
		var err error
		if project, err = cloudsm.FromEnv(Scheme, "project", "GCP_PROJECT", getenv, op); err != nil {
			return "", err
		}
	default:
		if strings.Trim(u.Path, "/") != "" {
			return "", keyward.Errorf(keyward.InvalidArgument, op, "gcpsm URL must be gcpsm://projects/PROJECT or gcpsm://PROJECT")
		}
		project = u.Host
	}
	if !projectRe.MatchString(project) {
		return "", keyward.Errorf(keyward.InvalidArgument, op, "gcpsm: %q is not a project id or number", project)
	}
	return project, nil
}

// Options configure a driver.
type Options struct {
	// Endpoint overrides the service endpoint (see the package doc for the
	// loopback-plaintext rule).
	Endpoint string
	// ExactNames uses keys as secret ids unchanged instead of the guide's
	// mapping.
	ExactNames bool
	// ClientOptions are passed to secretmanager.NewClient (after keyward's
	// own), for callers that bring their own credentials or connection.
	ClientOptions []option.ClientOption
}

var projectRe = regexp.MustCompile(`^[a-z0-9][a-z0-9.:-]{0,99}$`)

// NewDriver returns a driver for project (its id or number). No network
// call or credential lookup happens until the first operation.
func NewDriver(project string, opts *Options) (driver.Store, error) {
	if !projectRe.MatchString(project) {
		return nil, keyward.Errorf(keyward.InvalidArgument, "open", "gcpsm: %q is not a project id or number", project)
	}
	d := &store{project: project, parent: "projects/" + project}
	if opts != nil {
		d.opts = *opts
	}
	ep, err := parseEndpoint(d.opts.Endpoint)
	if err != nil {
		return nil, err
	}
	d.ep = ep
	return d, nil
}

// OpenStore is NewDriver wrapped in a keyward.Store.
func OpenStore(project string, opts *Options, sopts *keyward.StoreOptions) (*keyward.Store, error) {
	d, err := NewDriver(project, opts)
	if err != nil {
		return nil, err
	}
	return keyward.NewStore(d, sopts), nil
}

type endpoint struct {
	addr      string // host:port, "" for the default
	plaintext bool
}

// parseEndpoint applies the rule: plaintext (and no credentials) only for
// loopback hosts; https:// or a bare non-loopback host is TLS with ADC.
func parseEndpoint(raw string) (endpoint, error) {
	if raw == "" {
		return endpoint{}, nil
	}
	scheme, rest, hasScheme := strings.Cut(raw, "://")
	if !hasScheme {
		rest, scheme = raw, ""
	}
	rest = strings.TrimSuffix(rest, "/")
	host, port, err := net.SplitHostPort(rest)
	if err != nil || host == "" || port == "" || strings.ContainsAny(rest, "/?#@") {
		return endpoint{}, keyward.Errorf(keyward.InvalidArgument, "open", "gcpsm: endpoint= must be HOST:PORT (optionally with http:// or https://)")
	}
	loop := cloudsm.Loopback(host)
	switch scheme {
	case "https":
		return endpoint{addr: rest}, nil
	case "http":
		if !loop {
			return endpoint{}, keyward.Errorf(keyward.InvalidArgument, "open", "gcpsm: refusing plaintext endpoint=: only loopback endpoints may be plaintext (use https://)")
		}
		return endpoint{addr: rest, plaintext: true}, nil
	case "":
		return endpoint{addr: rest, plaintext: loop}, nil
	}
	return endpoint{}, keyward.Errorf(keyward.InvalidArgument, "open", "gcpsm: endpoint= has an unsupported scheme (want http:// for loopback, or https://)")
}

type store struct {
	project string
	parent  string
	opts    Options
	ep      endpoint

	client cloudsm.Client[secretmanager.Client]
	conn   *grpc.ClientConn // the plaintext connection, made with the client
}

var (
	_ driver.Lister    = (*store)(nil)
	_ driver.Writer    = (*store)(nil)
	_ driver.Deleter   = (*store)(nil)
	_ driver.Versioner = (*store)(nil)
	_ driver.As        = (*store)(nil)
)

// Errors of the driver's own making.
var (
	errClosed   = errors.New("gcpsm: store is closed")
	errConflict = errors.New("gcpsm: check-and-set conflict: the current version is not the expected one")
	errClaimed  = errors.New("gcpsm: check-and-set conflict: another writer is adding a version on top of the expected one")
	errExists   = errors.New("gcpsm: the secret already exists")
)

type invalidKeyError struct{ key string }

func (e *invalidKeyError) Error() string {
	return fmt.Sprintf("gcpsm: %q cannot be a secret id (letters, digits, _ and - only, at most 255)", e.key)
}

// checksumError reports a payload whose CRC32C does not match: the data was
// corrupted in transit and is not returned.
type checksumError struct{ name string }

func (e *checksumError) Error() string {
	return "gcpsm: payload checksum mismatch for " + e.name + ": data corrupted in transit, not returned"
}

type clientError struct{ err error }

func (e *clientError) Error() string { return "gcpsm: failed to create the client: " + e.err.Error() }
func (e *clientError) Unwrap() error { return e.err }

// rpcError adds the server's RetryInfo hint to a gRPC error.
type rpcError struct {
	err   error
	delay time.Duration
}

func (e *rpcError) Error() string              { return e.err.Error() }
func (e *rpcError) Unwrap() error              { return e.err }
func (e *rpcError) RetryAfter() time.Duration  { return e.delay }
func (e *rpcError) GRPCStatus() *status.Status { s, _ := status.FromError(e.err); return s }

func wrapRPC(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	// An RPC that failed because the caller's context ended is Canceled
	// or DeadlineExceeded, not an outage.
	if cerr := cloudsm.ContextError(ctx, err); cerr != nil {
		return cerr
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			return &rpcError{err: err, delay: ri.GetRetryDelay().AsDuration()}
		}
	}
	return err
}

var secretIDRe = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,255}$`)

func (d *store) secretName(key string) (string, error) {
	if !secretIDRe.MatchString(key) {
		return "", &invalidKeyError{key}
	}
	id := key
	if !d.opts.ExactNames {
		id = cloudsm.GuideName(key)
	}
	return d.parent + "/secrets/" + id, nil
}

func (d *store) getClient(ctx context.Context) (*secretmanager.Client, error) {
	return d.client.Get(func() (*secretmanager.Client, error) {
		var opts []option.ClientOption
		if d.ep.plaintext {
			conn, err := grpc.NewClient(d.ep.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				return nil, &clientError{err}
			}
			d.conn = conn
			opts = append(opts, option.WithGRPCConn(conn), option.WithoutAuthentication())
		} else if d.ep.addr != "" {
			opts = append(opts, option.WithEndpoint(d.ep.addr))
		}
		opts = append(opts, d.opts.ClientOptions...)
		c, err := secretmanager.NewClient(ctx, opts...)
		if err != nil {
			if d.conn != nil {
				_ = d.conn.Close()
				d.conn = nil
			}
			return nil, &clientError{err}
		}
		// The Store retries (bounded, jittered, Unavailable only) and sets
		// deadlines; the library's own retries and timeouts would multiply them.
		*c.CallOptions = secretmanager.CallOptions{}
		return c, nil
	}, errClosed)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func versionID(name string) string { return name[strings.LastIndex(name, "/")+1:] }

func (d *store) Get(ctx context.Context, key, ver string) (*driver.Value, error) {
	name, err := d.secretName(key)
	if err != nil {
		return nil, err
	}
	if ver == "" {
		ver = "latest"
	}
	if strings.ContainsAny(ver, "/?#") {
		return nil, status.Errorf(codes.InvalidArgument, "gcpsm: invalid version %q", ver)
	}
	c, err := d.getClient(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := c.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: name + "/versions/" + ver})
	if err != nil {
		return nil, wrapRPC(ctx, err)
	}
	p := resp.GetPayload()
	if p.DataCrc32C != nil && int64(crc32.Checksum(p.GetData(), castagnoli)) != p.GetDataCrc32C() {
		return nil, &checksumError{name: resp.GetName()}
	}
	return &driver.Value{Data: p.GetData(), Version: driver.Version{ID: versionID(resp.GetName())}}, nil
}

func (d *store) List(ctx context.Context) ([]driver.KeyInfo, error) {
	c, err := d.getClient(ctx)
	if err != nil {
		return nil, err
	}
	var out []driver.KeyInfo
	it := c.ListSecrets(ctx, &secretmanagerpb.ListSecretsRequest{Parent: d.parent})
	for {
		s, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, wrapRPC(ctx, err)
		}
		id := versionID(s.GetName())
		if !d.opts.ExactNames {
			id = cloudsm.KeyName(id)
		}
		ki := driver.KeyInfo{Key: id}
		if t := s.GetCreateTime(); t != nil {
			ki.Updated = t.AsTime()
		}
		out = append(out, ki)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func (d *store) Put(ctx context.Context, key string, data []byte, opts *driver.PutOptions) (driver.Version, error) {
	name, err := d.secretName(key)
	if err != nil {
		return driver.Version{}, err
	}
	c, err := d.getClient(ctx)
	if err != nil {
		return driver.Version{}, err
	}
	crc := int64(crc32.Checksum(data, castagnoli))
	add := func() (*secretmanagerpb.SecretVersion, error) {
		return c.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: name,
			Payload: &secretmanagerpb.SecretPayload{Data: data, DataCrc32C: &crc}})
	}
	if opts != nil && opts.IfVersion != "" {
		return d.putIfVersion(ctx, c, name, opts.IfVersion, add)
	}
	v, err := add()
	if status.Code(err) == codes.NotFound {
		_, cerr := c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{
			Parent:   d.parent,
			SecretId: versionID(name),
			Secret: &secretmanagerpb.Secret{Replication: &secretmanagerpb.Replication{
				Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}}}},
		})
		if cerr != nil && status.Code(cerr) != codes.AlreadyExists {
			return driver.Version{}, wrapRPC(ctx, cerr)
		}
		v, err = add()
	}
	if err != nil {
		return driver.Version{}, wrapRPC(ctx, err)
	}
	return toVersion(v), nil
}

// Check-and-set. Secret Manager has no conditional AddSecretVersion; its
// one compare-and-swap is an UpdateSecret (secrets.patch) carrying the
// secret's etag, which fails with FAILED_PRECONDITION if anything updated
// the secret since it was read. Adding a version does not change the
// secret's etag. So a write with IfVersion W claims W first:
//
//  1. read the secret (its etag and annotations), then its latest version L;
//  2. L != W, or a live claim on L by another writer: conflict;
//  3. UpdateSecret with the etag read in 1, setting the annotation
//     keyward-cas to "W until DEADLINE": of writers that read the same
//     etag exactly one succeeds, the others conflict;
//  4. add the version.
//
// A writer that read the etag before a rival's claim fails at 3; one that
// read it after sees the claim (L still W) or the rival's new version (L
// past W) at 2. A claim stops mattering once a version past W exists, so it
// is never cleared on success; a claim whose writer failed at 4 is released,
// and one whose writer died expires at its deadline (plus a minute for
// clock skew). IfVersion "0" creates the secret with the claim already set.
// Unconditional writes neither check nor respect claims.

// casAnnotation is the annotation holding the current claim.
const casAnnotation = "keyward-cas"

// claimSkew is how long past its writer's deadline a claim still holds.
const claimSkew = time.Minute

// defaultClaimTTL bounds a claim when the context has no deadline.
const defaultClaimTTL = 2 * time.Minute

type claim struct {
	base  string
	until time.Time
}

func parseClaim(a map[string]string) (claim, bool) {
	v, ok := a[casAnnotation]
	if !ok {
		return claim{}, false
	}
	base, until, ok := strings.Cut(v, " until ")
	t, err := time.Parse(time.RFC3339Nano, until)
	if !ok || err != nil {
		return claim{}, false
	}
	return claim{base: base, until: t}, true
}

func claimValue(ctx context.Context, base string) string {
	until := time.Now().Add(defaultClaimTTL)
	if dl, ok := ctx.Deadline(); ok {
		until = dl
	}
	return base + " until " + until.UTC().Format(time.RFC3339Nano)
}

func withClaim(a map[string]string, v string) map[string]string {
	out := make(map[string]string, len(a)+1)
	for k, x := range a {
		out[k] = x
	}
	if v == "" {
		delete(out, casAnnotation)
	} else {
		out[casAnnotation] = v
	}
	return out
}

func (d *store) putIfVersion(ctx context.Context, c *secretmanager.Client, name, want string,
	add func() (*secretmanagerpb.SecretVersion, error)) (driver.Version, error) {
	sec, err := c.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: name})
	if status.Code(err) == codes.NotFound {
		if want != "0" {
			return driver.Version{}, errConflict
		}
		sec, err = c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{
			Parent:   d.parent,
			SecretId: versionID(name),
			Secret: &secretmanagerpb.Secret{
				Replication: &secretmanagerpb.Replication{
					Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}}},
				Annotations: map[string]string{casAnnotation: claimValue(ctx, "0")},
			},
		})
		if status.Code(err) == codes.AlreadyExists {
			return driver.Version{}, errExists
		}
		if err != nil {
			return driver.Version{}, wrapRPC(ctx, err)
		}
		return d.addClaimed(ctx, c, sec, add)
	}
	if err != nil {
		return driver.Version{}, wrapRPC(ctx, err)
	}
	cur := "0"
	v, err := c.GetSecretVersion(ctx, &secretmanagerpb.GetSecretVersionRequest{Name: name + "/versions/latest"})
	switch {
	case status.Code(err) == codes.NotFound:
	case err != nil:
		return driver.Version{}, wrapRPC(ctx, err)
	default:
		cur = versionID(v.GetName())
	}
	if cur != want {
		if want == "0" {
			return driver.Version{}, errExists
		}
		return driver.Version{}, errConflict
	}
	if cl, ok := parseClaim(sec.GetAnnotations()); ok && cl.base == cur && time.Now().Before(cl.until.Add(claimSkew)) {
		return driver.Version{}, errClaimed
	}
	claimed, err := c.UpdateSecret(ctx, &secretmanagerpb.UpdateSecretRequest{
		Secret: &secretmanagerpb.Secret{Name: name, Etag: sec.GetEtag(),
			Annotations: withClaim(sec.GetAnnotations(), claimValue(ctx, cur))},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"annotations"}},
	})
	switch {
	case status.Code(err) == codes.FailedPrecondition || status.Code(err) == codes.Aborted:
		return driver.Version{}, errConflict // a rival updated the secret since we read it
	case status.Code(err) == codes.PermissionDenied:
		return driver.Version{}, wrapRPC(ctx, fmt.Errorf("gcpsm: check-and-set claims the expected version with an etag-conditional UpdateSecret, "+
			"which needs secretmanager.secrets.update on the secret: %w", err))
	case err != nil:
		return driver.Version{}, wrapRPC(ctx, err)
	}
	return d.addClaimed(ctx, c, claimed, add)
}

// addClaimed adds the version under a claim; if that fails the claim is
// released (best effort, only if nothing updated the secret since).
func (d *store) addClaimed(ctx context.Context, c *secretmanager.Client, sec *secretmanagerpb.Secret,
	add func() (*secretmanagerpb.SecretVersion, error)) (driver.Version, error) {
	v, err := add()
	if err != nil {
		if ctx.Err() == nil {
			_, _ = c.UpdateSecret(ctx, &secretmanagerpb.UpdateSecretRequest{
				Secret:     &secretmanagerpb.Secret{Name: sec.GetName(), Etag: sec.GetEtag(), Annotations: withClaim(sec.GetAnnotations(), "")},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"annotations"}},
			})
		}
		return driver.Version{}, wrapRPC(ctx, err)
	}
	return toVersion(v), nil
}

func toVersion(v *secretmanagerpb.SecretVersion) driver.Version {
	dv := driver.Version{ID: versionID(v.GetName())}
	if t := v.GetCreateTime(); t != nil {
		dv.Created = t.AsTime()
	}
	switch v.GetState() {
	case secretmanagerpb.SecretVersion_ENABLED:
	case secretmanagerpb.SecretVersion_DESTROYED:
		dv.Disabled = true
		dv.Meta = map[string]string{"state": "destroyed"}
	default:
		dv.Disabled = true
		dv.Meta = map[string]string{"state": strings.ToLower(v.GetState().String())}
	}
	return dv
}

func (d *store) Versions(ctx context.Context, key string) ([]driver.Version, error) {
	name, err := d.secretName(key)
	if err != nil {
		return nil, err
	}
	c, err := d.getClient(ctx)
	if err != nil {
		return nil, err
	}
	var out []driver.Version
	it := c.ListSecretVersions(ctx, &secretmanagerpb.ListSecretVersionsRequest{Parent: name})
	for {
		v, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, wrapRPC(ctx, err)
		}
		out = append(out, toVersion(v))
	}
	if len(out) == 0 {
		// A secret with no versions has nothing to read; Get says NotFound too.
		return nil, status.Errorf(codes.NotFound, "gcpsm: secret %s has no versions", versionID(name))
	}
	num := func(id string) int { n, _ := strconv.Atoi(id); return n }
	sort.Slice(out, func(i, j int) bool { return num(out[i].ID) < num(out[j].ID) })
	out[len(out)-1].Labels = []string{"latest"}
	return out, nil
}

func (d *store) Delete(ctx context.Context, key string) error {
	name, err := d.secretName(key)
	if err != nil {
		return err
	}
	c, err := d.getClient(ctx)
	if err != nil {
		return err
	}
	return wrapRPC(ctx, c.DeleteSecret(ctx, &secretmanagerpb.DeleteSecretRequest{Name: name}))
}

func (d *store) ErrorCode(err error) driver.Code {
	var ike *invalidKeyError
	var ce *clientError
	switch {
	case err == nil:
		return driver.OK
	case errors.As(err, &ike):
		return driver.InvalidArgument
	case errors.Is(err, errConflict), errors.Is(err, errClaimed), errors.Is(err, errClosed):
		return driver.FailedPrecondition
	case errors.Is(err, errExists):
		return driver.AlreadyExists
	case errors.As(err, new(*checksumError)):
		return driver.Unavailable
	case errors.As(err, &ce):
		if strings.Contains(ce.err.Error(), "credentials") {
			return driver.PermissionDenied
		}
		return driver.InvalidArgument
	case errors.Is(err, context.Canceled):
		return driver.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return driver.DeadlineExceeded
	}
	st, ok := status.FromError(err)
	if !ok {
		return driver.Unknown
	}
	return codeOf(st.Code())
}

func codeOf(c codes.Code) driver.Code {
	switch c {
	case codes.OK:
		return driver.OK
	case codes.NotFound:
		return driver.NotFound
	case codes.AlreadyExists:
		return driver.AlreadyExists
	case codes.PermissionDenied, codes.Unauthenticated:
		return driver.PermissionDenied
	case codes.InvalidArgument, codes.OutOfRange:
		return driver.InvalidArgument
	case codes.FailedPrecondition, codes.Aborted:
		return driver.FailedPrecondition
	case codes.Unimplemented:
		return driver.Unimplemented
	case codes.Unavailable, codes.ResourceExhausted, codes.Internal, codes.DeadlineExceeded:
		// A DeadlineExceeded while the caller's context is still live came
		// from the server; the Store reclassifies it when its own deadline
		// passed.
		return driver.Unavailable
	case codes.Canceled:
		return driver.Canceled
	}
	return driver.Unknown
}

func (d *store) As(i any) bool {
	return cloudsm.As(i, func() (*secretmanager.Client, error) { return d.getClient(context.Background()) })
}

// Close closes the client and its connection, if they were made.
func (d *store) Close() error {
	return d.client.Close(func(c *secretmanager.Client) error {
		var err error
		if c != nil {
			err = c.Close()
		}
		if d.conn != nil {
			_ = d.conn.Close()
		}
		return err
	})
}
