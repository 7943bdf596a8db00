//go:build !keyward_omit_vault

package vault

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/api/auth/approle"
	"github.com/hashicorp/vault/api/auth/kubernetes"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/internal/fsutil"
)

// kvDriver is the vault driver (KV v1 and v2). Users hold a keyward.Store over it.
type kvDriver struct {
	c      *api.Client
	o      Options
	getenv func(string) string
	now    func() time.Time

	authMu    sync.Mutex
	method    string // resolved auth method
	token     string
	ttl       time.Duration
	expires   time.Time // zero: unknown or never
	renewable bool

	secMu   sync.Mutex
	secrets []string // credentials to scrub from error text

	mountMu sync.Mutex
	tgt     *target

	v1Mu sync.Mutex // serialises read-modify-write on KV v1 (no check-and-set)
}

// target is the resolved KV location.
type target struct {
	mount   string // "dharmamind/" ("" when Vault predates mount detection)
	version int    // 1 or 2
	sub     string // path inside the mount
}

// NewDriver returns a driver for the KV secret (bundle layout) or folder
// (keys layout) o names; the server, the path and every other choice are
// in Options. It does not contact Vault: login and mount detection happen
// on first use.
func NewDriver(o *Options) (driver.Store, error) {
	d, err := newDriver(o)
	if err != nil {
		return nil, err
	}
	if d.o.KVVersion == 1 {
		return &kv1Driver{d}, nil
	}
	return d, nil
}

// OpenStore is NewDriver wrapped in a keyward.Store.
func OpenStore(o *Options, sopts *keyward.StoreOptions) (*keyward.Store, error) {
	d, err := NewDriver(o)
	if err != nil {
		return nil, err
	}
	return keyward.NewStore(d, sopts), nil
}

// Open is NewDriver; ctx is not used.
//
// Deprecated: use NewDriver, the constructor every provider package has.
func Open(ctx context.Context, o *Options) (driver.Store, error) { return NewDriver(o) }

// kv1Driver hides Versioner for stores known to be KV v1.
type kv1Driver struct{ d *kvDriver }

func (k *kv1Driver) Get(ctx context.Context, key, version string) (*driver.Value, error) {
	return k.d.Get(ctx, key, version)
}
func (k *kv1Driver) GetMany(ctx context.Context, keys []string) (map[string]*driver.Value, error) {
	return k.d.GetMany(ctx, keys)
}
func (k *kv1Driver) List(ctx context.Context) ([]driver.KeyInfo, error) { return k.d.List(ctx) }
func (k *kv1Driver) Put(ctx context.Context, key string, data []byte, opts *driver.PutOptions) (driver.Version, error) {
	return k.d.Put(ctx, key, data, opts)
}
func (k *kv1Driver) Delete(ctx context.Context, key string) error { return k.d.Delete(ctx, key) }
func (k *kv1Driver) ErrorCode(err error) driver.Code              { return k.d.ErrorCode(err) }
func (k *kv1Driver) Close() error                                 { return k.d.Close() }
func (k *kv1Driver) As(i any) bool                                { return k.d.As(i) }

var (
	_ driver.Lister      = (*kvDriver)(nil)
	_ driver.Writer      = (*kvDriver)(nil)
	_ driver.Deleter     = (*kvDriver)(nil)
	_ driver.Versioner   = (*kvDriver)(nil)
	_ driver.BatchGetter = (*kvDriver)(nil)
	_ driver.As          = (*kvDriver)(nil)
	_ driver.BatchGetter = (*kv1Driver)(nil)
)

