//go:build !keyward_omit_k8s

// Package k8s reads and writes the keys of one Kubernetes Secret through the
// API server.
//
// Most users want:
//
//	store, err := keyward.Open(ctx, "k8s://production/dharmamind")
//	jwt, err := store.Get(ctx, "JWT_SECRET_KEY") // data["JWT_SECRET_KEY"] of Secret production/dharmamind
//
// Each key is one entry of the Secret's data, named exactly as given (no
// case mapping: Kubernetes keys are case-sensitive and usually the
// environment variable names, as envFrom expects). For Secrets mounted into
// a pod as files, use the file provider instead: it needs no API access.
//
// # URLs
//
//	k8s://NAMESPACE/NAME[?context=CTX][&kubeconfig=PATH]
//
// k8s:///NAME uses the namespace of the current kubeconfig context (or the
// pod's namespace in cluster). Configuration comes from client-go's default
// loading rules: $KUBECONFIG or ~/.kube/config, else the in-cluster service
// account. context selects a kubeconfig context; kubeconfig names the file.
// Credentials never go in the URL.
//
// # Writes
//
// Put and Delete are a read-modify-write of the Secret's data, sent as an
// Update carrying the resourceVersion that was read, so the API server
// refuses it if anyone changed the Secret in between. An unconditional write
// then re-reads and tries again (bounded); a write with PutOptions.IfVersion
// (a resourceVersion, or "0" for "only if the key is absent") fails with
// FailedPrecondition instead. Put creates the Secret (type Opaque) if it does
// not exist; Delete removes a key and leaves the Secret, even empty.
//
// # Versions
//
// Kubernetes keeps no history of a Secret, so this provider has no
// Versioner (History answers Unimplemented). Version.ID is the Secret's
// resourceVersion; Get with a version succeeds only for the current one.
//
// # Errors
//
// NotFound for a missing Secret or key; PermissionDenied for 401/403;
// FailedPrecondition for a resourceVersion conflict the caller pinned;
// InvalidArgument for an invalid key (keys must match [-._a-zA-Z0-9]+) or a
// rejected object; Unavailable for 429, 5xx, timeouts and network errors,
// with the server's Retry-After, and for client-go's client-side rate
// limiter refusing a request its deadline could not wait for. The client
// built from the kubeconfig allows 50 requests/s with a burst of 300
// (kubectl's limits), not client-go's default 5/s. client-go itself may
// retry a response that carries Retry-After before keyward sees it.
//
// # Constructors
//
// As in every provider package: OpenURL opens a k8s://NAMESPACE/NAME URL
// and is the opener registered on keyward.DefaultURLMux (keyward.Open uses
// it); NewDriver(namespace, name, opts) returns the driver over the Secret
// and OpenStore(namespace, name, opts, storeOpts) the keyward.Store over
// it.
//
// # As
//
// Store.As accepts *corev1client.SecretsGetter. Store.ErrorAs reaches
// *errors.StatusError from k8s.io/apimachinery/pkg/api/errors.
package k8s

import (
	"context"
	"crypto/rand"
	"errors"
	"math/big"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
)

// Scheme is the URL scheme k8s registers.
const Scheme = "k8s"

// maxWriteAttempts bounds the re-read-and-retry loop after a conflict.
const maxWriteAttempts = 20

// Options configures a driver.
type Options struct {
	// Client, if set, is used instead of one built from the kubeconfig or
	// in-cluster configuration (tests pass a fake clientset).
	Client corev1client.SecretsGetter
	// Context selects a kubeconfig context.
	Context string
	// Kubeconfig names a kubeconfig file instead of the default rules.
	Kubeconfig string
}

func init() {
	keyward.DefaultURLMux().Register(Scheme, keyward.OpenerFunc(OpenURL))
}

// OpenURL opens a driver for a k8s:// URL (see # URLs); it is the opener
// registered on keyward.DefaultURLMux.
func OpenURL(ctx context.Context, u *url.URL) (driver.Store, error) {
	var o Options
	for k := range u.Query() {
		switch k {
		case "context":
			o.Context = u.Query().Get(k)
		case "kubeconfig":
			o.Kubeconfig = u.Query().Get(k)
		default:
			return nil, keyward.Errorf(keyward.InvalidArgument, "open", "k8s: unknown query parameter %q (known: context, kubeconfig)", k)
		}
	}
	name := strings.Trim(u.Path, "/")
	if strings.Contains(name, "/") {
		return nil, keyward.Errorf(keyward.InvalidArgument, "open", "k8s: URL must be k8s://NAMESPACE/NAME, got path %q", u.Path)
	}
	return NewDriver(u.Host, name, &o)
}

