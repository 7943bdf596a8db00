//go:build !keyward_omit_awssm

package awssm_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/drivertest"
	"github.com/keyward/keyward/internal/testing/awsserver"
	"github.com/keyward/keyward/internal/testing/providertest"
	"github.com/keyward/keyward/provider/awssm"
)

// Obviously fake credentials: the in-process server checks that requests
// are signed, not who signed them.
const (
	fakeAccessKey = "AKIAKEYWARDTESTFAKE0"
	fakeSecretKey = "keyward-test-fake-secret-access-key-not-real"
)

func testClient(url string) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider(fakeAccessKey, fakeSecretKey, ""),
	})
}

func conformance(mode awssm.Mode) drivertest.HarnessMaker {
	return func(ctx context.Context, t *testing.T) (drivertest.Harness, error) {
		srv := awsserver.New(t)
		return &providertest.Harness{
			Open: func() (driver.Store, error) {
				return awssm.NewDriver("dharmamind/production", &awssm.Options{Mode: mode, Client: testClient(srv.URL)})
			},
			Capabilities: drivertest.Caps{BinaryValues: mode == awssm.ModeKeys, CheckAndSet: true},
		}, nil
	}
}

func TestConformanceBundle(t *testing.T) {
	drivertest.RunConformanceTests(t, conformance(awssm.ModeBundle))
}

func TestConformanceKeys(t *testing.T) {
	drivertest.RunConformanceTests(t, conformance(awssm.ModeKeys))
}

// guideBundle is the guide's create-secret example, with obviously fake values.
const guideBundle = `{"jwt_secret_key":"fake-jwt-secret-for-tests-0123456789abcdef","database_url":"postgresql://fake:fake@localhost/dharmamind","port":5432,"nothing":null,"Mixed_Case":"mixed"}`

func bundleStore(t *testing.T, srv *awsserver.Server, opts *keyward.StoreOptions) *keyward.Store {
	return providertest.Open(t, func() (*keyward.Store, error) {
		return awssm.OpenStore("dharmamind/production", &awssm.Options{Client: testClient(srv.URL)}, opts)
	})
}

func TestGuideBundleKeyMapping(t *testing.T) {
	ctx := context.Background()
	srv := awsserver.New(t)
	srv.PutString("dharmamind/production", guideBundle)
	s := bundleStore(t, srv, &keyward.StoreOptions{TTL: -1})
	for _, tc := range []struct {
		key, want string
		code      keyward.Code
	}{
		{"JWT_SECRET_KEY", "fake-jwt-secret-for-tests-0123456789abcdef", keyward.OK},
		{"jwt_secret_key", "fake-jwt-secret-for-tests-0123456789abcdef", keyward.OK},
		{"DATABASE_URL", "postgresql://fake:fake@localhost/dharmamind", keyward.OK},
		{"PORT", "5432", keyward.OK},         // non-string JSON: its JSON text
		{"NOTHING", "", keyward.NotFound},    // null is absent, as the guide's .get returns None
		{"Mixed_Case", "mixed", keyward.OK},  // exact case when there is no lower-case field
		{"MIXED_CASE", "", keyward.NotFound}, // neither mixed_case nor MIXED_CASE exists
		{"REDIS_URL", "", keyward.NotFound},  // absent field
	} {
		got, err := s.Get(ctx, tc.key)
		if keyward.ErrorCode(err) != tc.code {
			t.Errorf("Get(%s): code %v (%v), want %v", tc.key, keyward.ErrorCode(err), err, tc.code)
			continue
		}
		if err == nil && got.RevealString() != tc.want {
			t.Errorf("Get(%s): got %d bytes, want %d", tc.key, got.Len(), len(tc.want))
		}
	}
}

func TestBundleLowerCaseWinsOverExactCase(t *testing.T) {
	ctx := context.Background()
	srv := awsserver.New(t)
	srv.PutString("dharmamind/production", `{"jwt_secret_key":"lower","JWT_SECRET_KEY":"upper"}`)
	s := bundleStore(t, srv, nil)
	got, err := s.Get(ctx, "JWT_SECRET_KEY")
	if err != nil || got.RevealString() != "lower" {
		t.Fatalf("the lower-case field must win, as the guide's get_secret reads it (err %v)", err)
	}
	if _, err := s.Put(ctx, "JWT_SECRET_KEY", keyward.NewSecretString("lower-2"), nil); err != nil {
		t.Fatal(err)
	}
	sv, _ := srv.GetCurrent("dharmamind/production")
	var m map[string]string
	if err := json.Unmarshal([]byte(sv), &m); err != nil {
		t.Fatalf("bundle is not JSON after a write")
	}
	if m["jwt_secret_key"] != "lower-2" || m["JWT_SECRET_KEY"] != "upper" {
		t.Fatalf("a write must update the field a read returns and leave the others alone")
	}
}

