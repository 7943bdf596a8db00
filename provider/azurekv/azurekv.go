//go:build !keyward_omit_azurekv

// Package azurekv reads and writes secrets in Azure Key Vault.
//
// Most users name the store by the guide's variables and never import this
// package directly (provider/all links it in):
//
//	SECRET_PROVIDER=azure AZURE_VAULT_URL=https://dharmamind-vault.vault.azure.net/ keyward get JWT_SECRET_KEY
//
// reads the current version of secret "jwt-secret-key", exactly as the
// guide's get_secret does. From Go:
//
//	store, err := keyward.Open(ctx, "azurekv://dharmamind-vault.vault.azure.net")
//	jwt, err := store.Get(ctx, "JWT_SECRET_KEY")
//
// # URLs
//
// azurekv://HOST names the vault https://HOST/ (azurekv://NAME, without a
// dot, is NAME.vault.azure.net). azurekv:// with no host uses
// $AZURE_VAULT_URL. Query parameters:
//
//   - names=guide (default) maps keys as the guide does: JWT_SECRET_KEY →
//     jwt-secret-key (lower-case, "_" → "-"). names=exact uses keys unchanged.
//   - endpoint=URL sends requests to another base URL (an emulator or the
//     in-process test server). An http:// endpoint must be a loopback host
//     (127.0.0.1, ::1, localhost); it is then an emulator endpoint and gets a
//     fixed dummy token, never a real credential. An https:// endpoint gets
//     the real credential with Key Vault's challenge-resource check on.
//     $KEYWARD_AZUREKV_ENDPOINT sets the endpoint when the URL has none.
//
// Credentials never go in the URL: the client uses azidentity's
// DefaultAzureCredential (environment service principal, workload identity,
// managed identity, Azure CLI, …), created on first use.
//
// # Names
//
// Key Vault names are letters, digits and "-", compared without regard to
// case. In names=guide mode a key maps to a name by lower-casing it and
// turning "_" into "-"; List reports names in environment-variable form
// (jwt-secret-key → JWT_SECRET_KEY), which maps back to the same secret.
// The mapping is lossy (JWT_SECRET_KEY, jwt_secret_key and jwt-secret-key
// are one secret), which is what the guide's configuration needs.
//
// # Versions
//
// Version ids are Key Vault's 32-hex version ids; "" is the current version.
// Version.Disabled reports enabled=false, and reading a disabled version
// (also the current one) fails with FailedPrecondition, as Key Vault answers
// 403 SecretDisabled. Put adds a version (SetSecret) and never changes an
// existing one. Key Vault has no conditional set, so check-and-set cannot be
// atomic: Put refuses IfVersion with Unimplemented (nothing is written;
// `keyward set --if-version` exits 7) rather than let a concurrent write be
// silently overwritten, unless PutOptions.BestEffortCheck accepts a check
// made just before the write (keyward's rotation does, and documents it). History is ordered by
// creation time; Key Vault records it in whole seconds, so when the newest
// versions share a second the current one is asked for and put last.
// Delete is Key Vault's delete, a soft delete when the vault has soft delete
// on (the default): the name stays reserved, and writes to it fail with
// FailedPrecondition, until the secret is purged or recovered (az keyvault
// secret purge / recover). PutOptions.Meta is not stored.
//
// Key Vault values are text: Put refuses values that are not valid UTF-8
// with InvalidArgument rather than corrupt them.
//
// # Errors
//
// 404 is NotFound; 401 and 403 are PermissionDenied (403 SecretDisabled is
// FailedPrecondition); 400 is InvalidArgument; 409 (a soft-deleted name) is
// FailedPrecondition; 408, 429 and 5xx, refused connections and truncated
// responses are Unavailable, with the server's Retry-After honoured by the
// Store. The SDK's own retry policy is turned off so the Store's bounded,
// jittered retries are the only ones.
//
// # Constructors
//
// As in every provider package: OpenURL opens an azurekv://HOST URL and is
// the opener registered on keyward.DefaultURLMux (keyward.Open uses it);
// NewDriver(host, opts) returns the driver for the vault and
// OpenStore(host, opts, storeOpts) the keyward.Store over it.
//
// # As
//
// Store.As accepts **azsecrets.Client (created on first use). Store.ErrorAs
// reaches *azcore.ResponseError.
package azurekv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/internal/cloudsm"
)

// Scheme is the URL scheme azurekv registers.
const Scheme = "azurekv"

