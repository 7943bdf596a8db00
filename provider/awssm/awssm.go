//go:build !keyward_omit_awssm

// Package awssm reads and writes secrets in AWS Secrets Manager.
//
// Most users want the guide's layout, which is the default: one secret (the
// "bundle", e.g. dharmamind/production) whose SecretString is a JSON object,
// with one field per key. Key JWT_SECRET_KEY reads field jwt_secret_key,
// exactly as the guide's get_secret does (secrets.get(key.lower())):
//
//	store, err := keyward.Open(ctx, "awssm://dharmamind/production")
//	jwt, err := store.Get(ctx, "JWT_SECRET_KEY") // field "jwt_secret_key"
//
// With SECRET_PROVIDER=aws and AWS_SECRET_NAME=dharmamind/production the
// keyward CLI opens that same URL.
//
// # URLs
//
//	awssm://NAME[?region=R][&endpoint=URL][&mode=bundle|keys][&force_delete=true][&recovery_window_days=N]
//
// NAME is the secret name, slashes included (awssm://dharmamind/production,
// or awssm:///dharmamind/production). region defaults to the SDK's chain
// (AWS_REGION, AWS_DEFAULT_REGION, the shared config file) and then to
// us-east-1, the region the guide's code uses. endpoint overrides the
// service endpoint; without it AWS_ENDPOINT_URL_SECRETS_MANAGER and
// AWS_ENDPOINT_URL are honoured by the SDK itself.
//
// Credentials come from the SDK's default chain (environment, shared
// files, SSO, web identity, container and instance roles), loaded lazily on
// first use; they never go in the URL.
//
// # Modes
//
// bundle (default): NAME is one secret holding a JSON object. A key is
// looked up as its lower-case form first (the guide's rule), then exactly as
// given; a field that is a JSON string yields its text, any other JSON value
// its JSON text, and null counts as absent. Reading many keys costs one
// GetSecretValue (one per version asked for), however many keys are read;
// concurrent reads of the same bundle share one request. Writes are a
// read-modify-write of the whole object, committed as a new version with a
// compare-and-swap on the AWSCURRENT label (see # Writes). New fields are
// written lower-case so the guide's code finds them; List reports an
// all-lower-case field as its upper-case key (jwt_secret_key as
// JWT_SECRET_KEY). Versions are the bundle's versions.
//
// keys (?mode=keys): one secret per key, named NAME/KEY
// (awssm://dharmamind/production?mode=keys reads JWT_SECRET_KEY from the
// secret dharmamind/production/JWT_SECRET_KEY; with an empty NAME the key is
// the secret name). Many keys are read with BatchGetSecretValue, 20 ids per
// request. Values that are valid UTF-8 are stored as SecretString, others as
// SecretBinary. Delete schedules the secret for deletion with the recovery
// window (default 30 days) unless force_delete=true; a key scheduled for
// deletion reads as not found, and writing it again restores it first.
//
// # Versions
//
// Get with a version accepts a VersionId (32 to 64 characters) or a staging
// label (AWSCURRENT, AWSPREVIOUS, AWSPENDING or your own); prefix "id:" or
// "stage:" to say which. Version.ID is the VersionId and Version.Labels its
// staging labels. History lists every version the service keeps, including
// the ones that no longer carry a label, oldest first.
//
// # Writes
//
// Secrets Manager has no conditional write. keyward gets one from staging
// labels: it writes the new version under a private label
// (keyward-pending), then moves AWSCURRENT to it with
// UpdateSecretVersionStage naming the version it read as
// RemoveFromVersionId, which the service refuses if AWSCURRENT has moved in
// the meantime. So a concurrent writer is detected, never silently
// overwritten: an unconditional write re-reads and retries (bounded), and a
// write with PutOptions.IfVersion fails with FailedPrecondition. A version
// written by a writer that lost the race stays behind without labels (the
// service has no way to delete one version) and shows in History. Writers
// that bypass keyward (the console, put-secret-value) are not detected.
// Each write sends a fresh ClientRequestToken, so the SDK's or the network's
// duplicates are idempotent.
//
// # Errors
//
// ResourceNotFoundException, and a secret scheduled for deletion, map to
// NotFound; AccessDenied, UnrecognizedClient and signature errors to
// PermissionDenied; throttling, 5xx, network errors and truncated responses
// to Unavailable (with the Retry-After header when the service sends one);
// no credentials anywhere in the SDK's chain to PermissionDenied;
// InvalidRequest and InvalidParameter to InvalidArgument; ResourceExists to
// AlreadyExists. The SDK's own retryer is turned off (one attempt per call)
// so that keyward.Store's retry policy is the one in force. Errors carry the
// SDK's operation name and request id, never a secret value.
//
// # As
//
// Store.As accepts **secretsmanager.Client. Store.ErrorAs reaches the SDK's
// errors (smithy.APIError, *types.ResourceNotFoundException, ...).
package awssm

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
)

// Scheme is the URL scheme awssm registers.
const Scheme = "awssm"

