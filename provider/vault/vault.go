//go:build !keyward_omit_vault

// Package vault reads and writes secrets in HashiCorp Vault or OpenBao KV
// mounts (v2 and v1), through the official github.com/hashicorp/vault/api
// client.
//
// Most users configure it the way the secret-management guide does and
// never write a URL:
//
//	SECRET_PROVIDER=vault VAULT_ADDR=https://vault.example.com:8200 \
//	VAULT_PATH=dharmamind/production VAULT_ROLE_ID=… VAULT_SECRET_ID=… \
//	keyward get JWT_SECRET_KEY
//
// One store is one KV secret (VAULT_PATH); its fields are the store's keys,
// as in the guide's `vault kv put dharmamind/production jwt_secret_key=…`.
// Key JWT_SECRET_KEY reads field JWT_SECRET_KEY and, when the secret has no
// such field, falls back to jwt_secret_key. Reading 50 keys is one request.
//
// # URLs
//
//	vault:///PATH                   server from VAULT_ADDR
//	vault://HOST[:PORT]/PATH        https://HOST:PORT (tls=false for http)
//
// Query parameters:
//
//   - mount=NAME: the KV mount, PATH then being relative to it. Without it
//     the mount is detected as the vault CLI does (sys/internal/ui/mounts/PATH);
//     when PATH is under no KV mount, secret/PATH is tried (the default mount
//     the guide's Python client reads from).
//   - kv=1|2: the KV version, skipping detection of it.
//   - auth=token|approle|kubernetes: the login method (default: token when
//     one is available, else AppRole when VAULT_ROLE_ID is set, else
//     Kubernetes when VAULT_K8S_ROLE is set). auth_mount=NAME changes the
//     auth mount (approle, kubernetes).
//   - namespace=NS (default VAULT_NAMESPACE).
//   - layout=bundle|keys: bundle (default) is one secret whose fields are
//     the keys; keys makes each key its own secret PATH/KEY holding the
//     value in field "value", with its own versions.
//   - tls=true|false|skip-verify, for vault://HOST URLs.
//
// Credentials never go in the URL. Tokens come from VAULT_TOKEN,
// VAULT_TOKEN_FILE or ~/.vault-token; AppRole from VAULT_ROLE_ID and
// VAULT_SECRET_ID (or VAULT_SECRET_ID_FILE); Kubernetes from VAULT_K8S_ROLE
// and the service-account token file (VAULT_K8S_TOKEN_PATH). TLS comes from
// VAULT_CACERT, VAULT_CAPATH, VAULT_CLIENT_CERT, VAULT_CLIENT_KEY and
// VAULT_SKIP_VERIFY, read by the api client. Login is lazy (first use), a
// token is renewed before it expires, and a 403 triggers one re-login.
//
// # Versions
//
// On KV v2 a version ID is the secret's version number. Get reports the
// secret's current version; History lists the versions in which the key's
// field appeared or changed; Put writes a new version holding every field
// with check-and-set on the version it read (retrying internally when a
// concurrent writer of another key won), and PutOptions.IfVersion is a hard
// check-and-set. KV v1 keeps no versions: with kv=1 the driver has no
// Versioner, and a detected v1 mount answers History with Unimplemented.
//
// # Errors
//
// 404 is NotFound; 400 InvalidArgument (a check-and-set mismatch is
// FailedPrecondition); 401/403 PermissionDenied; 429, 5xx (a sealed Vault
// too), network errors and truncated bodies Unavailable, with Retry-After
// honoured; a redirect to another host FailedPrecondition (the token is
// never sent to another host). Errors never carry tokens, secret IDs or
// values: only Vault's JSON error messages are kept, scrubbed.
//
// # Constructors
//
// As in every provider package: OpenURL opens a vault:// URL and is the
// opener registered on keyward.DefaultURLMux (keyward.Open uses it);
// NewDriver(opts) returns the driver (Options hold the server, the path and
// every URL parameter) and OpenStore(opts, storeOpts) the keyward.Store
// over it (Open remains, deprecated).
//
// # As
//
// Store.As accepts **api.Client (github.com/hashicorp/vault/api), the
// client keyward uses (logged in once the store has been used).
// Store.ErrorAs accepts **Error: the HTTP status, Vault's messages and
// RetryAfter of a failed request.
package vault