func newDriver(in *Options) (*kvDriver, error) {
	o := Options{}
	if in != nil {
		o = *in
	}
	d := &kvDriver{o: o, getenv: o.Getenv, now: o.Now}
	if d.getenv == nil {
		d.getenv = os.Getenv
	}
	if d.now == nil {
		d.now = time.Now
	}
	bad := func(format string, args ...any) error {
		return keyward.Errorf(keyward.InvalidArgument, "open", "vault: "+format, args...)
	}
	switch d.o.Layout {
	case "":
		d.o.Layout = LayoutBundle
	case LayoutBundle, LayoutKeys:
	default:
		return nil, bad("layout= must be bundle or keys")
	}
	switch d.o.Auth {
	case "", AuthToken, AuthAppRole, AuthKubernetes:
	default:
		return nil, bad("auth= must be token, approle or kubernetes")
	}
	d.o.Path = strings.Trim(d.o.Path, "/")
	d.o.Mount = strings.Trim(d.o.Mount, "/")
	if d.o.Path == "" && (d.o.Layout == LayoutBundle || d.o.Mount == "") {
		return nil, bad("the URL names no secret path (vault:///PATH, or VAULT_PATH with SECRET_PROVIDER=vault)")
	}

	cfg := api.DefaultConfig() // reads VAULT_ADDR and the TLS variables
	if cfg.Error != nil {
		return nil, bad("client configuration from the VAULT_* variables: %v", cfg.Error)
	}
	if d.o.Address == "" {
		d.o.Address = strings.TrimSpace(d.getenv("VAULT_ADDR"))
		if d.o.Address == "" {
			return nil, bad("vault:///PATH needs VAULT_ADDR to be set (or name the server: vault://HOST:PORT/PATH)")
		}
	}
	au, err := url.Parse(d.o.Address)
	if err != nil || au.Host == "" || (au.Scheme != "http" && au.Scheme != "https") {
		return nil, bad("the server address is not an http(s) URL")
	}
	cfg.Address = d.o.Address
	if d.o.InsecureSkipVerify {
		if err := cfg.ConfigureTLS(&api.TLSConfig{Insecure: true}); err != nil {
			return nil, bad("tls: %v", err)
		}
	}
	// keyward.Store retries; the api client must not retry underneath it.
	cfg.MaxRetries = 0
	tr, ok := cfg.HttpClient.Transport.(*http.Transport)
	if !ok {
		return nil, bad("unexpected http transport %T", cfg.HttpClient.Transport)
	}
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	// The api client follows a 301/302/307 by itself, to any host, with the
	// X-Vault-Token header. Refuse to send anything to a host other than
	// the configured one.
	cfg.HttpClient.Transport = &sameHostTransport{base: tr, scheme: au.Scheme, host: au.Host}
	cfg.HttpClient.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c, err := api.NewClient(cfg)
	if err != nil {
		return nil, bad("client: %v", err)
	}
	c.ClearToken() // NewClient read VAULT_TOKEN from the process; tokens are ours to manage
	if d.o.Namespace == "" {
		d.o.Namespace = d.getenv("VAULT_NAMESPACE")
	}
	if d.o.Namespace != "" {
		c.SetNamespace(d.o.Namespace)
	} else {
		c.ClearNamespace()
	}
	d.c = c
	return d, nil
}

// errCrossHost is returned when a request would go to another host.
var errCrossHost = errors.New("vault redirected the request to another host; keyward does not send the token there (point VAULT_ADDR at the active node)")

type sameHostTransport struct {
	base         http.RoundTripper
	scheme, host string
}

func (t *sameHostTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme != t.scheme || !strings.EqualFold(r.URL.Host, t.host) {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return nil, errCrossHost
	}
	return t.base.RoundTrip(r)
}

// ---- auth ----

func (d *kvDriver) authMethod() string {
	if d.o.Auth != "" {
		return d.o.Auth
	}
	switch {
	case d.o.Token != "" || d.getenv("VAULT_TOKEN") != "" || d.getenv("VAULT_TOKEN_FILE") != "":
		return AuthToken
	case d.getenv("VAULT_ROLE_ID") != "":
		return AuthAppRole
	case d.getenv("VAULT_K8S_ROLE") != "":
		return AuthKubernetes
	}
	return AuthToken
}