// DefaultRegion is used when neither the URL nor the SDK's chain names a
// region; it is the region the guide's code hard-codes.
const DefaultRegion = "us-east-1"

// PendingLabel is the staging label a write holds before it becomes
// AWSCURRENT.
const PendingLabel = "keyward-pending"

// Mode selects how keys map to secrets.
type Mode string

const (
	// ModeBundle keeps every key as a field of one JSON secret (the guide's).
	ModeBundle Mode = "bundle"
	// ModeKeys keeps each key in its own secret, NAME/KEY.
	ModeKeys Mode = "keys"
)

// maxWriteAttempts bounds the re-read-and-retry loop of an unconditional
// write that lost a race.
const maxWriteAttempts = 25

// Options configures a driver. The zero value is bundle mode with the SDK's
// default configuration.
type Options struct {
	// Mode is ModeBundle (default) or ModeKeys.
	Mode Mode
	// Region overrides the SDK's region chain.
	Region string
	// Endpoint overrides the service endpoint.
	Endpoint string
	// Client, if set, is used instead of one built from the default
	// configuration (Region and Endpoint are then ignored). Every call
	// still runs with a single attempt.
	Client *secretsmanager.Client
	// ForceDelete deletes per-key secrets without a recovery window.
	ForceDelete bool
	// RecoveryWindowDays is the recovery window for Delete in keys mode
	// (7 to 30; 0 means the service default, 30).
	RecoveryWindowDays int
}

func init() {
	keyward.DefaultURLMux().Register(Scheme, keyward.OpenerFunc(openURL))
}

func openURL(ctx context.Context, u *url.URL) (driver.Store, error) {
	name := strings.Trim(u.Host+u.Path, "/")
	var o Options
	q := u.Query()
	for k := range q {
		v := q.Get(k)
		switch k {
		case "region":
			o.Region = v
		case "endpoint":
			o.Endpoint = v
		case "mode":
			o.Mode = Mode(v)
		case "force_delete":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, keyward.Errorf(keyward.InvalidArgument, "open", "awssm: force_delete= is not a boolean (true or false)")
			}
			o.ForceDelete = b
		case "recovery_window_days":
			n, err := strconv.Atoi(v)
			if err != nil || n < 7 || n > 30 {
				return nil, keyward.Errorf(keyward.InvalidArgument, "open", "awssm: recovery_window_days= is not a number from 7 to 30")
			}
			o.RecoveryWindowDays = n
		default:
			return nil, keyward.Errorf(keyward.InvalidArgument, "open", "awssm: unknown query parameter %q (known: region, endpoint, mode, force_delete, recovery_window_days)", k)
		}
	}
	return NewDriver(name, &o)
}

// NewDriver returns a driver for the secret (bundle mode) or name prefix
// (keys mode) name. Credentials are loaded on first use.
func NewDriver(name string, opts *Options) (driver.Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	switch o.Mode {
	case "":
		o.Mode = ModeBundle
	case ModeBundle, ModeKeys:
	default:
		return nil, keyward.Errorf(keyward.InvalidArgument, "open", "awssm: mode= is not bundle or keys")
	}
	name = strings.Trim(name, "/")
	if name == "" && o.Mode == ModeBundle {
		return nil, keyward.Errorf(keyward.InvalidArgument, "open", "awssm: bundle mode needs a secret name (awssm://NAME, e.g. awssm://dharmamind/production)")
	}
	if o.Endpoint != "" {
		if eu, err := url.Parse(o.Endpoint); err != nil || eu.Scheme == "" || eu.Host == "" {
			return nil, keyward.Errorf(keyward.InvalidArgument, "open", "awssm: endpoint= is not an absolute URL (https://HOST[:PORT])")
		}
	}
	d := &awsDriver{name: name, opts: o}
	if o.Client != nil {
		d.client = o.Client
	}
	return d, nil
}

// OpenStore is NewDriver wrapped in a keyward.Store.
func OpenStore(name string, opts *Options, sopts *keyward.StoreOptions) (*keyward.Store, error) {
	d, err := NewDriver(name, opts)
	if err != nil {
		return nil, err
	}
	return keyward.NewStore(d, sopts), nil
}

type awsDriver struct {
	name string
	opts Options

	mu     sync.Mutex
	client *secretsmanager.Client

	reads singleflight.Group // bundle reads, by version

	// listed is the bundle List just read, handed once to the GetMany that
	// usually follows (keyward run, export) so that listing and reading the
	// values cost one request and see one version. Writes clear it.
	listed   *bundle
	listedAt time.Time
}

// listedReuse is how long a bundle read by List may serve the next GetMany.
const listedReuse = 2 * time.Second

func (d *awsDriver) takeListed() *bundle {
	d.mu.Lock()
	defer d.mu.Unlock()
	b := d.listed
	d.listed = nil
	if b == nil || time.Since(d.listedAt) > listedReuse {
		return nil
	}
	return b
}

func (d *awsDriver) setListed(b *bundle) {
	d.mu.Lock()
	d.listed, d.listedAt = b, time.Now()
	d.mu.Unlock()
}

