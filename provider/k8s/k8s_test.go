//go:build !keyward_omit_k8s

package k8s_test

import (
	"context"
	"errors"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"strconv"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/drivertest"
	"github.com/keyward/keyward/internal/testing/providertest"
	"github.com/keyward/keyward/provider/k8s"
)

var secretsGVR = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}

// apiServer is client-go's fake clientset with the API server's optimistic
// concurrency added: every create and update gets a new resourceVersion,
// and an update that carries a stale one is refused with 409 Conflict, as
// the real API server does. (The fake's tracker alone stores whatever it is
// given.) fail, when set, answers a request with an error first.
type apiServer struct {
	*fake.Clientset
	mu   sync.Mutex
	rv   int
	fail func(verb string) error
}

func newAPIServer(objs ...runtime.Object) *apiServer {
	a := &apiServer{Clientset: fake.NewClientset(objs...), rv: 100}
	a.PrependReactor("*", "secrets", func(action k8stesting.Action) (bool, runtime.Object, error) {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.fail != nil {
			if err := a.fail(action.GetVerb()); err != nil {
				return true, nil, err
			}
		}
		tr := a.Tracker()
		// Create and update actions have the same method set: switch on the verb.
		switch action.GetVerb() {
		case "create":
			act := action.(k8stesting.CreateAction)
			s := act.GetObject().(*corev1.Secret).DeepCopy()
			a.rv++
			s.ResourceVersion = strconv.Itoa(a.rv)
			s.CreationTimestamp = metav1.Now()
			if err := tr.Create(secretsGVR, s, act.GetNamespace()); err != nil {
				return true, nil, err
			}
			return true, s, nil
		case "update":
			act := action.(k8stesting.UpdateAction)
			s := act.GetObject().(*corev1.Secret).DeepCopy()
			cur, err := tr.Get(secretsGVR, act.GetNamespace(), s.Name)
			if err != nil {
				return true, nil, err
			}
			if s.ResourceVersion != "" && s.ResourceVersion != cur.(*corev1.Secret).ResourceVersion {
				return true, nil, apierrors.NewConflict(secretsGVR.GroupResource(), s.Name,
					errors.New("the object has been modified; please apply your changes to the latest version and try again"))
			}
			a.rv++
			s.ResourceVersion = strconv.Itoa(a.rv)
			if err := tr.Update(secretsGVR, s, act.GetNamespace()); err != nil {
				return true, nil, err
			}
			return true, s, nil
		}
		return false, nil, nil
	})
	return a
}

func TestConformance(t *testing.T) {
	drivertest.RunConformanceTests(t, func(context.Context, *testing.T) (drivertest.Harness, error) {
		api := newAPIServer()
		return &providertest.Harness{
			Open: func() (driver.Store, error) {
				return k8s.NewDriver("production", "dharmamind", &k8s.Options{Client: api.CoreV1()})
			},
			Capabilities: drivertest.Caps{BinaryValues: true, CheckAndSet: true},
		}, nil
	})
}

func existing() *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "dharmamind", Namespace: "production", ResourceVersion: "7"},
		Type:       corev1.SecretTypeOpaque,
		Data: map[string][]byte{
			"JWT_SECRET_KEY": []byte("fake-jwt-secret-for-tests"),
			"DATABASE_URL":   []byte("postgresql://fake@localhost/db"),
		},
		StringData: map[string]string{"REDIS_URL": "redis://fake"},
	}
}