func TestBundleOneCallForManyKeys(t *testing.T) {
	ctx := context.Background()
	srv := awsserver.New(t)
	srv.PutString("dharmamind/production", guideBundle)
	s := bundleStore(t, srv, nil)
	srv.ResetCalls()
	got, err := s.GetMany(ctx, []string{"JWT_SECRET_KEY", "DATABASE_URL", "PORT", "REDIS_URL"})
	if keyward.ErrorCode(err) != keyward.NotFound {
		t.Fatalf("GetMany with a missing key: code %v, want NotFound", keyward.ErrorCode(err))
	}
	if len(got) != 3 {
		t.Fatalf("GetMany returned %d values, want 3", len(got))
	}
	if n := srv.Calls(""); n != 1 {
		t.Fatalf("GetMany of 4 keys made %d requests, want 1", n)
	}

	// Concurrent single-key reads of one bundle share one request.
	s2 := bundleStore(t, srv, &keyward.StoreOptions{TTL: -1})
	srv.ResetCalls()
	srv.Inject(awsserver.Fault{Op: "GetSecretValue", Delay: 50 * time.Millisecond}, 1)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for _, k := range []string{"JWT_SECRET_KEY", "DATABASE_URL", "PORT", "JWT_SECRET_KEY"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s2.Get(ctx, k); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := srv.Calls("GetSecretValue"); n > 4 || n < 1 {
		t.Fatalf("concurrent reads made %d requests", n)
	}
}

func TestBundleListReadsBackAsKeys(t *testing.T) {
	ctx := context.Background()
	srv := awsserver.New(t)
	srv.PutString("dharmamind/production", guideBundle)
	s := bundleStore(t, srv, nil)
	infos, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, ki := range infos {
		keys = append(keys, ki.Key)
		if _, err := s.Get(ctx, ki.Key); err != nil && ki.Key != "NOTHING" {
			t.Errorf("listed key %s does not read back: %v", ki.Key, err)
		}
	}
	want := "DATABASE_URL JWT_SECRET_KEY Mixed_Case NOTHING PORT"
	if strings.Join(keys, " ") != want {
		t.Fatalf("List = %v, want %s", keys, want)
	}
}

func TestBundleWriteCreatesLowerCaseFieldAndNewVersions(t *testing.T) {
	ctx := context.Background()
	srv := awsserver.New(t)
	s := bundleStore(t, srv, nil)
	v1, err := s.Put(ctx, "JWT_SECRET_KEY", keyward.NewSecretString("one"), nil)
	if err != nil {
		t.Fatalf("Put creating the bundle: %v", err)
	}
	v2, err := s.Put(ctx, "STRIPE_SECRET_KEY", keyward.NewSecretString("two"), nil)
	if err != nil {
		t.Fatal(err)
	}
	cur, _ := srv.GetCurrent("dharmamind/production")
	var m map[string]string
	if err := json.Unmarshal([]byte(cur), &m); err != nil || m["jwt_secret_key"] != "one" || m["stripe_secret_key"] != "two" {
		t.Fatalf("bundle fields are not the lower-case names the guide reads (%d fields)", len(m))
	}
	st := srv.Stages("dharmamind/production")
	if st["AWSCURRENT"] != v2.ID || st["AWSPREVIOUS"] != v1.ID {
		t.Fatalf("stages %v: want AWSCURRENT=%s AWSPREVIOUS=%s", st, v2.ID, v1.ID)
	}
	if _, ok := st["keyward-pending"]; ok {
		t.Fatalf("the private pending label was left behind: %v", st)
	}
	// The previous version stays readable by id and by label.
	for _, ver := range []string{v1.ID, "AWSPREVIOUS", "stage:AWSPREVIOUS", "id:" + v1.ID} {
		v, err := s.GetValue(ctx, "STRIPE_SECRET_KEY", &keyward.GetOptions{Version: ver})
		if keyward.ErrorCode(err) != keyward.NotFound {
			t.Fatalf("version %s has no STRIPE_SECRET_KEY yet: got %v (%v)", ver, v, err)
		}
		if _, err := s.GetValue(ctx, "JWT_SECRET_KEY", &keyward.GetOptions{Version: ver}); err != nil {
			t.Fatalf("Get JWT_SECRET_KEY at %s: %v", ver, err)
		}
	}
}

func TestBundleNotJSONIsFailedPreconditionWithoutValue(t *testing.T) {
	ctx := context.Background()
	srv := awsserver.New(t)
	canary := "KWCANARY-not-json-" + fmt.Sprint(time.Now().UnixNano())
	srv.PutString("dharmamind/production", canary)
	s := bundleStore(t, srv, nil)
	_, err := s.Get(ctx, "JWT_SECRET_KEY")
	if keyward.ErrorCode(err) != keyward.FailedPrecondition {
		t.Fatalf("code %v, want FailedPrecondition", keyward.ErrorCode(err))
	}
	if strings.Contains(fmt.Sprintf("%v %+v %#v", err, err, err), canary[:12]) || strings.Contains(err.Error(), canary) {
		t.Fatalf("error for a non-JSON bundle quotes the value")
	}
	if !strings.Contains(err.Error(), "mode=keys") {
		t.Fatalf("error should point at ?mode=keys: %v", err)
	}
	_, err = s.Put(ctx, "JWT_SECRET_KEY", keyward.NewSecretString("x"), nil)
	if keyward.ErrorCode(err) != keyward.FailedPrecondition {
		t.Fatalf("Put into a non-JSON secret: code %v, want FailedPrecondition", keyward.ErrorCode(err))
	}
	if cur, _ := srv.GetCurrent("dharmamind/production"); cur != canary {
		t.Fatalf("a failed write changed the secret")
	}
}

func TestBundleBinaryRefused(t *testing.T) {
	srv := awsserver.New(t)
	s := bundleStore(t, srv, nil)
	_, err := s.Put(context.Background(), "K", keyward.NewSecret([]byte{0xff, 0xfe}), nil)
	if keyward.ErrorCode(err) != keyward.InvalidArgument {
		t.Fatalf("binary value in bundle mode: code %v, want InvalidArgument", keyward.ErrorCode(err))
	}
}

// A writer that read the bundle before another writer committed must not
// overwrite that writer's field: the AWSCURRENT compare-and-swap catches it.
func TestBundleConcurrentWritersLoseNothing(t *testing.T) {
	ctx := context.Background()
	srv := awsserver.New(t)
	s := bundleStore(t, srv, &keyward.StoreOptions{TTL: -1})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Put(ctx, fmt.Sprintf("KEY_%02d", i), keyward.NewSecretString(fmt.Sprint(i)), nil); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	infos, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 12 {
		t.Fatalf("after 12 concurrent writes of distinct keys the bundle has %d keys: an update was lost", len(infos))
	}
}

func TestBundleIfVersion(t *testing.T) {
	ctx := context.Background()
	srv := awsserver.New(t)
	srv.PutString("dharmamind/production", guideBundle)
	s := bundleStore(t, srv, nil)
	v, err := s.GetValue(ctx, "JWT_SECRET_KEY", nil)
	if err != nil {
		t.Fatal(err)
	}
	other := srv.PutString("dharmamind/production", guideBundle) // someone else writes
	_, err = s.Put(ctx, "JWT_SECRET_KEY", keyward.NewSecretString("x"), &keyward.PutOptions{IfVersion: v.Version.ID})
	if keyward.ErrorCode(err) != keyward.FailedPrecondition {
		t.Fatalf("stale IfVersion: code %v, want FailedPrecondition", keyward.ErrorCode(err))
	}
	if _, err := s.Put(ctx, "JWT_SECRET_KEY", keyward.NewSecretString("x"), &keyward.PutOptions{IfVersion: other}); err != nil {
		t.Fatalf("current IfVersion: %v", err)
	}
	_, err = s.Put(ctx, "DATABASE_URL", keyward.NewSecretString("x"), &keyward.PutOptions{IfVersion: "0"})
	if keyward.ErrorCode(err) != keyward.FailedPrecondition {
		t.Fatalf("IfVersion 0 of an existing field: code %v, want FailedPrecondition", keyward.ErrorCode(err))
	}
	if _, err := s.Put(ctx, "REDIS_URL", keyward.NewSecretString("redis://fake"), &keyward.PutOptions{IfVersion: "0"}); err != nil {
		t.Fatalf("IfVersion 0 of a new field: %v", err)
	}
}

func TestKeysModeNamingStagesAndBatch(t *testing.T) {
	ctx := context.Background()
	srv := awsserver.New(t)
	s, err := awssm.OpenStore("dharmamind/production", &awssm.Options{Mode: awssm.ModeKeys, Client: testClient(srv.URL)}, &keyward.StoreOptions{TTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v1, err := s.Put(ctx, "JWT_SECRET_KEY", keyward.NewSecretString("one"), nil)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := s.Put(ctx, "JWT_SECRET_KEY", keyward.NewSecretString("two"), nil)
	if err != nil {
		t.Fatal(err)
	}
	st := srv.Stages("dharmamind/production/JWT_SECRET_KEY")
	if st["AWSCURRENT"] != v2.ID || st["AWSPREVIOUS"] != v1.ID {
		t.Fatalf("secret dharmamind/production/JWT_SECRET_KEY stages %v, want current %s previous %s", st, v2.ID, v1.ID)
	}
	for ver, want := range map[string]string{"": "two", "AWSCURRENT": "two", "AWSPREVIOUS": "one", v1.ID: "one"} {
		v, err := s.GetValue(ctx, "JWT_SECRET_KEY", &keyward.GetOptions{Version: ver})
		if err != nil || v.Secret.RevealString() != want {
			t.Fatalf("Get at %q: err %v or wrong value", ver, err)
		}
	}
	// AWSPENDING: a version staged for rotation but not yet current.
	c := testClient(srv.URL)
	if _, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("dharmamind/production/JWT_SECRET_KEY"),
		SecretString: aws.String("three"), VersionStages: []string{"AWSPENDING"}}); err != nil {
		t.Fatal(err)
	}
	if v, err := s.GetValue(ctx, "JWT_SECRET_KEY", &keyward.GetOptions{Version: "AWSPENDING"}); err != nil || v.Secret.RevealString() != "three" {
		t.Fatalf("Get AWSPENDING: %v", err)
	}
	if v, _ := s.Get(ctx, "JWT_SECRET_KEY"); v.RevealString() != "two" {
		t.Fatalf("a pending version must not become current")
	}

	// 45 keys: three BatchGetSecretValue requests of at most 20 ids.
	var keys []string
	for i := range 45 {
		k := fmt.Sprintf("K%02d", i)
		keys = append(keys, k)
		srv.PutString("dharmamind/production/"+k, "v"+k)
	}
	srv.ResetCalls()
	got, err := s.GetMany(ctx, keys)
	if err != nil || len(got) != 45 {
		t.Fatalf("GetMany: %d values, %v", len(got), err)
	}
	if n, b := srv.Calls(""), srv.Calls("BatchGetSecretValue"); n != 3 || b != 3 {
		t.Fatalf("GetMany of 45 keys made %d requests (%d batch), want 3 batch requests", n, b)
	}
	for _, k := range keys {
		if got[k].Secret.RevealString() != "v"+k {
			t.Fatalf("GetMany value for %s is wrong", k)
		}
	}

	// List pages through ListSecrets and strips the prefix.
	srv.SetPageSize(7)
	srv.PutString("dharmamind/staging/OTHER", "x")
	infos, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 46 {
		t.Fatalf("List returned %d keys, want 46 (45 + JWT_SECRET_KEY, not the staging secret)", len(infos))
	}
}

func TestKeysModeDeleteThenWriteRestores(t *testing.T) {
	ctx := context.Background()
	srv := awsserver.New(t)
	s, _ := awssm.OpenStore("app", &awssm.Options{Mode: awssm.ModeKeys, Client: testClient(srv.URL)}, &keyward.StoreOptions{TTL: -1})
	defer s.Close()
	if _, err := s.Put(ctx, "K", keyward.NewSecretString("v1"), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "K"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "K"); !errors.Is(err, keyward.ErrNotFound) {
		t.Fatalf("Get of a key scheduled for deletion: %v, want NotFound", err)
	}
	if _, err := s.Put(ctx, "K", keyward.NewSecretString("v2"), nil); err != nil {
		t.Fatalf("Put after Delete: %v", err)
	}
	if v, err := s.Get(ctx, "K"); err != nil || v.RevealString() != "v2" {
		t.Fatalf("Get after re-Put: %v", err)
	}
}

func TestOpenURL(t *testing.T) {
	srv := awsserver.New(t)
	t.Setenv("AWS_ACCESS_KEY_ID", fakeAccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", fakeSecretKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_ENDPOINT_URL", "")
	srv.PutString("dharmamind/production", guideBundle)
	ctx := context.Background()

	// The SDK honours AWS_ENDPOINT_URL_SECRETS_MANAGER by itself.
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", srv.URL)
	s, err := keyward.Open(ctx, "awssm://dharmamind/production")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get(ctx, "JWT_SECRET_KEY"); err != nil || v.RevealString() != "fake-jwt-secret-for-tests-0123456789abcdef" {
		t.Fatalf("Get through AWS_ENDPOINT_URL_SECRETS_MANAGER: %v", err)
	}
	var c *secretsmanager.Client
	if !s.As(&c) || c == nil {
		t.Fatalf("As(**secretsmanager.Client) = false")
	}
	s.Close()

	// ?endpoint= wins over the environment.
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:1")
	s, err = keyward.Open(ctx, "awssm:///dharmamind/production?endpoint="+srv.URL+"&region=eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "DATABASE_URL"); err != nil {
		t.Fatalf("Get through ?endpoint=: %v", err)
	}
	s.Close()

	for _, bad := range []string{"awssm://x?mode=nope", "awssm://x?bogus=1", "awssm://?mode=bundle", "awssm://x?endpoint=nourl", "awssm://x?recovery_window_days=3"} {
		if _, err := keyward.Open(ctx, bad); keyward.ErrorCode(err) != keyward.InvalidArgument {
			t.Errorf("Open(%s): code %v, want InvalidArgument", bad, keyward.ErrorCode(err))
		}
	}
}

// ---------- fault injection through keyward.Store ----------

func faultStore(t *testing.T, url string, opts keyward.StoreOptions) *keyward.Store {
	t.Helper()
	if opts.RetryBase == 0 {
		opts.RetryBase = time.Millisecond
	}
	return providertest.Open(t, func() (*keyward.Store, error) {
		return awssm.OpenStore("dharmamind/production", &awssm.Options{Client: testClient(url)}, &opts)
	})
}

func TestFaultRefusedConnection(t *testing.T) {
	srv := awsserver.New(t)
	url := srv.URL
	srv.Close()
	s := faultStore(t, url, keyward.StoreOptions{Retries: 2})
	_, err := s.Get(context.Background(), "JWT_SECRET_KEY")
	if keyward.ErrorCode(err) != keyward.Unavailable {
		t.Fatalf("refused connection: code %v (%v), want Unavailable", keyward.ErrorCode(err), err)
	}
}

func TestFault5xxThenSuccess(t *testing.T) {
	for _, f := range []awsserver.Fault{
		{Op: "GetSecretValue", Status: 500},
		{Op: "GetSecretValue", Status: 503, Type: "ServiceUnavailable"},
		{Op: "GetSecretValue", Status: 400, Type: "ThrottlingException"},
		{Op: "GetSecretValue", Status: 429},
		{Op: "GetSecretValue", Truncate: true},
		{Op: "GetSecretValue", Close: true},
	} {
		t.Run(fmt.Sprintf("%d%s%v%v", f.Status, f.Type, f.Truncate, f.Close), func(t *testing.T) {
			srv := awsserver.New(t)
			srv.PutString("dharmamind/production", guideBundle)
			srv.Inject(f, 2)
			s := faultStore(t, srv.URL, keyward.StoreOptions{Retries: 3})
			v, err := s.Get(context.Background(), "JWT_SECRET_KEY")
			if err != nil || v.Len() == 0 {
				t.Fatalf("Get after 2 transient faults: %v", err)
			}
			if n := srv.Calls("GetSecretValue"); n != 3 {
				t.Fatalf("%d requests, want 3 (2 faults, 1 success): the SDK's retryer must be off", n)
			}
		})
	}
}

func TestFaultThrottlingHonoursRetryAfter(t *testing.T) {
	srv := awsserver.New(t)
	srv.PutString("dharmamind/production", guideBundle)
	d, _ := awssm.NewDriver("dharmamind/production", &awssm.Options{Client: testClient(srv.URL)})
	srv.Inject(awsserver.Fault{Op: "GetSecretValue", Status: 400, Type: "ThrottlingException", RetryAfter: "1"}, 1)
	_, err := d.Get(context.Background(), "JWT_SECRET_KEY", "")
	if d.ErrorCode(err) != driver.Unavailable {
		t.Fatalf("throttling: code %v, want Unavailable", d.ErrorCode(err))
	}
	var ra interface{ RetryAfter() time.Duration }
	if !errors.As(err, &ra) || ra.RetryAfter() != time.Second {
		t.Fatalf("throttling error does not carry Retry-After: 1")
	}
	// Through the Store: the retry waits the server's Retry-After and succeeds.
	srv.Inject(awsserver.Fault{Op: "GetSecretValue", Status: 429, RetryAfter: "1"}, 1)
	srv.ResetCalls()
	s := faultStore(t, srv.URL, keyward.StoreOptions{Retries: 1})
	if _, err := s.Get(context.Background(), "JWT_SECRET_KEY"); err != nil {
		t.Fatalf("Get after one 429: %v", err)
	}
	if n := srv.Calls("GetSecretValue"); n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}
}