var (
	_ driver.Lister      = (*awsDriver)(nil)
	_ driver.Writer      = (*awsDriver)(nil)
	_ driver.Deleter     = (*awsDriver)(nil)
	_ driver.Versioner   = (*awsDriver)(nil)
	_ driver.BatchGetter = (*awsDriver)(nil)
	_ driver.As          = (*awsDriver)(nil)
)

// oneAttempt makes every call a single attempt: keyward.Store retries.
func oneAttempt(o *secretsmanager.Options) { o.RetryMaxAttempts = 1 }

func (d *awsDriver) api(ctx context.Context) (*secretsmanager.Client, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.client != nil {
		return d.client, nil
	}
	// The SDK's own log lines ("SDK 2026/… WARN falling back to IMDSv1")
	// never reach the user's stderr: what matters is in the errors.
	lo := []func(*config.LoadOptions) error{config.WithRetryMaxAttempts(1), config.WithLogger(logging.Nop{}), config.WithClientLogMode(0)}
	if d.opts.Region != "" {
		lo = append(lo, config.WithRegion(d.opts.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return nil, &loadError{err}
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	d.client = secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		o.RetryMaxAttempts = 1
		if d.opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(d.opts.Endpoint)
		}
	})
	return d.client, nil
}

type loadError struct{ err error }

func (e *loadError) Error() string { return "failed to load the AWS configuration: " + e.err.Error() }
func (e *loadError) Unwrap() error { return e.err }

// Hint says what to do next; the CLI prints it as a "hint:" line.
func (e *loadError) Hint() string {
	return "check AWS_PROFILE, AWS_CONFIG_FILE and ~/.aws/config; see docs/providers/awssm.md"
}

// ---------- errors ----------

var (
	errNotFound   = errors.New("no such key")
	errConflict   = errors.New("check-and-set conflict: the current version is not the expected one")
	errNotObject  = errors.New("is not a JSON object (bundle mode needs one; use ?mode=keys for one secret per key)")
	errNotText    = errors.New("bundle values must be UTF-8 text; use ?mode=keys for binary values")
	errContention = errors.New("gave up after repeated concurrent writes to the same secret")
)

type keyError struct {
	err        error
	secret     string
	key        string
	retryAfter time.Duration
}

func (e *keyError) Error() string {
	msg := "secret " + strconv.Quote(e.secret)
	if e.key != "" {
		msg += " key " + strconv.Quote(e.key)
	}
	return msg + ": " + e.err.Error()
}
func (e *keyError) Unwrap() error             { return e.err }
func (e *keyError) RetryAfter() time.Duration { return e.retryAfter }

// sdkError wraps an SDK error: it adds Retry-After and replaces the text of
// deserialization errors, which may quote bytes of a response body.
type sdkError struct {
	err        error
	retryAfter time.Duration
	truncated  bool
}

func (e *sdkError) Error() string {
	if e.truncated {
		return "malformed or truncated response from Secrets Manager"
	}
	return e.err.Error()
}
func (e *sdkError) Unwrap() error             { return e.err }
func (e *sdkError) RetryAfter() time.Duration { return e.retryAfter }

// Hint says what to do next for the common AWS failures, as the Vault and
// local providers do; the CLI prints it as a "hint:" line.
func (e *sdkError) Hint() string { return awsHint(e.err) }

func awsHint(err error) string {
	msg := err.Error()
	switch code := apiCode(err); {
	case strings.Contains(msg, "get credentials") || strings.Contains(msg, "get identity") || strings.Contains(msg, "no EC2 IMDS role"):
		return "no AWS credentials were found: run 'aws sso login' (or 'aws configure'), set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
	case code == "ExpiredToken" || code == "ExpiredTokenException":
		return "the AWS session has expired: run 'aws sso login' again, or refresh the credentials"
	case code == "AccessDeniedException" || code == "AccessDenied":
		return "the AWS identity may not do this: its IAM policy needs secretsmanager:GetSecretValue (and kms:Decrypt for a customer-managed key) on the secret; 'aws sts get-caller-identity' shows who you are"
	case code == "UnrecognizedClientException" || code == "InvalidClientTokenId" || code == "InvalidSignatureException" || code == "SignatureDoesNotMatch":
		return "AWS does not recognise these credentials: check AWS_PROFILE / AWS_ACCESS_KEY_ID, and the clock"
	case code == "ResourceNotFoundException":
		return "check the secret's name and the region (?region=… in the store URL, or AWS_REGION)"
	case strings.Contains(msg, "dial tcp") || strings.Contains(msg, "no such host") || strings.Contains(msg, "connection refused"):
		return "Secrets Manager could not be reached: check the network, the region, and AWS_ENDPOINT_URL if you set one"
	}
	return ""
}

func wrapSDK(err error) error {
	if err == nil {
		return nil
	}
	se := &sdkError{err: err}
	var de *smithy.DeserializationError
	if errors.As(err, &de) {
		se.truncated = true
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		se.retryAfter = parseRetryAfter(re.Response.Header.Get("Retry-After"))
	} else {
		var sre *smithyhttp.ResponseError
		if errors.As(err, &sre) && sre.Response != nil {
			se.retryAfter = parseRetryAfter(sre.Response.Header.Get("Retry-After"))
		}
	}
	return se
}

