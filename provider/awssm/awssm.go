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
// # Constructors
//
// As in every provider package: OpenURL opens an awssm://NAME URL and is the
// opener registered on keyward.DefaultURLMux (keyward.Open uses it);
// NewDriver(name, opts) returns the bundle driver, or with Options.Mode
// ModeKeys the per-key driver (two types sharing the client and the error
// mapping), and OpenStore(name, opts, storeOpts) the keyward.Store over it.
//
// # As
//
// Store.As accepts **secretsmanager.Client. Store.ErrorAs reaches the SDK's
// errors (smithy.APIError, *types.ResourceNotFoundException, ...).
package awssm

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"math/big"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go/logging"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/internal/cloudsm"
)

// Scheme is the URL scheme awssm registers.
const Scheme = "awssm"

// defaultRegion is used when neither the URL nor the SDK's chain names a
// region; it is the region the guide's code hard-codes.
const defaultRegion = "us-east-1"

// pendingLabel is the staging label a write holds before it becomes
// AWSCURRENT.
const pendingLabel = "keyward-pending"

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
	keyward.DefaultURLMux().Register(Scheme, keyward.OpenerFunc(OpenURL))
}

// OpenURL opens a driver for an awssm:// URL (see # URLs); it is the
// opener registered on keyward.DefaultURLMux.
func OpenURL(ctx context.Context, u *url.URL) (driver.Store, error) {
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
// (keys mode) name: the bundle driver or the per-key driver, which share
// the client and the error mapping. Credentials are loaded on first use.
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
	if o.Mode == ModeKeys {
		return &keysDriver{conn: conn{opts: o, client: o.Client}, prefix: name}, nil
	}
	return &bundleDriver{conn: conn{opts: o, client: o.Client}, name: name}, nil
}

// OpenStore is NewDriver wrapped in a keyward.Store.
func OpenStore(name string, opts *Options, sopts *keyward.StoreOptions) (*keyward.Store, error) {
	d, err := NewDriver(name, opts)
	if err != nil {
		return nil, err
	}
	return keyward.NewStore(d, sopts), nil
}

// abilities are what both drivers have; only the per-key driver is also a
// driver.Rotator (rotation_keys.go).
type abilities interface {
	driver.Lister
	driver.Writer
	driver.Deleter
	driver.Versioner
	driver.BatchGetter
	driver.ChangeStamper
	driver.RotationLayouter
	driver.As
}

var (
	_ abilities = (*bundleDriver)(nil)
	_ abilities = (*keysDriver)(nil)
)

// conn is what the bundle and per-key drivers share: the options, the
// client (built on first use), the calls on one secret both make, and
// ErrorCode, As and Close.
type conn struct {
	opts Options

	mu     sync.Mutex
	client *secretsmanager.Client
}

// oneAttempt makes every call a single attempt: keyward.Store retries.
func oneAttempt(o *secretsmanager.Options) { o.RetryMaxAttempts = 1 }

func (d *conn) api(ctx context.Context) (*secretsmanager.Client, error) {
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
		cfg.Region = defaultRegion
	}
	d.client = secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		o.RetryMaxAttempts = 1
		if d.opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(d.opts.Endpoint)
		}
	})
	return d.client, nil
}

// ErrorCode maps the service's errors to keyward codes.
func (d *conn) ErrorCode(err error) driver.Code {
	return errorCode(err)
}

// As implements driver.As: **secretsmanager.Client.
func (d *conn) As(i any) bool {
	return cloudsm.As(i, func() (*secretsmanager.Client, error) { return d.api(context.Background()) })
}

func (d *conn) Close() error { return nil }

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

func (d *conn) getSecret(ctx context.Context, name, version string) (*secretVal, error) {
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

// stageMap is a secret's staging labels: version id → stages.
type stageMap map[string][]string

// holder returns the version carrying stage, "" if none.
func (m stageMap) holder(stage string) string {
	for id, stages := range m {
		for _, s := range stages {
			if s == stage {
				return id
			}
		}
	}
	return ""
}

// stages reads name's staging labels with DescribeSecret (metadata, no
// value); a secret scheduled for deletion is not found.
func (d *conn) stages(ctx context.Context, name string) (stageMap, error) {
	c, err := d.api(ctx)
	if err != nil {
		return nil, err
	}
	out, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)}, oneAttempt)
	if err != nil {
		return nil, wrapSDK(err)
	}
	if out.DeletedDate != nil {
		return nil, &keyError{err: errNotFound, secret: name}
	}
	return stageMap(out.VersionIdsToStages), nil
}

// ifVersion is a Put's expected version ("" for none, "0" for absent).
func ifVersion(opts *driver.PutOptions) string {
	if opts == nil {
		return ""
	}
	return opts.IfVersion
}

func secretInput(data []byte) (*string, []byte) {
	if utf8.Valid(data) {
		return aws.String(string(data)), nil
	}
	return nil, data
}

// casWrite writes data as a new version of name and makes it AWSCURRENT only
// if AWSCURRENT is still on version from. It returns errConflict otherwise.
func (d *conn) casWrite(ctx context.Context, name string, data []byte, from string) (driver.Version, error) {
	c, err := d.api(ctx)
	if err != nil {
		return driver.Version{}, err
	}
	token := newToken()
	str, bin := secretInput(data)
	if _, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(name), ClientRequestToken: aws.String(token),
		SecretString: str, SecretBinary: bin, VersionStages: []string{pendingLabel},
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
			SecretId: aws.String(name), VersionStage: aws.String(pendingLabel), RemoveFromVersionId: aws.String(token),
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

func (d *conn) versions(ctx context.Context, name string) ([]driver.Version, error) {
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