func TestFaultHungResponseHitsDeadline(t *testing.T) {
	srv := awsserver.New(t)
	srv.PutString("dharmamind/production", guideBundle)
	srv.Inject(awsserver.Fault{Op: "GetSecretValue", Hang: true}, -1)
	s := faultStore(t, srv.URL, keyward.StoreOptions{Timeout: 200 * time.Millisecond, Retries: -1})
	_, err := s.Get(context.Background(), "JWT_SECRET_KEY")
	if keyward.ErrorCode(err) != keyward.DeadlineExceeded {
		t.Fatalf("hung response: code %v (%v), want DeadlineExceeded", keyward.ErrorCode(err), err)
	}
}

func TestFaultTruncatedBodyLeaksNothing(t *testing.T) {
	srv := awsserver.New(t)
	canary := "KWCANARY" + strings.Repeat("z", 40)
	srv.PutString("dharmamind/production", `{"jwt_secret_key":"`+canary+`"}`)
	srv.Inject(awsserver.Fault{Op: "GetSecretValue", Truncate: true}, -1)
	s := faultStore(t, srv.URL, keyward.StoreOptions{Retries: 1})
	_, err := s.Get(context.Background(), "JWT_SECRET_KEY")
	if keyward.ErrorCode(err) != keyward.Unavailable {
		t.Fatalf("truncated body: code %v, want Unavailable", keyward.ErrorCode(err))
	}
	if strings.Contains(fmt.Sprintf("%v %+v %#v", err, err, err), "KWCANARY") {
		t.Fatalf("the error for a truncated response quotes the response body")
	}
}