func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// isScheduledForDeletion reports the InvalidRequestException the service
// answers for a secret in its recovery window.
func isScheduledForDeletion(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidRequestException" {
		return false
	}
	m := strings.ToLower(ae.ErrorMessage())
	return strings.Contains(m, "marked for deletion") || strings.Contains(m, "scheduled for deletion")
}

// ErrorCode maps the service's errors to keyward codes.
func (d *awsDriver) ErrorCode(err error) driver.Code {
	return errorCode(err)
}

func errorCode(err error) driver.Code {
	switch {
	case err == nil:
		return driver.OK
	case errors.Is(err, errNotFound):
		return driver.NotFound
	case errors.Is(err, errConflict), errors.Is(err, errNotObject):
		return driver.FailedPrecondition
	case errors.Is(err, errNotText):
		return driver.InvalidArgument
	case errors.Is(err, errContention):
		return driver.Unavailable
	case errors.Is(err, context.Canceled):
		return driver.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return driver.DeadlineExceeded
	}
	if isScheduledForDeletion(err) {
		return driver.NotFound
	}
	switch apiCode(err) {
	case "ResourceNotFoundException":
		return driver.NotFound
	case "AccessDeniedException", "AccessDenied", "UnrecognizedClientException", "InvalidSignatureException",
		"IncompleteSignature", "IncompleteSignatureException", "MissingAuthenticationToken",
		"MissingAuthenticationTokenException", "ExpiredToken", "ExpiredTokenException",
		"InvalidClientTokenId", "SignatureDoesNotMatch", "NotAuthorized":
		return driver.PermissionDenied
	case "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded",
		"InternalServiceError", "InternalFailure", "ServiceUnavailable", "ServiceUnavailableException",
		"RequestTimeout", "RequestTimeoutException":
		return driver.Unavailable
	case "InvalidRequestException", "InvalidParameterException", "InvalidNextTokenException",
		"ValidationException", "SerializationException", "MalformedPolicyDocumentException":
		return driver.InvalidArgument
	case "ResourceExistsException":
		return driver.AlreadyExists
	case "PreconditionNotMetException", "LimitExceededException", "DecryptionFailure", "EncryptionFailure":
		return driver.FailedPrecondition
	}
	var sc interface{ HTTPStatusCode() int }
	if errors.As(err, &sc) {
		switch s := sc.HTTPStatusCode(); {
		case s == 429 || s >= 500:
			return driver.Unavailable
		case s == 401 || s == 403:
			return driver.PermissionDenied
		case s == 404:
			return driver.NotFound
		case s >= 400:
			return driver.InvalidArgument
		}
	}
	var rse *smithyhttp.RequestSendError
	var de *smithy.DeserializationError
	if errors.As(err, &rse) || errors.As(err, &de) {
		return driver.Unavailable
	}
	var le *loadError
	if errors.As(err, &le) {
		return driver.FailedPrecondition
	}
	// No usable credentials in the chain: the request was never sent.
	var sge *v4.SigningError
	if errors.As(err, &sge) {
		return driver.PermissionDenied
	}
	var oe *smithy.OperationError
	if errors.As(err, &oe) && oe.Err != nil && strings.HasPrefix(oe.Err.Error(), "get identity:") {
		return driver.PermissionDenied
	}
	return driver.Unknown
}

// ---------- helpers ----------

func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// versionSelector splits a version argument into VersionId or VersionStage.
func versionSelector(version string) (id, stage *string) {
	switch {
	case version == "":
		return nil, nil
	case strings.HasPrefix(version, "id:"):
		return aws.String(strings.TrimPrefix(version, "id:")), nil
	case strings.HasPrefix(version, "stage:"):
		return nil, aws.String(strings.TrimPrefix(version, "stage:"))
	case len(version) >= 32 && len(version) <= 64:
		return aws.String(version), nil
	}
	return nil, aws.String(version)
}

func versionOf(id *string, created *time.Time, stages []string) driver.Version {
	v := driver.Version{ID: aws.ToString(id), Labels: append([]string(nil), stages...)}
	if created != nil {
		v.Created = created.UTC()
	}
	return v
}

func valueBytes(s *string, b []byte) []byte {
	if s != nil {
		return []byte(*s)
	}
	return append([]byte(nil), b...)
}

func sleepJitter(ctx context.Context, attempt int) error {
	n, _ := rand.Int(rand.Reader, big.NewInt(int64(5+5*min(attempt, 10))))
	t := time.NewTimer(time.Duration(n.Int64()+1) * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ---------- the shared read and write primitives ----------

type secretVal struct {
	data []byte
	str  *string
	ver  driver.Version
}

func (d *awsDriver) getSecret(ctx context.Context, name, version string) (*secretVal, error) {
	c, err := d.api(ctx)
	if err != nil {
		return nil, err
	}
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)}
	in.VersionId, in.VersionStage = versionSelector(version)
	out, err := c.GetSecretValue(ctx, in, oneAttempt)
	if err != nil {
		return nil, wrapSDK(err)
	}
	return &secretVal{
		data: valueBytes(out.SecretString, out.SecretBinary),
		str:  out.SecretString,
		ver:  versionOf(out.VersionId, out.CreatedDate, out.VersionStages),
	}, nil
}