func init() {
	keyward.DefaultURLMux().Register(Scheme, keyward.OpenerFunc(OpenURL))
}

// OpenURL opens a driver for an azurekv:// URL (see # URLs) with the
// variables of the process environment; it is the opener registered on
// keyward.DefaultURLMux. The form is gcpsm's: the vault host (from
// $AZURE_VAULT_URL for azurekv://), names= and endpoint=
// ($KEYWARD_AZUREKV_ENDPOINT).
func OpenURL(ctx context.Context, u *url.URL) (driver.Store, error) {
	return urlForm.Open(u, os.Getenv)
}

var urlForm = &cloudsm.URLForm{Scheme: Scheme, EndpointEnv: "KEYWARD_AZUREKV_ENDPOINT", Locate: hostOf,
	New: func(host string, q cloudsm.Query) (driver.Store, error) {
		return NewDriver(host, &Options{Endpoint: q.Endpoint, ExactNames: q.ExactNames})
	}}

// hostOf is the vault host an azurekv:// URL names: azurekv://HOST, or
// azurekv:// for $AZURE_VAULT_URL's host; NAME without a dot is
// NAME.vault.azure.net. op names the operation in errors (open, derive the
// policy).
func hostOf(u *url.URL, getenv func(string) string, op string) (string, error) {
	if strings.Trim(u.Path, "/") != "" {
		return "", keyward.Errorf(keyward.InvalidArgument, op, "azurekv URL must be azurekv://NAME.vault.azure.net (no path)")
	}
	host := u.Host
	if host == "" {
		raw, err := cloudsm.FromEnv(Scheme, "vault", "AZURE_VAULT_URL", getenv, op)
		if err != nil {
			return "", err
		}
		vu, err := url.Parse(raw)
		if err != nil || vu.Host == "" {
			return "", keyward.Errorf(keyward.InvalidArgument, op, "AZURE_VAULT_URL is not a URL like https://NAME.vault.azure.net/")
		}
		host = vu.Host
	}
	if !hostRe.MatchString(host) {
		return "", keyward.Errorf(keyward.InvalidArgument, op, "azurekv: %q is not a vault host like NAME.vault.azure.net", host)
	}
	if !strings.Contains(host, ".") {
		host += ".vault.azure.net"
	}
	return host, nil
}

// Options configure a driver.
type Options struct {
	// Endpoint overrides the base URL requests go to (see the package doc
	// for the loopback rule).
	Endpoint string
	// ExactNames uses keys as secret names unchanged.
	ExactNames bool
	// Credential replaces DefaultAzureCredential (not used for loopback
	// http:// endpoints, which get a dummy token).
	Credential azcore.TokenCredential
	// Transport replaces the HTTP client (tests).
	Transport policy.Transporter
}

var hostRe = regexp.MustCompile(`^[a-zA-Z0-9.-]+(:[0-9]+)?$`)

// NewDriver returns a driver for the vault at host (NAME.vault.azure.net,
// or NAME). No network call or credential lookup happens until the first
// operation.
func NewDriver(host string, opts *Options) (driver.Store, error) {
	if !hostRe.MatchString(host) {
		return nil, keyward.Errorf(keyward.InvalidArgument, "open", "azurekv: %q is not a vault host like NAME.vault.azure.net", host)
	}
	if !strings.Contains(host, ".") {
		host += ".vault.azure.net"
	}
	d := &store{vaultURL: "https://" + host + "/"}
	if opts != nil {
		d.opts = *opts
	}
	if e := d.opts.Endpoint; e != "" {
		eu, err := url.Parse(e)
		if err != nil || eu.Host == "" || (eu.Path != "" && eu.Path != "/") || eu.RawQuery != "" || eu.User != nil {
			return nil, keyward.Errorf(keyward.InvalidArgument, "open", "azurekv: endpoint must be a base URL like http://127.0.0.1:8443 or https://HOST")
		}
		switch eu.Scheme {
		case "https":
			d.baseURL = "https://" + eu.Host + "/"
		case "http":
			if !cloudsm.Loopback(eu.Hostname()) {
				return nil, keyward.Errorf(keyward.InvalidArgument, "open", "azurekv: refusing plaintext endpoint %s: only loopback endpoints may use http://", eu.Host)
			}
			// The SDK refuses to send a token over http://; requests are
			// built for https:// and the emulator transport sends them in
			// plaintext to this loopback host only.
			d.baseURL = "https://" + eu.Host + "/"
			d.emulator = true
		default:
			return nil, keyward.Errorf(keyward.InvalidArgument, "open", "azurekv: endpoint scheme must be http (loopback only) or https")
		}
	} else {
		d.baseURL = d.vaultURL
	}
	return d, nil
}