func TestFaultForbiddenNotRetried(t *testing.T) {
	for _, f := range []awsserver.Fault{
		{Op: "GetSecretValue", Status: 403},
		{Op: "GetSecretValue", Status: 400, Type: "AccessDeniedException"},
		{Op: "GetSecretValue", Status: 400, Type: "UnrecognizedClientException"},
	} {
		srv := awsserver.New(t)
		srv.PutString("dharmamind/production", guideBundle)
		srv.Inject(f, -1)
		s := faultStore(t, srv.URL, keyward.StoreOptions{Retries: 3})
		_, err := s.Get(context.Background(), "JWT_SECRET_KEY")
		if keyward.ErrorCode(err) != keyward.PermissionDenied {
			t.Fatalf("%+v: code %v, want PermissionDenied", f, keyward.ErrorCode(err))
		}
		if n := srv.Calls("GetSecretValue"); n != 1 {
			t.Fatalf("%+v: %d requests, want 1: 4xx must not be retried", f, n)
		}
	}
}

func TestFaultStaleIfErrorDuringOutage(t *testing.T) {
	srv := awsserver.New(t)
	srv.PutString("dharmamind/production", guideBundle)
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := faultStore(t, srv.URL, keyward.StoreOptions{TTL: time.Minute, MaxStale: time.Hour, Retries: 1, Clock: clock})
	ctx := context.Background()
	if _, err := s.Get(ctx, "JWT_SECRET_KEY"); err != nil {
		t.Fatal(err)
	}
	srv.Inject(awsserver.Fault{Status: 500}, -1)
	mu.Lock()
	now = now.Add(5 * time.Minute)
	mu.Unlock()
	v, err := s.GetValue(ctx, "JWT_SECRET_KEY", nil)
	if err != nil {
		t.Fatalf("during an outage a cached value must be served: %v", err)
	}
	if !v.Stale || v.Secret.RevealString() != "fake-jwt-secret-for-tests-0123456789abcdef" {
		t.Fatalf("stale=%v; want the cached value marked stale", v.Stale)
	}
	// A key never fetched has nothing to fall back on.
	if _, err := s.Get(ctx, "DATABASE_URL"); keyward.ErrorCode(err) != keyward.Unavailable {
		t.Fatalf("uncached key during outage: code %v, want Unavailable", keyward.ErrorCode(err))
	}
}