// NewDriver returns a driver for Secret namespace/name; an empty namespace is
// the kubeconfig's (or the pod's). The client is built on first use.
func NewDriver(namespace, name string, opts *Options) (driver.Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if name == "" {
		return nil, keyward.Errorf(keyward.InvalidArgument, "open", "k8s: a Secret name is required (k8s://NAMESPACE/NAME)")
	}
	return &k8sDriver{ns: namespace, name: name, opts: o, client: o.Client}, nil
}

// OpenStore is NewDriver wrapped in a keyward.Store.
func OpenStore(namespace, name string, opts *Options, sopts *keyward.StoreOptions) (*keyward.Store, error) {
	d, err := NewDriver(namespace, name, opts)
	if err != nil {
		return nil, err
	}
	return keyward.NewStore(d, sopts), nil
}

type k8sDriver struct {
	name string
	opts Options

	mu     sync.Mutex
	ns     string
	client corev1client.SecretsGetter
}

var (
	_ driver.Lister      = (*k8sDriver)(nil)
	_ driver.Writer      = (*k8sDriver)(nil)
	_ driver.Deleter     = (*k8sDriver)(nil)
	_ driver.BatchGetter = (*k8sDriver)(nil)
	_ driver.As          = (*k8sDriver)(nil)
)

type configError struct{ err error }

func (e *configError) Error() string {
	return "failed to load the Kubernetes configuration: " + e.err.Error()
}
func (e *configError) Unwrap() error { return e.err }

// Hint says what to do next; the CLI prints it as a "hint:" line.
func (e *configError) Hint() string {
	return "set KUBECONFIG (or pass ?kubeconfig=PATH / ?context=NAME in the store URL); inside a pod the service account is used"
}

func (d *k8sDriver) api() (corev1client.SecretsGetter, string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.client != nil {
		if d.ns == "" {
			d.ns = "default"
		}
		return d.client, d.ns, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if d.opts.Kubeconfig != "" {
		rules.ExplicitPath = d.opts.Kubeconfig
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: d.opts.Context})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", &configError{err}
	}
	if d.ns == "" {
		ns, _, err := cc.Namespace()
		if err != nil {
			return nil, "", &configError{err}
		}
		d.ns = ns
	}
	cs, err := newSecretsClient(withClientLimits(cfg))
	if err != nil {
		return nil, "", &configError{err}
	}
	d.client = cs
	return cs, d.ns, nil
}

// Client-side rate limits. client-go's defaults (5 requests/s, burst 10)
// are meant for controllers that poll; they made a handful of concurrent
// writers (each a read and an update, retried on conflict) wait out their
// deadline in the client before a request was ever sent. These are kubectl's
// own limits; the API server's priority and fairness (429 with Retry-After,
// which the Store honours) is what protects the cluster.
const (
	clientQPS   = 50
	clientBurst = 300
)

// withClientLimits raises client-go's client-side rate limit to
// clientQPS/clientBurst unless the configuration brings its own limiter.
func withClientLimits(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	if cfg.RateLimiter == nil {
		cfg.QPS, cfg.Burst = clientQPS, clientBurst
	}
	return cfg
}

func newSecretsClient(cfg *rest.Config) (corev1client.SecretsGetter, error) {
	return corev1client.NewForConfig(cfg)
}

// rateLimited reports client-go's client-side limiter refusing a request:
// it answers at once, before the deadline, when the wait it would need
// outlasts the context ("rate: Wait(n=1) would exceed context deadline").
// Nothing was sent; it is the client's own backlog, so Unavailable.
func rateLimited(err error) bool {
	return strings.Contains(err.Error(), "client rate limiter Wait returned an error")
}

var (
	errNoKey      = errors.New("no such key")
	errNoVersion  = errors.New("kubernetes keeps no history of a Secret; only its current resourceVersion can be read")
	errConflict   = errors.New("check-and-set conflict: the current version is not the expected one")
	errBadKey     = errors.New("invalid key: Secret keys must match [-._a-zA-Z0-9]+")
	errContention = errors.New("gave up after repeated concurrent writes to the same Secret")
)