// ensureToken returns a usable token, logging in or renewing as needed.
func (d *kvDriver) ensureToken(ctx context.Context) (string, error) {
	d.authMu.Lock()
	defer d.authMu.Unlock()
	if d.token != "" {
		if d.expires.IsZero() {
			return d.token, nil
		}
		now := d.now()
		left := d.expires.Sub(now)
		if left > d.ttl/3 {
			return d.token, nil
		}
		if left > 0 && d.renewable {
			if err := d.renewLocked(ctx); err == nil {
				return d.token, nil
			}
		}
		if left > 0 && d.method == AuthToken {
			return d.token, nil // cannot log in again; use it while it lasts
		}
		d.token = ""
	}
	if err := d.loginLocked(ctx); err != nil {
		return "", err
	}
	return d.token, nil
}

// invalidate drops token if it is still the current one (after a 403).
func (d *kvDriver) invalidate(token string) {
	d.authMu.Lock()
	if d.token == token {
		d.token = ""
		d.expires = time.Time{}
	}
	d.authMu.Unlock()
}

func (d *kvDriver) addSecret(s string) {
	if len(s) >= 4 {
		d.secMu.Lock()
		d.secrets = append(d.secrets, s)
		d.secMu.Unlock()
	}
}

func (d *kvDriver) loginLocked(ctx context.Context) error {
	d.method = d.authMethod()
	switch d.method {
	case AuthToken:
		tok, err := d.staticToken()
		if err != nil {
			return err
		}
		d.addSecret(tok)
		d.token, d.ttl, d.expires, d.renewable = tok, 0, time.Time{}, false
		d.c.SetToken(tok)
		// Learn the TTL so the token can be renewed; a token whose policy
		// does not allow lookup-self is used as it is.
		sec, err := d.raw(ctx, http.MethodGet, "auth/token/lookup-self", nil, nil, nil, tok)
		if err != nil {
			if d.ErrorCode(err) == driver.PermissionDenied {
				return nil
			}
			d.token = ""
			return err
		}
		if sec != nil {
			ttl, _ := sec.TokenTTL()
			ren, _ := sec.TokenIsRenewable()
			if ttl > 0 {
				d.ttl, d.expires, d.renewable = ttl, d.now().Add(ttl), ren
			}
		}
		return nil
	case AuthAppRole, AuthKubernetes:
		m, err := d.loginMethod()
		if err != nil {
			return err
		}
		lc, err := d.c.Clone()
		if err != nil {
			return authErr("login", err)
		}
		lc.ClearToken()
		if d.o.Namespace != "" {
			lc.SetNamespace(d.o.Namespace)
		} else {
			lc.ClearNamespace()
		}
		sec, err := m.Login(ctx, lc)
		if err != nil {
			e := d.wrap("log in with "+d.method, "auth/"+d.authMount()+"/login", nil, err)
			var ve *Error
			if errors.As(e, &ve) && ve.Status == http.StatusBadRequest {
				ve.code = driver.PermissionDenied // "invalid role or secret ID"
			}
			return e
		}
		if sec == nil || sec.Auth == nil || sec.Auth.ClientToken == "" {
			return authErr("log in with "+d.method, errors.New("vault returned no token"))
		}
		d.addSecret(sec.Auth.ClientToken)
		d.token = sec.Auth.ClientToken
		d.c.SetToken(d.token)
		d.ttl = time.Duration(sec.Auth.LeaseDuration) * time.Second
		d.renewable = sec.Auth.Renewable
		d.expires = time.Time{}
		if d.ttl > 0 {
			d.expires = d.now().Add(d.ttl)
		}
		return nil
	}
	return authErr("log in", fmt.Errorf("unknown auth method %q", d.method))
}

func (d *kvDriver) authMount() string {
	if d.o.AuthMount != "" {
		return strings.Trim(d.o.AuthMount, "/")
	}
	return d.method
}