func TestWritesAreNotRetried(t *testing.T) {
	srv := awsserver.New(t)
	srv.PutString("dharmamind/production", guideBundle)
	srv.Inject(awsserver.Fault{Op: "PutSecretValue", Status: 500}, 1)
	s := faultStore(t, srv.URL, keyward.StoreOptions{Retries: 3})
	_, err := s.Put(context.Background(), "JWT_SECRET_KEY", keyward.NewSecretString("new"), nil)
	if keyward.ErrorCode(err) != keyward.Unavailable {
		t.Fatalf("Put during a 500: code %v, want Unavailable", keyward.ErrorCode(err))
	}
	if n := srv.Calls("PutSecretValue"); n != 1 {
		t.Fatalf("Put made %d PutSecretValue requests, want 1", n)
	}
	var m map[string]any
	cur, _ := srv.GetCurrent("dharmamind/production")
	if json.Unmarshal([]byte(cur), &m) != nil || m["jwt_secret_key"] != "fake-jwt-secret-for-tests-0123456789abcdef" {
		t.Fatalf("a failed write changed the current value")
	}
}

func TestNoCredentialsIsPermissionDenied(t *testing.T) {
	srv := awsserver.New(t)
	empty := secretsmanager.New(secretsmanager.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{}, errors.New("no credentials in the test's chain")
		})})
	s, _ := awssm.OpenStore("dharmamind/production", &awssm.Options{Client: empty}, &keyward.StoreOptions{Retries: 2, RetryBase: time.Millisecond})
	defer s.Close()
	_, err := s.Get(context.Background(), "JWT_SECRET_KEY")
	if keyward.ErrorCode(err) != keyward.PermissionDenied {
		t.Fatalf("no credentials: code %v (%v), want PermissionDenied", keyward.ErrorCode(err), err)
	}
	if n := srv.Calls(""); n != 0 {
		t.Fatalf("%d requests reached the server without credentials", n)
	}
}