type keyError struct {
	err       error
	ns, name  string
	key       string
	retryWait time.Duration
}

func (e *keyError) Error() string {
	msg := "secret " + e.ns + "/" + e.name
	if e.key != "" {
		msg += " key " + strconv.Quote(e.key)
	}
	return msg + ": " + e.err.Error()
}
func (e *keyError) Unwrap() error             { return e.err }
func (e *keyError) RetryAfter() time.Duration { return e.retryWait }

func (d *k8sDriver) wrap(err error, key string) error {
	if err == nil {
		return nil
	}
	d.mu.Lock()
	ns := d.ns
	d.mu.Unlock()
	ke := &keyError{err: err, ns: ns, name: d.name, key: key}
	if s, ok := apierrors.SuggestsClientDelay(err); ok && s > 0 {
		ke.retryWait = time.Duration(s) * time.Second
	}
	return ke
}

var validKey = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)

func (d *k8sDriver) ErrorCode(err error) driver.Code {
	switch {
	case err == nil:
		return driver.OK
	case errors.Is(err, errNoKey), errors.Is(err, errNoVersion):
		return driver.NotFound
	case errors.Is(err, errConflict):
		return driver.FailedPrecondition
	case errors.Is(err, errBadKey):
		return driver.InvalidArgument
	case errors.Is(err, errContention), rateLimited(err):
		return driver.Unavailable
	case errors.Is(err, context.Canceled):
		return driver.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return driver.DeadlineExceeded
	case apierrors.IsNotFound(err):
		return driver.NotFound
	case apierrors.IsConflict(err):
		return driver.FailedPrecondition
	case apierrors.IsAlreadyExists(err):
		return driver.AlreadyExists
	case apierrors.IsUnauthorized(err), apierrors.IsForbidden(err):
		return driver.PermissionDenied
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err), apierrors.IsRequestEntityTooLargeError(err):
		return driver.InvalidArgument
	case apierrors.IsTooManyRequests(err), apierrors.IsServerTimeout(err), apierrors.IsTimeout(err),
		apierrors.IsServiceUnavailable(err), apierrors.IsInternalError(err), apierrors.IsUnexpectedServerError(err):
		return driver.Unavailable
	}
	var ce *configError
	if errors.As(err, &ce) {
		return driver.FailedPrecondition
	}
	var ne net.Error
	var ue *url.Error
	if errors.As(err, &ne) || errors.As(err, &ue) {
		return driver.Unavailable
	}
	if se, ok := err.(apierrors.APIStatus); ok || errors.As(err, &se) {
		if c := se.Status().Code; c == 429 || c >= 500 {
			return driver.Unavailable
		}
	}
	return driver.Unknown
}

func (d *k8sDriver) read(ctx context.Context) (*corev1.Secret, error) {
	c, ns, err := d.api()
	if err != nil {
		return nil, err
	}
	return c.Secrets(ns).Get(ctx, d.name, metav1.GetOptions{})
}

// value returns key's bytes from data, or stringData (which the API server
// folds into data; fakes and some tools leave it there).
func value(s *corev1.Secret, key string) ([]byte, bool) {
	if b, ok := s.Data[key]; ok {
		return append([]byte(nil), b...), true
	}
	if v, ok := s.StringData[key]; ok {
		return []byte(v), true
	}
	return nil, false
}

func versionOf(s *corev1.Secret) driver.Version {
	return driver.Version{ID: s.ResourceVersion, Created: s.CreationTimestamp.UTC()}
}

func (d *k8sDriver) Get(ctx context.Context, key, version string) (*driver.Value, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, err := d.read(ctx)
	if err != nil {
		return nil, d.wrap(err, key)
	}
	if version != "" && version != s.ResourceVersion {
		return nil, d.wrap(errNoVersion, key)
	}
	b, ok := value(s, key)
	if !ok {
		return nil, d.wrap(errNoKey, key)
	}
	return &driver.Value{Data: b, Version: versionOf(s)}, nil
}

func (d *k8sDriver) GetMany(ctx context.Context, keys []string) (map[string]*driver.Value, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make(map[string]*driver.Value, len(keys))
	s, err := d.read(ctx)
	if apierrors.IsNotFound(err) {
		return out, nil
	}
	if err != nil {
		return nil, d.wrap(err, "")
	}
	for _, k := range keys {
		if b, ok := value(s, k); ok {
			out[k] = &driver.Value{Data: b, Version: versionOf(s)}
		}
	}
	return out, nil
}