// OpenStore is NewDriver wrapped in a keyward.Store.
func OpenStore(host string, opts *Options, sopts *keyward.StoreOptions) (*keyward.Store, error) {
	d, err := NewDriver(host, opts)
	if err != nil {
		return nil, err
	}
	return keyward.NewStore(d, sopts), nil
}

type store struct {
	vaultURL string // the vault the URL names
	baseURL  string // where requests go (the vault, or an endpoint override)
	emulator bool   // loopback http endpoint: dummy token, no real credential
	opts     Options

	client cloudsm.Client[azsecrets.Client]
}

var (
	_ driver.Lister    = (*store)(nil)
	_ driver.Writer    = (*store)(nil)
	_ driver.Deleter   = (*store)(nil)
	_ driver.Versioner = (*store)(nil)
	_ driver.As        = (*store)(nil)
)

var (
	errClosed   = errors.New("azurekv: store is closed")
	errConflict = errors.New("azurekv: check-and-set conflict: the current version is not the expected one")
	errExists   = errors.New("azurekv: the secret already exists")
	errNoCAS    = errors.New("azurekv: check-and-set (--if-version) is not supported: Key Vault has no conditional write, " +
		"so a concurrent write could be silently overwritten; nothing was written")
	errNotText = errors.New("azurekv: Key Vault holds text; the value is not valid UTF-8")
)

type invalidKeyError struct{ key string }

func (e *invalidKeyError) Error() string {
	return fmt.Sprintf("azurekv: %q cannot be a Key Vault secret name (letters, digits and - only, at most 127)", e.key)
}

type credError struct{ err error }

func (e *credError) Error() string { return "azurekv: failed to set up credentials: " + e.err.Error() }
func (e *credError) Unwrap() error { return e.err }

// emulatorCredential is the dummy token sent to loopback http endpoints.
type emulatorCredential struct{}