// The two modes are two driver types, each with only the abilities it
// has: the bundle rotates through fields and is no Rotator (a plugin
// serving it offers no native rotation); the per-key driver rotates with
// staging labels. Both read in batches and stamp changes.
func TestModesAreTwoDrivers(t *testing.T) {
	srv := awsserver.New(t)
	for _, tc := range []struct {
		mode   awssm.Mode
		layout driver.RotationLayout
		rotate bool
	}{
		{awssm.ModeBundle, driver.LayoutFields, false},
		{awssm.ModeKeys, driver.LayoutNative, true},
	} {
		d, err := awssm.NewDriver("dharmamind/production", &awssm.Options{Mode: tc.mode, Client: testClient(srv.URL)})
		if err != nil {
			t.Fatal(err)
		}
		if got := driver.LayoutOf(d, "JWT_SECRET_KEY"); got != tc.layout {
			t.Errorf("%s: layout %v, want %v", tc.mode, got, tc.layout)
		}
		if driver.Has(d, driver.AbilityRotate) != tc.rotate {
			t.Errorf("%s: Rotator = %v, want %v", tc.mode, !tc.rotate, tc.rotate)
		}
		for _, a := range []driver.Ability{driver.AbilityList, driver.AbilityWrite, driver.AbilityDelete,
			driver.AbilityVersions, driver.AbilityBatchGet, driver.AbilityStamps} {
			if !driver.Has(d, a) {
				t.Errorf("%s: no %s", tc.mode, a)
			}
		}
		d.Close()
	}
	if _, err := awssm.NewDriver("", nil); err == nil {
		t.Error("a bundle without a secret name opened")
	}
	if _, err := awssm.NewDriver("", &awssm.Options{Mode: awssm.ModeKeys}); err != nil {
		t.Errorf("keys mode with no prefix (each key a secret name): %v", err)
	}
	if _, err := awssm.NewDriver("x", &awssm.Options{Mode: "other"}); err == nil {
		t.Error("an unknown mode opened")
	}
}
