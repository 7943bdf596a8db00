package cloudsm

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
)

func TestNames(t *testing.T) {
	for _, tc := range []struct{ key, name, back string }{
		{"JWT_SECRET_KEY", "jwt-secret-key", "JWT_SECRET_KEY"},
		{"jwt_secret_key", "jwt-secret-key", "JWT_SECRET_KEY"},
		{"jwt-secret-key", "jwt-secret-key", "JWT_SECRET_KEY"},
		{"Key2_B", "key2-b", "KEY2_B"},
	} {
		if got := GuideName(tc.key); got != tc.name {
			t.Errorf("GuideName(%s) = %s, want %s", tc.key, got, tc.name)
		}
		if got := KeyName(tc.name); got != tc.back {
			t.Errorf("KeyName(%s) = %s, want %s", tc.name, got, tc.back)
		}
		if GuideName(KeyName(tc.name)) != tc.name {
			t.Errorf("a listed key does not map back to %s", tc.name)
		}
	}
	// Names GuideName cannot produce are listed as they are.
	for _, n := range []string{"Legacy_Secret", "UPPER", "with_underscore", "dot.ted"} {
		if got := KeyName(n); got != n {
			t.Errorf("KeyName(%s) = %s, want it unchanged", n, got)
		}
	}
}

func TestParseQuery(t *testing.T) {
	env := map[string]string{"X_ENDPOINT": " 127.0.0.1:9 "}
	getenv := func(k string) string { return env[k] }
	for _, tc := range []struct {
		raw     string
		want    Query
		wantErr string
	}{
		{raw: "p://h", want: Query{Endpoint: "127.0.0.1:9"}},
		{raw: "p://h?names=guide", want: Query{Endpoint: "127.0.0.1:9"}},
		{raw: "p://h?names=exact&endpoint=https://e:1", want: Query{Endpoint: "https://e:1", ExactNames: true}},
		{raw: "p://h?endpoint=", want: Query{Endpoint: "127.0.0.1:9"}},
		{raw: "p://h?names=Exact", wantErr: "p: names= must be guide or exact"},
		{raw: "p://h?region=x", wantErr: `p: unknown query parameter "region"`},
		// The same URL always gives the same error.
		{raw: "p://h?zz=1&aa=1", wantErr: `"aa"`},
	} {
		u, err := url.Parse(tc.raw)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseQuery("p", u, "X_ENDPOINT", getenv)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || keyward.ErrorCode(err) != keyward.InvalidArgument {
				t.Errorf("%s: %v, want InvalidArgument containing %q", tc.raw, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v, %v, want %+v", tc.raw, got, err, tc.want)
		}
	}
}

func TestLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "127.0.0.1": true, "127.9.9.9": true, "::1": true,
		"10.0.0.1": false, "example.com": false, "localhost.example.com": false, "": false,
	} {
		if Loopback(host) != want {
			t.Errorf("Loopback(%q) = %v", host, !want)
		}
	}
}

func TestContextError(t *testing.T) {
	rpc := errors.New("rpc error: code = Unavailable")
	if ContextError(context.Background(), rpc) != nil {
		t.Fatal("a live context marked an error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := ContextError(ctx, rpc)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, rpc) || err.Error() != rpc.Error() {
		t.Fatalf("ContextError = %v: want the call's error, marked Canceled", err)
	}
	dl, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	if err := ContextError(dl, rpc); !errors.Is(err, context.DeadlineExceeded) || driver.ContextErr(dl) == nil {
		t.Fatalf("a passed deadline: %v, want DeadlineExceeded", err)
	}
}

func TestRetryAfter(t *testing.T) {
	for h, want := range map[string]time.Duration{
		"": 0, "7": 7 * time.Second, " 3 ": 3 * time.Second, "0": 0, "-1": 0, "soon": 0,
		time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat): 0,
	} {
		if got := RetryAfter(h); got != want {
			t.Errorf("RetryAfter(%q) = %v, want %v", h, got, want)
		}
	}
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	if got := RetryAfter(future); got <= 0 || got > time.Hour {
		t.Errorf("RetryAfter(an hour from now) = %v", got)
	}
}

// TestRetryAfterAt: the cases vault pinned when it had its own copy.
func TestRetryAfterAt(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"3", 3 * time.Second}, {" 10 ", 10 * time.Second}, {"0", 0}, {"-1", 0}, {"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	} {
		if got := RetryAfterAt(tc.in, now); got != tc.want {
			t.Errorf("RetryAfterAt(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestURLForm(t *testing.T) {
	var gotLoc string
	var gotQ Query
	f := &URLForm{Scheme: "p", EndpointEnv: "X_ENDPOINT",
		Locate: func(u *url.URL, getenv func(string) string, op string) (string, error) {
			if u.Host == "" {
				return FromEnv("p", "thing", "X_THING", getenv, op)
			}
			return u.Host, nil
		},
		New: func(loc string, q Query) (driver.Store, error) { gotLoc, gotQ = loc, q; return nil, nil },
	}
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	u, _ := url.Parse("p://?names=exact")
	_, err := f.Open(u, getenv)
	if keyward.ErrorCode(err) != keyward.InvalidArgument || !strings.Contains(err.Error(), "p:// names no thing and X_THING is not set") {
		t.Fatalf("p:// without X_THING: %v", err)
	}
	env["X_THING"], env["X_ENDPOINT"] = " from-env ", "127.0.0.1:1"
	if _, err := f.Open(u, getenv); err != nil || gotLoc != "from-env" || gotQ != (Query{Endpoint: "127.0.0.1:1", ExactNames: true}) {
		t.Fatalf("Open = %q %+v %v", gotLoc, gotQ, err)
	}
	u, _ = url.Parse("p://host?bogus=1")
	if _, err := f.Open(u, getenv); err == nil || !strings.Contains(err.Error(), "unknown query parameter") {
		t.Fatalf("an unknown parameter opened: %v", err)
	}
}

type fakeClient struct{ n int }

func TestClient(t *testing.T) {
	var l Client[fakeClient]
	closed := errors.New("closed")
	made := 0
	fail := true
	mk := func() (*fakeClient, error) {
		made++
		if fail {
			return nil, errors.New("no credentials")
		}
		return &fakeClient{n: made}, nil
	}
	if _, err := l.Get(mk, closed); err == nil {
		t.Fatal("a failed make returned a client")
	}
	fail = false
	c1, err := l.Get(mk, closed)
	if err != nil || c1.n != 2 {
		t.Fatalf("after a failure the client is made again: %v %v", c1, err)
	}
	if c2, _ := l.Get(mk, closed); c2 != c1 || made != 2 {
		t.Fatalf("the client is made once (made %d times)", made)
	}
	var target *fakeClient
	if !As(&target, func() (*fakeClient, error) { return l.Get(mk, closed) }) || target != c1 {
		t.Fatal("As did not set the client")
	}
	var wrong *int
	if As(&wrong, func() (*fakeClient, error) { return l.Get(mk, closed) }) {
		t.Fatal("As accepted another type")
	}
	released := 0
	rel := func(c *fakeClient) error { released++; return nil }
	if err := l.Close(rel); err != nil || released != 1 {
		t.Fatalf("Close: %v, released %d", err, released)
	}
	if err := l.Close(rel); err != nil || released != 1 {
		t.Fatalf("a second Close released again (%d)", released)
	}
	if _, err := l.Get(mk, closed); !errors.Is(err, closed) {
		t.Fatalf("Get after Close: %v, want the closed error", err)
	}
	if As(&target, func() (*fakeClient, error) { return l.Get(mk, closed) }) {
		t.Fatal("As after Close")
	}
}