func (emulatorCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "keyward-emulator-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// emulatorTransport sends the SDK's https:// requests to a loopback
// emulator in plaintext. It refuses any other host, so a request can never
// leave the machine unencrypted.
type emulatorTransport struct {
	host string
	next policy.Transporter
}

var plainClient = &http.Client{}

func (t *emulatorTransport) Do(req *http.Request) (*http.Response, error) {
	if req.URL.Host != t.host || !cloudsm.Loopback(req.URL.Hostname()) {
		return nil, fmt.Errorf("azurekv: emulator transport refuses a request to %s (only %s)", req.URL.Host, t.host)
	}
	r := req.Clone(req.Context())
	r.URL.Scheme = "http"
	if t.next != nil {
		return t.next.Do(r)
	}
	return plainClient.Do(r)
}

func (d *store) getClient() (*azsecrets.Client, error) {
	return d.client.Get(func() (*azsecrets.Client, error) {
		co := &azsecrets.ClientOptions{}
		// The Store retries (bounded, jittered, Unavailable only, honouring
		// Retry-After); the SDK's retries would multiply them.
		co.Retry.MaxRetries = -1
		co.Transport = d.opts.Transport
		var cred azcore.TokenCredential
		switch {
		case d.emulator:
			cred = emulatorCredential{}
			co.DisableChallengeResourceVerification = true
			co.Transport = &emulatorTransport{host: strings.TrimSuffix(strings.TrimPrefix(d.baseURL, "https://"), "/"), next: d.opts.Transport}
		case d.opts.Credential != nil:
			cred = d.opts.Credential
		default:
			c, err := azidentity.NewDefaultAzureCredential(nil)
			if err != nil {
				return nil, &credError{err}
			}
			cred = c
		}
		c, err := azsecrets.NewClient(d.baseURL, cred, co)
		if err != nil {
			return nil, &credError{err}
		}
		return c, nil
	}, errClosed)
}

var nameRe = regexp.MustCompile(`^[0-9a-zA-Z-]{1,127}$`)

func (d *store) name(key string) (string, error) {
	n := key
	if !d.opts.ExactNames {
		n = cloudsm.GuideName(key)
	}
	if !nameRe.MatchString(n) {
		return "", &invalidKeyError{key}
	}
	return n, nil
}

func (d *store) Get(ctx context.Context, key, ver string) (*driver.Value, error) {
	name, err := d.name(key)
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(ver, "/?#") {
		return nil, &invalidKeyError{ver}
	}
	c, err := d.getClient()
	if err != nil {
		return nil, err
	}
	resp, err := c.GetSecret(ctx, name, ver, nil)
	if err != nil {
		return nil, wrap(ctx, err)
	}
	if resp.Value == nil {
		return nil, wrap(ctx, io.ErrUnexpectedEOF)
	}
	v := &driver.Value{Data: []byte(*resp.Value)}
	if resp.ID != nil {
		v.Version.ID = resp.ID.Version()
	}
	if a := resp.Attributes; a != nil && a.Created != nil {
		v.Version.Created = *a.Created
	}
	return v, nil
}

func (d *store) List(ctx context.Context) ([]driver.KeyInfo, error) {
	c, err := d.getClient()
	if err != nil {
		return nil, err
	}
	var out []driver.KeyInfo
	pager := c.NewListSecretPropertiesPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, wrap(ctx, err)
		}
		for _, p := range page.Value {
			if p == nil || p.ID == nil {
				continue
			}
			if p.Managed != nil && *p.Managed {
				continue // certificate-backed secrets are not keyward's to list
			}
			n := p.ID.Name()
			if !d.opts.ExactNames {
				// Key Vault names compare without regard to case.
				n = cloudsm.KeyName(strings.ToLower(n))
			}
			ki := driver.KeyInfo{Key: n}
			if a := p.Attributes; a != nil && a.Updated != nil {
				ki.Updated = *a.Updated
			}
			out = append(out, ki)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func (d *store) Put(ctx context.Context, key string, data []byte, opts *driver.PutOptions) (driver.Version, error) {
	name, err := d.name(key)
	if err != nil {
		return driver.Version{}, err
	}
	if !utf8.Valid(data) {
		return driver.Version{}, errNotText
	}
	c, err := d.getClient()
	if err != nil {
		return driver.Version{}, err
	}
	if opts != nil && opts.IfVersion != "" {
		if !opts.BestEffortCheck {
			return driver.Version{}, errNoCAS
		}
		if err := d.checkVersion(ctx, c, name, opts.IfVersion); err != nil {
			return driver.Version{}, err
		}
	}
	val := string(data)
	resp, err := c.SetSecret(ctx, name, azsecrets.SetSecretParameters{Value: &val}, nil)
	if err != nil {
		return driver.Version{}, wrap(ctx, err)
	}
	v := driver.Version{}
	if resp.ID != nil {
		v.ID = resp.ID.Version()
	}
	if a := resp.Attributes; a != nil && a.Created != nil {
		v.Created = *a.Created
	}
	return v, nil
}

// checkVersion is Put's IfVersion check: best effort, not atomic.
func (d *store) checkVersion(ctx context.Context, c *azsecrets.Client, name, want string) error {
	cur := "0"
	resp, err := c.GetSecret(ctx, name, "", nil)
	switch {
	case err != nil && statusOf(err) == http.StatusNotFound:
	case err != nil:
		return wrap(ctx, err)
	case resp.ID != nil:
		cur = resp.ID.Version()
	}
	if strings.EqualFold(cur, want) {
		return nil
	}
	if want == "0" {
		return errExists
	}
	return errConflict
}

func (d *store) Versions(ctx context.Context, key string) ([]driver.Version, error) {
	name, err := d.name(key)
	if err != nil {
		return nil, err
	}
	c, err := d.getClient()
	if err != nil {
		return nil, err
	}
	var out []driver.Version
	pager := c.NewListSecretPropertiesVersionsPager(name, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, wrap(ctx, err)
		}
		for _, p := range page.Value {
			if p == nil || p.ID == nil {
				continue
			}
			v := driver.Version{ID: p.ID.Version()}
			if a := p.Attributes; a != nil {
				if a.Created != nil {
					v.Created = *a.Created
				}
				if a.Enabled != nil && !*a.Enabled {
					v.Disabled = true
				}
			}
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return nil, &respError{status: http.StatusNotFound, code: "SecretNotFound", msg: "no versions"}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	// Creation times are whole seconds: when the newest share one, ask
	// which is current and put it last.
	if n := len(out); n > 1 && out[n-1].Created.Equal(out[n-2].Created) {
		if resp, err := c.GetSecret(ctx, name, "", nil); err == nil && resp.ID != nil {
			cur := resp.ID.Version()
			for i := range out {
				if out[i].ID == cur {
					v := out[i]
					out = append(append(out[:i:i], out[i+1:]...), v)
					break
				}
			}
		}
	}
	out[len(out)-1].Labels = []string{"current"}
	return out, nil
}

func (d *store) Delete(ctx context.Context, key string) error {
	name, err := d.name(key)
	if err != nil {
		return err
	}
	c, err := d.getClient()
	if err != nil {
		return err
	}
	_, err = c.DeleteSecret(ctx, name, nil)
	return wrap(ctx, err)
}

// respError is a Key Vault error response, summarized: status, code, inner
// code and message (never the request body, never a token).
type respError struct {
	status     int
	code       string
	inner      string
	msg        string
	retryAfter time.Duration
	err        error
}

func (e *respError) Error() string {
	s := "azurekv: key vault answered " + strconv.Itoa(e.status)
	if e.code != "" {
		s += " " + e.code
	}
	if e.inner != "" {
		s += " (" + e.inner + ")"
	}
	if e.msg != "" {
		s += ": " + e.msg
	}
	return s
}
func (e *respError) Unwrap() error             { return e.err }
func (e *respError) RetryAfter() time.Duration { return e.retryAfter }

// transportError is a failure below HTTP: refused, reset, truncated.
type transportError struct{ err error }

func (e *transportError) Error() string { return "azurekv: " + e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

func wrap(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cerr := cloudsm.ContextError(ctx, err); cerr != nil {
		return cerr
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		e := &respError{status: re.StatusCode, code: re.ErrorCode, err: err}
		if re.RawResponse != nil {
			if body, berr := runtime.Payload(re.RawResponse); berr == nil {
				var eb struct {
					Error struct {
						Message    string `json:"message"`
						InnerError struct {
							Code string `json:"code"`
						} `json:"innererror"`
					} `json:"error"`
				}
				if jerr := json.Unmarshal(body, &eb); jerr == nil {
					e.msg = eb.Error.Message
					e.inner = eb.Error.InnerError.Code
				}
			}
			e.retryAfter = cloudsm.RetryAfter(re.RawResponse.Header.Get("Retry-After"))
		}
		return e
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		strings.Contains(err.Error(), "unexpected end of JSON input") {
		return &transportError{err}
	}
	return err
}

func statusOf(err error) int {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

func (d *store) ErrorCode(err error) driver.Code {
	var ike *invalidKeyError
	var ce *credError
	var re *respError
	var te *transportError
	switch {
	case err == nil:
		return driver.OK
	case errors.As(err, &ike), errors.Is(err, errNotText):
		return driver.InvalidArgument
	case errors.Is(err, errNoCAS):
		return driver.Unimplemented
	case errors.Is(err, errConflict), errors.Is(err, errClosed):
		return driver.FailedPrecondition
	case errors.Is(err, errExists):
		return driver.AlreadyExists
	case errors.Is(err, context.Canceled):
		return driver.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return driver.DeadlineExceeded
	case errors.As(err, &ce):
		return driver.PermissionDenied
	case errors.As(err, &te):
		return driver.Unavailable
	case errors.As(err, &re):
		return codeOf(re)
	}
	var azre *azcore.ResponseError
	if errors.As(err, &azre) {
		return codeOf(&respError{status: azre.StatusCode, code: azre.ErrorCode})
	}
	var afe *azidentity.AuthenticationFailedError
	var cue *azidentity.AuthenticationRequiredError
	if errors.As(err, &afe) || errors.As(err, &cue) || strings.Contains(strings.ToLower(err.Error()), "credential") {
		return driver.PermissionDenied
	}
	return driver.Unknown
}

func codeOf(e *respError) driver.Code {
	switch s := e.status; {
	case s == http.StatusNotFound:
		return driver.NotFound
	case s == http.StatusForbidden && e.inner == "SecretDisabled":
		return driver.FailedPrecondition
	case s == http.StatusUnauthorized, s == http.StatusForbidden:
		return driver.PermissionDenied
	case s == http.StatusConflict:
		return driver.FailedPrecondition
	case s == http.StatusBadRequest:
		return driver.InvalidArgument
	case s == http.StatusRequestTimeout, s == http.StatusTooManyRequests, s >= 500:
		return driver.Unavailable
	}
	return driver.Unknown
}

func (d *store) As(i any) bool { return cloudsm.As(i, d.getClient) }

func (d *store) Close() error { return d.client.Close(nil) }