func (d *kvDriver) loginMethod() (api.AuthMethod, error) {
	mount := d.authMount()
	switch d.method {
	case AuthAppRole:
		role := strings.TrimSpace(d.getenv("VAULT_ROLE_ID"))
		if role == "" {
			return nil, authErr("log in with approle", errors.New("VAULT_ROLE_ID is not set"))
		}
		var sid approle.SecretID
		if s := d.getenv("VAULT_SECRET_ID"); s != "" {
			sid.FromString = strings.TrimSpace(s)
			d.addSecret(sid.FromString)
		} else if f := d.getenv("VAULT_SECRET_ID_FILE"); f != "" {
			sid.FromFile = f
		} else {
			return nil, authErr("log in with approle", errors.New("neither VAULT_SECRET_ID nor VAULT_SECRET_ID_FILE is set"))
		}
		m, err := approle.NewAppRoleAuth(role, &sid, approle.WithMountPath(mount))
		if err != nil {
			return nil, authErr("log in with approle", err)
		}
		return m, nil
	case AuthKubernetes:
		role := strings.TrimSpace(d.getenv("VAULT_K8S_ROLE"))
		if role == "" {
			return nil, authErr("log in with kubernetes", errors.New("VAULT_K8S_ROLE is not set"))
		}
		p := d.getenv("VAULT_K8S_TOKEN_PATH")
		if p == "" {
			p = defaultK8sTokenPath
		}
		m, err := kubernetes.NewKubernetesAuth(role, kubernetes.WithServiceAccountTokenPath(p), kubernetes.WithMountPath(mount))
		if err != nil {
			return nil, authErr("log in with kubernetes", err)
		}
		return m, nil
	}
	return nil, authErr("log in", fmt.Errorf("no login method for %q", d.method))
}

func (d *kvDriver) staticToken() (string, error) {
	if d.o.Token != "" {
		return d.o.Token, nil
	}
	if t := strings.TrimSpace(d.getenv("VAULT_TOKEN")); t != "" {
		return t, nil
	}
	files := []string{d.getenv("VAULT_TOKEN_FILE")}
	if home := d.getenv("HOME"); home != "" {
		files = append(files, filepath.Join(home, ".vault-token"))
	}
	for _, f := range files {
		if f == "" {
			continue
		}
		b, err := fsutil.ReadFile(f, fsutil.MaxIdentityFile)
		if err != nil {
			if f == files[0] {
				var fe *fsutil.Error
				if !errors.As(err, &fe) {
					err = errors.Unwrap(err)
				}
				return "", authErr("read the token", fmt.Errorf("VAULT_TOKEN_FILE: %v", err))
			}
			continue
		}
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, nil
		}
	}
	return "", authErr("find a token", errors.New("no Vault token: set VAULT_TOKEN or VAULT_TOKEN_FILE, log in with `vault login` (~/.vault-token), or use AppRole (VAULT_ROLE_ID and VAULT_SECRET_ID) or Kubernetes auth (VAULT_K8S_ROLE)"))
}

func (d *kvDriver) renewLocked(ctx context.Context) error {
	sec, err := d.raw(ctx, http.MethodPost, "auth/token/renew-self", nil, map[string]any{}, nil, d.token)
	if err != nil {
		return err
	}
	if sec == nil || sec.Auth == nil {
		return errors.New("renew-self returned no auth")
	}
	d.ttl = time.Duration(sec.Auth.LeaseDuration) * time.Second
	d.renewable = sec.Auth.Renewable
	d.expires = d.now().Add(d.ttl)
	return nil
}

func authErr(op string, err error) error {
	return &Error{Op: op, code: driver.PermissionDenied, err: err}
}

// ---- requests ----

