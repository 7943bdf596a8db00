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