// currentVersion returns the VersionId holding AWSCURRENT, "" if none.
func (d *awsDriver) currentVersion(ctx context.Context, name string) (string, error) {
	c, err := d.api(ctx)
	if err != nil {
		return "", err
	}
	out, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)}, oneAttempt)
	if err != nil {
		return "", wrapSDK(err)
	}
	if out.DeletedDate != nil {
		return "", &keyError{err: errNotFound, secret: name}
	}
	for id, stages := range out.VersionIdsToStages {
		for _, s := range stages {
			if s == "AWSCURRENT" {
				return id, nil
			}
		}
	}
	return "", nil
}

func secretInput(data []byte) (*string, []byte) {
	if utf8.Valid(data) {
		return aws.String(string(data)), nil
	}
	return nil, data
}

// casWrite writes data as a new version of name and makes it AWSCURRENT only
// if AWSCURRENT is still on version from. It returns errConflict otherwise.
func (d *awsDriver) casWrite(ctx context.Context, name string, data []byte, from string) (driver.Version, error) {
	c, err := d.api(ctx)
	if err != nil {
		return driver.Version{}, err
	}
	token := newToken()
	str, bin := secretInput(data)
	if _, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(name), ClientRequestToken: aws.String(token),
		SecretString: str, SecretBinary: bin, VersionStages: []string{PendingLabel},
	}, oneAttempt); err != nil {
		return driver.Version{}, wrapSDK(err)
	}
	_, err = c.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
		SecretId: aws.String(name), VersionStage: aws.String("AWSCURRENT"),
		MoveToVersionId: aws.String(token), RemoveFromVersionId: aws.String(from),
	}, oneAttempt)
	// The pending label has done its job either way; removing it is best effort.
	defer func() {
		_, _ = c.UpdateSecretVersionStage(context.WithoutCancel(ctx), &secretsmanager.UpdateSecretVersionStageInput{
			SecretId: aws.String(name), VersionStage: aws.String(PendingLabel), RemoveFromVersionId: aws.String(token),
		}, oneAttempt)
	}()
	if err != nil {
		if code := apiCode(err); code == "InvalidParameterException" || code == "InvalidRequestException" && !isScheduledForDeletion(err) {
			return driver.Version{}, &keyError{err: errConflict, secret: name}
		}
		return driver.Version{}, wrapSDK(err)
	}
	return driver.Version{ID: token, Created: time.Now().UTC(), Labels: []string{"AWSCURRENT"}}, nil
}

func (d *awsDriver) versions(ctx context.Context, name string) ([]driver.Version, error) {
	c, err := d.api(ctx)
	if err != nil {
		return nil, err
	}
	var out []driver.Version
	p := secretsmanager.NewListSecretVersionIdsPaginator(c, &secretsmanager.ListSecretVersionIdsInput{
		SecretId: aws.String(name), IncludeDeprecated: aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx, oneAttempt)
		if err != nil {
			return nil, wrapSDK(err)
		}
		for _, v := range page.Versions {
			out = append(out, versionOf(v.VersionId, v.CreatedDate, v.VersionStages))
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		// Same instant: the current version is the newest.
		return !hasLabel(out[i], "AWSCURRENT") && hasLabel(out[j], "AWSCURRENT")
	})
	return out, nil
}

func hasLabel(v driver.Version, l string) bool {
	for _, s := range v.Labels {
		if s == l {
			return true
		}
	}
	return false
}

// ---------- driver.Store ----------

func (d *awsDriver) Get(ctx context.Context, key, version string) (*driver.Value, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if d.opts.Mode == ModeKeys {
		sv, err := d.getSecret(ctx, d.secretName(key), version)
		if err != nil {
			return nil, err
		}
		return &driver.Value{Data: sv.data, Version: sv.ver}, nil
	}
	b, err := d.readBundle(ctx, version)
	if err != nil {
		return nil, err
	}
	data, _, ok := b.lookup(key)
	if !ok {
		return nil, &keyError{err: errNotFound, secret: d.name, key: key}
	}
	return &driver.Value{Data: data, Version: b.ver}, nil
}