// call sends a request with a valid token, re-logging in once on 403.
// scrub lists values (being written) that must never appear in errors.
func (d *kvDriver) call(ctx context.Context, method, path string, query url.Values, body any, scrub []string) (*api.Secret, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		tok, err := d.ensureToken(ctx)
		if err != nil {
			return nil, err
		}
		sec, err := d.raw(ctx, method, path, query, body, scrub, tok)
		var ve *Error
		// A 403 may mean the token expired or was revoked: log in again once.
		// (On mount detection a 403 is Vault's answer "no mount you may use".)
		if attempt == 0 && errors.As(err, &ve) && ve.Status == http.StatusForbidden && ctx.Err() == nil &&
			!strings.HasPrefix(path, "sys/internal/ui/mounts/") {
			d.invalidate(tok)
			d.authMu.Lock()
			canRetry := d.method != AuthToken
			if !canRetry { // a token file may have been refreshed
				if t, terr := d.staticToken(); terr == nil && t != tok {
					canRetry = true
				}
			}
			d.authMu.Unlock()
			if canRetry {
				continue
			}
		}
		if errors.As(err, &ve) && ve.Status == http.StatusForbidden && ctx.Err() == nil &&
			!strings.HasPrefix(path, "sys/internal/ui/mounts/") && !strings.HasPrefix(path, "auth/") {
			ve.diagnosis = d.diagnose403(ctx, tok, ve)
		}
		return sec, err
	}
}

// diagnose403 tells an expired or revoked token from a valid token whose
// policies do not allow the request: Vault answers both with 403
// "permission denied", but only a dead token is also refused its own
// auth/token/lookup-self (which the default policy allows).
func (d *kvDriver) diagnose403(ctx context.Context, tok string, ve *Error) string {
	for _, m := range ve.Messages {
		if strings.Contains(m, "invalid token") {
			return diagTokenDead
		}
	}
	_, err := d.raw(ctx, http.MethodGet, "auth/token/lookup-self", nil, nil, nil, tok)
	var le *Error
	switch {
	case err == nil:
		return diagPolicy
	case errors.As(err, &le) && le.Status == http.StatusForbidden:
		return diagTokenDead
	}
	return ""
}

// raw sends one request with token and parses Vault's envelope. A 204 or
// empty body returns a nil secret.
func (d *kvDriver) raw(ctx context.Context, method, path string, query url.Values, body any, scrub []string, tok string) (*api.Secret, error) {
	r := d.c.NewRequest(method, "/v1/"+path)
	r.ClientToken = tok
	if query != nil {
		r.Params = query
	}
	if body != nil {
		if err := r.SetJSONBody(body); err != nil {
			return nil, &Error{Op: opName(method), Path: path, code: driver.InvalidArgument, err: errors.New("cannot encode the request")}
		}
	}
	//lint:ignore SA1019 raw access to the status and Retry-After, which the Logical() helpers hide
	resp, err := d.c.RawRequestWithContext(ctx, r)
	if resp != nil {
		defer resp.Body.Close()
	}
	if err != nil {
		return nil, d.wrap(opName(method), path, resp, err, scrub...)
	}
	sec, err := api.ParseSecret(resp.Body)
	if err != nil {
		// A body cut short is a transport failure.
		return nil, &Error{Op: opName(method), Path: path, Status: resp.StatusCode, code: driver.Unavailable,
			err: fmt.Errorf("reading the response: %w", err)}
	}
	return sec, nil
}

func opName(method string) string {
	switch method {
	case http.MethodGet:
		return "read"
	case "LIST":
		return "list"
	case http.MethodDelete:
		return "delete"
	}
	return "write"
}

// Close releases idle connections.
func (d *kvDriver) Close() error {
	if t, ok := d.c.CloneConfig().HttpClient.Transport.(*sameHostTransport); ok {
		if b, ok := t.base.(*http.Transport); ok {
			b.CloseIdleConnections()
		}
	}
	return nil
}

// As exposes the *api.Client (for **api.Client) and *Error.
func (d *kvDriver) As(i any) bool {
	switch p := i.(type) {
	case **api.Client:
		*p = d.c
		return true
	}
	return false
}