import (
	"context"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
)

// Scheme is the URL scheme the provider registers.
const Scheme = "vault"

func init() {
	keyward.DefaultURLMux().Register(Scheme, keyward.OpenerFunc(OpenURL))
}

// Auth methods.
const (
	AuthToken      = "token"
	AuthAppRole    = "approle"
	AuthKubernetes = "kubernetes"
)

// Layouts.
const (
	LayoutBundle = "bundle"
	LayoutKeys   = "keys"
)

// defaultK8sTokenPath is where Kubernetes mounts a pod's service-account token.
const defaultK8sTokenPath = "/var/run/secrets/kubernetes.io/serviceaccount/token"

// Options configures NewDriver. Zero fields take their defaults from the
// environment, as the vault CLI does.
type Options struct {
	// Address is the server, e.g. https://vault.example.com:8200; "" means VAULT_ADDR.
	Address string
	// Path is the KV secret (bundle layout) or folder (keys layout).
	Path string
	// Mount is the KV mount; "" detects it.
	Mount string
	// KVVersion is 1 or 2; 0 detects it.
	KVVersion int
	// Namespace is the Vault namespace; "" means VAULT_NAMESPACE.
	Namespace string
	// Layout is LayoutBundle (default) or LayoutKeys.
	Layout string
	// Auth is AuthToken, AuthAppRole, AuthKubernetes or "" (pick from the environment).
	Auth string
	// AuthMount overrides the auth method's mount ("approle", "kubernetes").
	AuthMount string
	// Token, if set, is used instead of VAULT_TOKEN and token files.
	Token string
	// InsecureSkipVerify disables TLS verification (tls=skip-verify).
	InsecureSkipVerify bool
	// Getenv replaces os.Getenv for the VAULT_* credential variables.
	Getenv func(string) string
	// Now replaces time.Now (token expiry).
	Now func() time.Time
}

var urlParams = map[string]bool{"mount": true, "kv": true, "auth": true, "auth_mount": true,
	"namespace": true, "layout": true, "tls": true}

// OpenURL opens a driver for a vault:// URL (see the package doc); it is
// the opener registered on keyward.DefaultURLMux.
func OpenURL(ctx context.Context, u *url.URL) (driver.Store, error) {
	o, err := optionsFromURL(u)
	if err != nil {
		return nil, err
	}
	return NewDriver(o)
}

func optionsFromURL(u *url.URL) (*Options, error) {
	o := &Options{Path: strings.Trim(u.Path, "/")}
	q := u.Query()
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	sort.Strings(names) // the same URL always gives the same error
	for _, k := range names {
		if !urlParams[k] {
			return nil, keyward.Errorf(keyward.InvalidArgument, "open", "vault URL: unknown query parameter %q (known: mount, kv, auth, auth_mount, namespace, layout, tls)", k)
		}
	}
	o.Mount = q.Get("mount")
	if v := q.Get("kv"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || (n != 1 && n != 2) {
			return nil, keyward.Errorf(keyward.InvalidArgument, "open", "vault URL: kv= must be 1 or 2")
		}
		o.KVVersion = n
	}
	o.Auth = q.Get("auth")
	o.AuthMount = q.Get("auth_mount")
	o.Namespace = q.Get("namespace")
	o.Layout = q.Get("layout")
	if u.Host != "" {
		scheme := "https"
		switch strings.ToLower(q.Get("tls")) {
		case "", "true", "on", "1":
		case "false", "off", "0":
			scheme = "http"
		case "skip-verify", "insecure":
			o.InsecureSkipVerify = true
		default:
			return nil, keyward.Errorf(keyward.InvalidArgument, "open", "vault URL: tls= must be true, false or skip-verify")
		}
		o.Address = scheme + "://" + u.Host
	} else if q.Has("tls") {
		return nil, keyward.Errorf(keyward.InvalidArgument, "open", "vault URL: tls= applies to vault://HOST URLs; with vault:///PATH use VAULT_ADDR and VAULT_SKIP_VERIFY")
	}
	return o, nil
}