func (d *awsDriver) GetMany(ctx context.Context, keys []string) (map[string]*driver.Value, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make(map[string]*driver.Value, len(keys))
	if d.opts.Mode == ModeBundle {
		b := d.takeListed()
		if b == nil {
			var err error
			if b, err = d.readBundle(ctx, ""); err != nil {
				if errorCode(err) == driver.NotFound {
					return out, nil
				}
				return nil, err
			}
		}
		for _, k := range keys {
			if data, _, ok := b.lookup(k); ok {
				out[k] = &driver.Value{Data: data, Version: b.ver}
			}
		}
		return out, nil
	}
	c, err := d.api(ctx)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]string, len(keys))
	var names []string
	for _, k := range keys {
		n := d.secretName(k)
		if _, dup := byName[n]; !dup {
			names = append(names, n)
		}
		byName[n] = k
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := 0; i < len(names); i += 20 {
		chunk := names[i:min(i+20, len(names))]
		g.Go(func() error {
			res, err := c.BatchGetSecretValue(gctx, &secretsmanager.BatchGetSecretValueInput{SecretIdList: chunk}, oneAttempt)
			if err != nil {
				return wrapSDK(err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, e := range res.Errors {
				if code := aws.ToString(e.ErrorCode); code == "ResourceNotFoundException" ||
					code == "InvalidRequestException" && isScheduledForDeletion(&smithy.GenericAPIError{Code: code, Message: aws.ToString(e.Message)}) {
					continue
				}
				return &keyError{secret: aws.ToString(e.SecretId),
					err: &smithy.GenericAPIError{Code: aws.ToString(e.ErrorCode), Message: aws.ToString(e.Message)}}
			}
			for _, sv := range res.SecretValues {
				k, ok := byName[aws.ToString(sv.Name)]
				if !ok {
					continue
				}
				out[k] = &driver.Value{
					Data:    valueBytes(sv.SecretString, sv.SecretBinary),
					Version: versionOf(sv.VersionId, sv.CreatedDate, sv.VersionStages),
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// Several keys can name one secret only if they are equal; copy for each.
	for _, k := range keys {
		if _, ok := out[k]; !ok {
			if v, ok := out[byName[d.secretName(k)]]; ok {
				out[k] = &driver.Value{Data: append([]byte(nil), v.Data...), Version: v.Version}
			}
		}
	}
	return out, nil
}

func (d *awsDriver) secretName(key string) string {
	if d.name == "" {
		return key
	}
	return d.name + "/" + key
}

func (d *awsDriver) List(ctx context.Context) ([]driver.KeyInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if d.opts.Mode == ModeBundle {
		b, err := d.readBundle(ctx, "")
		if err != nil {
			if errorCode(err) == driver.NotFound {
				return nil, nil
			}
			return nil, err
		}
		d.setListed(b)
		out := make([]driver.KeyInfo, 0, len(b.fields))
		for f := range b.fields {
			out = append(out, driver.KeyInfo{Key: displayKey(f), Version: b.ver.ID, Updated: b.ver.Created})
		}
		return out, nil
	}
	c, err := d.api(ctx)
	if err != nil {
		return nil, err
	}
	prefix := ""
	in := &secretsmanager.ListSecretsInput{}
	if d.name != "" {
		prefix = d.name + "/"
		in.Filters = []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{prefix}}}
	}
	var out []driver.KeyInfo
	p := secretsmanager.NewListSecretsPaginator(c, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx, oneAttempt)
		if err != nil {
			return nil, wrapSDK(err)
		}
		for _, e := range page.SecretList {
			n := aws.ToString(e.Name)
			// The service's name filter is a case-insensitive prefix match.
			if !strings.HasPrefix(n, prefix) || n == prefix || e.DeletedDate != nil {
				continue
			}
			ki := driver.KeyInfo{Key: strings.TrimPrefix(n, prefix)}
			if e.LastChangedDate != nil {
				ki.Updated = e.LastChangedDate.UTC()
			}
			for id, stages := range e.SecretVersionsToStages {
				for _, s := range stages {
					if s == "AWSCURRENT" {
						ki.Version = id
					}
				}
			}
			out = append(out, ki)
		}
	}
	return out, nil
}

// displayKey is the key a listed field is read back as: an all-lower-case
// field that is a valid environment variable name in upper case is listed
// in upper case (jwt_secret_key → JWT_SECRET_KEY), since Get lower-cases.
func displayKey(field string) string {
	if field == "" || strings.ToLower(field) != field {
		return field
	}
	up := strings.ToUpper(field)
	for i, r := range up {
		if !(r == '_' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return field
		}
	}
	return up
}

func (d *awsDriver) Put(ctx context.Context, key string, data []byte, opts *driver.PutOptions) (driver.Version, error) {
	if err := ctx.Err(); err != nil {
		return driver.Version{}, err
	}
	var ifv string
	if opts != nil {
		ifv = opts.IfVersion
	}
	if d.opts.Mode == ModeKeys {
		return d.putKey(ctx, d.secretName(key), key, data, ifv)
	}
	if !utf8.Valid(data) {
		return driver.Version{}, &keyError{err: errNotText, secret: d.name, key: key}
	}
	return d.modifyBundle(ctx, key, ifv, func(b *bundle) error {
		field, _ := b.fieldFor(key)
		if ifv == "0" {
			if _, exists := b.fields[field]; exists {
				return &keyError{err: errConflict, secret: d.name, key: key}
			}
		}
		raw, _ := marshalNoEscape(string(data))
		b.fields[field] = raw
		return nil
	})
}

func (d *awsDriver) putKey(ctx context.Context, name, key string, data []byte, ifv string) (driver.Version, error) {
	c, err := d.api(ctx)
	if err != nil {
		return driver.Version{}, err
	}
	str, bin := secretInput(data)
	create := func() (driver.Version, error) {
		token := newToken()
		out, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name: aws.String(name), ClientRequestToken: aws.String(token), SecretString: str, SecretBinary: bin,
		}, oneAttempt)
		if err != nil {
			return driver.Version{}, wrapSDK(err)
		}
		return driver.Version{ID: aws.ToString(out.VersionId), Created: time.Now().UTC(), Labels: []string{"AWSCURRENT"}}, nil
	}
	restore := func() error {
		_, err := c.RestoreSecret(ctx, &secretsmanager.RestoreSecretInput{SecretId: aws.String(name)}, oneAttempt)
		return wrapSDK(err)
	}
	switch ifv {
	case "":
	case "0":
		v, err := create()
		if err != nil && isScheduledForDeletion(err) {
			// Scheduled for deletion reads as absent: bring it back and write.
			if err := restore(); err != nil {
				return driver.Version{}, err
			}
			cur, err := d.currentVersion(ctx, name)
			if err != nil {
				return driver.Version{}, err
			}
			return d.casWrite(ctx, name, data, cur)
		}
		if apiCode(err) == "ResourceExistsException" {
			return driver.Version{}, &keyError{err: errors.Join(errConflict, err), secret: name}
		}
		return v, err
	default:
		cur, err := d.currentVersion(ctx, name)
		if err != nil {
			if errorCode(err) == driver.NotFound {
				return driver.Version{}, &keyError{err: errConflict, secret: name}
			}
			return driver.Version{}, err
		}
		if cur != ifv {
			return driver.Version{}, &keyError{err: errConflict, secret: name}
		}
		return d.casWrite(ctx, name, data, ifv)
	}
	for attempt := 0; attempt < 3; attempt++ {
		token := newToken()
		out, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
			SecretId: aws.String(name), ClientRequestToken: aws.String(token), SecretString: str, SecretBinary: bin,
		}, oneAttempt)
		if err == nil {
			return driver.Version{ID: aws.ToString(out.VersionId), Created: time.Now().UTC(), Labels: out.VersionStages}, nil
		}
		switch {
		case isScheduledForDeletion(err):
			if err := restore(); err != nil {
				return driver.Version{}, err
			}
			continue
		case apiCode(err) == "ResourceNotFoundException":
			v, err := create()
			if apiCode(err) == "ResourceExistsException" {
				continue // created concurrently: write a version on top
			}
			return v, err
		}
		return driver.Version{}, wrapSDK(err)
	}
	return driver.Version{}, &keyError{err: errContention, secret: name}
}