func (d *k8sDriver) List(ctx context.Context) ([]driver.KeyInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, err := d.read(ctx)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, d.wrap(err, "")
	}
	seen := map[string]bool{}
	var out []driver.KeyInfo
	add := func(k string) {
		if !seen[k] {
			seen[k] = true
			out = append(out, driver.KeyInfo{Key: k, Version: s.ResourceVersion})
		}
	}
	for k := range s.Data {
		add(k)
	}
	for k := range s.StringData {
		add(k)
	}
	return out, nil
}

func (d *k8sDriver) Put(ctx context.Context, key string, data []byte, opts *driver.PutOptions) (driver.Version, error) {
	if !validKey.MatchString(key) {
		return driver.Version{}, d.wrap(errBadKey, key)
	}
	var ifv string
	if opts != nil {
		ifv = opts.IfVersion
	}
	return d.modify(ctx, key, ifv, func(s *corev1.Secret) error {
		if ifv == "0" {
			if _, ok := value(s, key); ok {
				return d.wrap(errConflict, key)
			}
		}
		if s.Data == nil {
			s.Data = map[string][]byte{}
		}
		delete(s.StringData, key)
		s.Data[key] = append([]byte(nil), data...)
		return nil
	})
}

func (d *k8sDriver) Delete(ctx context.Context, key string) error {
	_, err := d.modify(ctx, key, "", func(s *corev1.Secret) error {
		if _, ok := value(s, key); !ok {
			return d.wrap(errNoKey, key)
		}
		delete(s.Data, key)
		delete(s.StringData, key)
		return nil
	})
	if apierrors.IsNotFound(err) {
		return d.wrap(errNoKey, key)
	}
	return err
}

// modify is the read-modify-write loop: Update with the resourceVersion
// read; on a conflict re-read and retry unless ifv pins a version.
func (d *k8sDriver) modify(ctx context.Context, key, ifv string, change func(*corev1.Secret) error) (driver.Version, error) {
	c, ns, err := d.api()
	if err != nil {
		return driver.Version{}, err
	}
	secrets := c.Secrets(ns)
	for attempt := 0; attempt < maxWriteAttempts; attempt++ {
		if err := ctx.Err(); err != nil {
			return driver.Version{}, err
		}
		if attempt > 0 {
			if err := jitter(ctx, attempt); err != nil {
				return driver.Version{}, err
			}
		}
		s, err := secrets.Get(ctx, d.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			if ifv != "" && ifv != "0" {
				return driver.Version{}, d.wrap(errConflict, key)
			}
			s = &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: d.name, Namespace: ns},
				Type:       corev1.SecretTypeOpaque,
			}
			if err := change(s); err != nil {
				return driver.Version{}, err
			}
			created, err := secrets.Create(ctx, s, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				continue // created concurrently: merge into it
			}
			if err != nil {
				return driver.Version{}, d.wrap(err, key)
			}
			return versionOf(created), nil
		}
		if err != nil {
			return driver.Version{}, d.wrap(err, key)
		}
		if ifv != "" && ifv != "0" && s.ResourceVersion != ifv {
			return driver.Version{}, d.wrap(errConflict, key)
		}
		if err := change(s); err != nil {
			return driver.Version{}, err
		}
		updated, err := secrets.Update(ctx, s, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			if ifv != "" {
				return driver.Version{}, d.wrap(errConflict, key)
			}
			continue
		}
		if err != nil {
			return driver.Version{}, d.wrap(err, key)
		}
		return versionOf(updated), nil
	}
	return driver.Version{}, d.wrap(errContention, key)
}

func jitter(ctx context.Context, attempt int) error {
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

func (d *k8sDriver) As(i any) bool {
	p, ok := i.(*corev1client.SecretsGetter)
	if !ok {
		return false
	}
	c, _, err := d.api()
	if err != nil {
		return false
	}
	*p = c
	return true
}

func (d *k8sDriver) Close() error { return nil }

// Exists reports whether the Secret itself exists. List on a missing
// Secret is empty (Put creates it), so the CLI asks this to say "does not
// exist" rather than show an empty store.
func (d *k8sDriver) Exists(ctx context.Context) (bool, error) {
	_, err := d.read(ctx)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, d.wrap(err, "")
	}
	return true, nil
}