func TestReadsExistingSecret(t *testing.T) {
	ctx := context.Background()
	api := newAPIServer(existing())
	s, err := k8s.OpenStore("production", "dharmamind", &k8s.Options{Client: api.CoreV1()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, err := s.GetValue(ctx, "JWT_SECRET_KEY", nil)
	if err != nil || v.Secret.RevealString() != "fake-jwt-secret-for-tests" {
		t.Fatalf("Get: %v", err)
	}
	if v.Version.ID != "7" {
		t.Fatalf("Version.ID = %q, want the resourceVersion 7", v.Version.ID)
	}
	if _, err := s.Get(ctx, "jwt_secret_key"); !errors.Is(err, keyward.ErrNotFound) {
		t.Fatalf("keys are case-sensitive: %v", err)
	}
	if r, err := s.Get(ctx, "REDIS_URL"); err != nil || r.RevealString() != "redis://fake" {
		t.Fatalf("stringData key: %v", err)
	}
	infos, err := s.List(ctx)
	if err != nil || len(infos) != 3 {
		t.Fatalf("List: %d keys, %v", len(infos), err)
	}
	_, err = s.GetValue(ctx, "JWT_SECRET_KEY", &keyward.GetOptions{Version: "6"})
	if keyward.ErrorCode(err) != keyward.NotFound || !strings.Contains(err.Error(), "no history") {
		t.Fatalf("an old resourceVersion: %v, want NotFound saying there is no history", err)
	}
	if _, err := s.History(ctx, "JWT_SECRET_KEY"); keyward.ErrorCode(err) != keyward.Unimplemented {
		t.Fatalf("History: %v, want Unimplemented", err)
	}
	// GetMany is one API call.
	api.ClearActions()
	got, err := s.GetMany(ctx, []string{"JWT_SECRET_KEY", "DATABASE_URL"})
	if err != nil || len(got) != 2 {
		t.Fatalf("GetMany: %d, %v", len(got), err)
	}
	if n := len(api.Actions()); n != 1 {
		t.Fatalf("GetMany made %d API calls, want 1", n)
	}
}

func TestWritesCheckResourceVersion(t *testing.T) {
	ctx := context.Background()
	api := newAPIServer(existing())
	s, _ := k8s.OpenStore("production", "dharmamind", &k8s.Options{Client: api.CoreV1()}, &keyward.StoreOptions{TTL: -1})
	defer s.Close()

	// Another writer updates between our read and our write: the first
	// Update is refused with 409 and the driver re-reads and retries.
	var once sync.Once
	api.fail = func(verb string) error {
		if verb != "update" {
			return nil
		}
		var err error
		once.Do(func() {
			err = apierrors.NewConflict(secretsGVR.GroupResource(), "dharmamind", errors.New("modified"))
		})
		return err
	}
	v, err := s.Put(ctx, "SMTP_PASSWORD", keyward.NewSecretString("fake-smtp"), nil)
	if err != nil {
		t.Fatalf("Put after one conflict: %v", err)
	}
	api.fail = nil
	updates := 0
	for _, a := range api.Actions() {
		if a.GetVerb() == "update" {
			updates++
		}
	}
	if updates != 2 {
		t.Fatalf("%d updates, want 2 (a conflict, then a retry on a fresh read)", updates)
	}
	// A pinned version is a hard check-and-set.
	if _, err := s.Put(ctx, "SMTP_PASSWORD", keyward.NewSecretString("x"), &keyward.PutOptions{IfVersion: "7"}); keyward.ErrorCode(err) != keyward.FailedPrecondition {
		t.Fatalf("stale IfVersion: %v, want FailedPrecondition", err)
	}
	api.fail = func(verb string) error {
		if verb == "update" {
			return apierrors.NewConflict(secretsGVR.GroupResource(), "dharmamind", errors.New("modified"))
		}
		return nil
	}
	if _, err := s.Put(ctx, "SMTP_PASSWORD", keyward.NewSecretString("x"), &keyward.PutOptions{IfVersion: v.ID}); keyward.ErrorCode(err) != keyward.FailedPrecondition {
		t.Fatalf("IfVersion with a conflicting update: %v, want FailedPrecondition", err)
	}
	api.fail = nil
	if got, _ := s.Get(ctx, "SMTP_PASSWORD"); got.RevealString() != "fake-smtp" {
		t.Fatalf("a refused write changed the value")
	}
	// Other keys and the Secret's type survive a write.
	sec, err := api.CoreV1().Secrets("production").Get(ctx, "dharmamind", metav1.GetOptions{})
	if err != nil || string(sec.Data["JWT_SECRET_KEY"]) != "fake-jwt-secret-for-tests" || sec.Type != corev1.SecretTypeOpaque {
		t.Fatalf("a write disturbed other keys or the type")
	}
	// Delete removes one key and keeps the Secret.
	if err := s.Delete(ctx, "SMTP_PASSWORD"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "JWT_SECRET_KEY"); err != nil {
		t.Fatalf("Delete of one key removed others: %v", err)
	}
	// Invalid key names are refused before any request.
	if _, err := s.Put(ctx, "bad/key", keyward.NewSecretString("x"), nil); keyward.ErrorCode(err) != keyward.InvalidArgument {
		t.Fatalf("bad key: %v, want InvalidArgument", err)
	}
}

func TestErrorCodes(t *testing.T) {
	ctx := context.Background()
	gr := secretsGVR.GroupResource()
	for _, tc := range []struct {
		err     error
		code    keyward.Code
		retried bool
	}{
		{apierrors.NewForbidden(gr, "dharmamind", errors.New("rbac")), keyward.PermissionDenied, false},
		{apierrors.NewUnauthorized("token expired"), keyward.PermissionDenied, false},
		{apierrors.NewTooManyRequests("slow down", 0), keyward.Unavailable, true},
		{apierrors.NewServiceUnavailable("etcd"), keyward.Unavailable, true},
		{apierrors.NewInternalError(errors.New("boom")), keyward.Unavailable, true},
		{apierrors.NewBadRequest("nope"), keyward.InvalidArgument, false},
	} {
		api := newAPIServer(existing())
		calls := 0
		api.fail = func(verb string) error { calls++; return tc.err }
		s, _ := k8s.OpenStore("production", "dharmamind", &k8s.Options{Client: api.CoreV1()}, &keyward.StoreOptions{Retries: 2, RetryBase: 1})
		_, err := s.Get(ctx, "JWT_SECRET_KEY")
		if keyward.ErrorCode(err) != tc.code {
			t.Errorf("%v: code %v, want %v", tc.err, keyward.ErrorCode(err), tc.code)
		}
		if want := map[bool]int{false: 1, true: 3}[tc.retried]; calls != want {
			t.Errorf("%v: %d calls, want %d", tc.err, calls, want)
		}
		s.Close()
	}
}

func TestOpenURL(t *testing.T) {
	ctx := context.Background()
	for _, bad := range []string{"k8s://ns", "k8s://ns/a/b", "k8s://ns/x?bogus=1"} {
		if _, err := keyward.Open(ctx, bad); keyward.ErrorCode(err) != keyward.InvalidArgument {
			t.Errorf("Open(%s): %v, want InvalidArgument", bad, err)
		}
	}
	// A kubeconfig that does not exist is a configuration error at first use,
	// not a panic and not a silent default.
	s, err := keyward.Open(ctx, "k8s://production/dharmamind?kubeconfig="+t.TempDir()+"/missing")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Get(ctx, "K"); keyward.ErrorCode(err) != keyward.FailedPrecondition {
		t.Fatalf("missing kubeconfig: %v, want FailedPrecondition", err)
	}
}

func TestAs(t *testing.T) {
	api := newAPIServer()
	s, _ := k8s.OpenStore("production", "dharmamind", &k8s.Options{Client: api.CoreV1()}, nil)
	defer s.Close()
	var c corev1client.SecretsGetter
	if !s.As(&c) || c == nil {
		t.Fatalf("As(*corev1client.SecretsGetter) did not give the client")
	}
	if _, err := c.Secrets("production").List(context.Background(), metav1.ListOptions{}); err != nil {
		t.Fatalf("the client from As does not work: %v", err)
	}
}