func (d *awsDriver) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d.opts.Mode == ModeKeys {
		c, err := d.api(ctx)
		if err != nil {
			return err
		}
		in := &secretsmanager.DeleteSecretInput{SecretId: aws.String(d.secretName(key))}
		if d.opts.ForceDelete {
			in.ForceDeleteWithoutRecovery = aws.Bool(true)
		} else if d.opts.RecoveryWindowDays != 0 {
			in.RecoveryWindowInDays = aws.Int64(int64(d.opts.RecoveryWindowDays))
		}
		_, err = c.DeleteSecret(ctx, in, oneAttempt)
		return wrapSDK(err)
	}
	_, err := d.modifyBundle(ctx, key, "", func(b *bundle) error {
		field, ok := b.fieldFor(key)
		if !ok {
			return &keyError{err: errNotFound, secret: d.name, key: key}
		}
		delete(b.fields, field)
		return nil
	})
	if err != nil && errorCode(err) == driver.NotFound {
		return &keyError{err: errNotFound, secret: d.name, key: key}
	}
	return err
}

func (d *awsDriver) Versions(ctx context.Context, key string) ([]driver.Version, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if d.opts.Mode == ModeKeys {
		return d.versions(ctx, d.secretName(key))
	}
	b, err := d.readBundle(ctx, "")
	if err != nil {
		return nil, err
	}
	if _, _, ok := b.lookup(key); !ok {
		return nil, &keyError{err: errNotFound, secret: d.name, key: key}
	}
	return d.versions(ctx, d.name)
}

func (d *awsDriver) As(i any) bool {
	p, ok := i.(**secretsmanager.Client)
	if !ok {
		return false
	}
	c, err := d.api(context.Background())
	if err != nil {
		return false
	}
	*p = c
	return true
}

func (d *awsDriver) Close() error { return nil }

// ---------- bundle mode ----------

type bundle struct {
	fields map[string]json.RawMessage
	ver    driver.Version
}

// lookup finds key: its lower-case form first (the guide's rule), then as given.
func (b *bundle) lookup(key string) ([]byte, string, bool) {
	field, ok := b.fieldFor(key)
	if !ok {
		return nil, "", false
	}
	raw := bytes.TrimSpace(b.fields[field])
	if bytes.Equal(raw, []byte("null")) {
		return nil, "", false
	}
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, "", false
		}
		return []byte(s), field, true
	}
	return append([]byte(nil), raw...), field, true
}

// fieldFor names the field key reads and writes: the lower-case field if it
// exists, else the exact-case field if it exists, else the lower-case name.
func (b *bundle) fieldFor(key string) (string, bool) {
	lower := strings.ToLower(key)
	if _, ok := b.fields[lower]; ok {
		return lower, true
	}
	if _, ok := b.fields[key]; ok {
		return key, true
	}
	return lower, false
}

func parseBundle(name string, sv *secretVal) (*bundle, error) {
	b := &bundle{ver: sv.ver}
	dec := json.NewDecoder(bytes.NewReader(sv.data))
	if sv.str == nil || dec.Decode(&b.fields) != nil || b.fields == nil || dec.More() {
		// Deliberately no decoder error text: it can quote the value.
		return nil, &keyError{err: errNotObject, secret: name}
	}
	return b, nil
}

func (d *awsDriver) readBundle(ctx context.Context, version string) (*bundle, error) {
	type res struct {
		b   *bundle
		err error
	}
	ch := d.reads.DoChan(version, func() (any, error) {
		sv, err := d.getSecret(ctx, d.name, version)
		if err != nil {
			return res{nil, err}, nil
		}
		b, err := parseBundle(d.name, sv)
		return res{b, err}, nil
	})
	var r res
	select {
	case out := <-ch:
		r = out.Val.(res)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// A shared read that failed because another caller gave up is retried
	// on this caller's own context.
	if r.err != nil && ctx.Err() == nil && (errors.Is(r.err, context.Canceled) || errors.Is(r.err, context.DeadlineExceeded)) {
		sv, err := d.getSecret(ctx, d.name, version)
		if err != nil {
			return nil, err
		}
		return parseBundle(d.name, sv)
	}
	if r.err != nil {
		return nil, r.err
	}
	// Callers may modify fields; each gets its own map.
	cp := &bundle{fields: make(map[string]json.RawMessage, len(r.b.fields)), ver: r.b.ver}
	for k, v := range r.b.fields {
		cp.fields[k] = v
	}
	return cp, nil
}

func marshalNoEscape(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// modifyBundle is the bundle's read-modify-write loop: read AWSCURRENT,
// apply change, write a new version with a compare-and-swap on AWSCURRENT,
// and on a lost race re-read and try again (unless ifv pins a version).
func (d *awsDriver) modifyBundle(ctx context.Context, key, ifv string, change func(*bundle) error) (driver.Version, error) {
	d.mu.Lock()
	d.listed = nil
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.listed = nil
		d.mu.Unlock()
	}()
	c, err := d.api(ctx)
	if err != nil {
		return driver.Version{}, err
	}
	for attempt := 0; attempt < maxWriteAttempts; attempt++ {
		if attempt > 0 {
			if err := sleepJitter(ctx, attempt); err != nil {
				return driver.Version{}, err
			}
		}
		sv, err := d.getSecret(ctx, d.name, "")
		missing := err != nil && apiCode(err) == "ResourceNotFoundException"
		if err != nil && !missing {
			return driver.Version{}, err
		}
		var b *bundle
		if missing {
			if ifv != "" && ifv != "0" {
				return driver.Version{}, &keyError{err: errConflict, secret: d.name, key: key}
			}
			b = &bundle{fields: map[string]json.RawMessage{}}
		} else {
			if b, err = parseBundle(d.name, sv); err != nil {
				return driver.Version{}, err
			}
			if ifv != "" && ifv != "0" && b.ver.ID != ifv {
				return driver.Version{}, &keyError{err: errConflict, secret: d.name, key: key}
			}
		}
		if err := change(b); err != nil {
			return driver.Version{}, err
		}
		doc, err := marshalNoEscape(b.fields)
		if err != nil {
			return driver.Version{}, fmt.Errorf("encoding the bundle: %w", errNotText)
		}
		if missing {
			token := newToken()
			out, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
				Name: aws.String(d.name), ClientRequestToken: aws.String(token), SecretString: aws.String(string(doc)),
			}, oneAttempt)
			if apiCode(err) == "ResourceExistsException" && ifv == "" {
				continue // created concurrently: merge into it
			}
			if err != nil {
				if apiCode(err) == "ResourceExistsException" {
					return driver.Version{}, &keyError{err: errConflict, secret: d.name, key: key}
				}
				return driver.Version{}, wrapSDK(err)
			}
			return driver.Version{ID: aws.ToString(out.VersionId), Created: time.Now().UTC(), Labels: []string{"AWSCURRENT"}}, nil
		}
		v, err := d.casWrite(ctx, d.name, doc, b.ver.ID)
		if errors.Is(err, errConflict) && ifv == "" {
			continue
		}
		return v, err
	}
	return driver.Version{}, &keyError{err: errContention, secret: d.name, key: key}
}
