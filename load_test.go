package keyward_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/provider/mem"
)

func loadStore(t *testing.T, vals map[string]string) *keyward.Store {
	t.Helper()
	s := mem.NewBackend().OpenStore(&keyward.StoreOptions{URL: "mem://load"})
	for k, v := range vals {
		if _, err := s.Put(context.Background(), k, keyward.NewSecretString(v), nil); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

type dbConfig struct {
	URL string `secret:"DATABASE_URL"`
}

type appConfig struct {
	JWT      keyward.Secret `secret:"JWT_SECRET_KEY,min=32"`
	DB       dbConfig
	Port     int           `secret:"PORT" default:"8080"`
	Debug    bool          `secret:"DEBUG,optional"`
	Timeout  time.Duration `secret:"TIMEOUT" default:"5s"`
	Ratio    float64       `secret:"RATIO,optional"`
	Raw      []byte        `secret:"RAW,optional"`
	IP       net.IP        `secret:"BIND_IP,optional"`
	Count    uint8         `secret:"COUNT,optional"`
	Ignored  string        `secret:"-"`
	Untagged string
}

func TestLoadFillsEveryKind(t *testing.T) {
	const jwt = "KWCANARY-load-jwt-0123456789abcdefghij"
	s := loadStore(t, map[string]string{
		"JWT_SECRET_KEY": jwt, "DATABASE_URL": "postgres://u:p@h/db", "DEBUG": "true",
		"RATIO": "0.25", "RAW": "bytes", "BIND_IP": "10.0.0.1", "COUNT": "200", "TIMEOUT": "2m",
	})
	cfg := appConfig{Untagged: "kept"}
	if err := keyward.Load(context.Background(), s, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.JWT.RevealString() != jwt || cfg.DB.URL != "postgres://u:p@h/db" || cfg.Port != 8080 || !cfg.Debug ||
		cfg.Timeout != 2*time.Minute || cfg.Ratio != 0.25 || string(cfg.Raw) != "bytes" || cfg.IP.String() != "10.0.0.1" ||
		cfg.Count != 200 || cfg.Untagged != "kept" || cfg.Ignored != "" {
		t.Fatalf("fields not filled as expected (port %d, debug %v, timeout %v, count %d)", cfg.Port, cfg.Debug, cfg.Timeout, cfg.Count)
	}
}

// TestLoadReportsEveryProblem: Load fails with every problem at once, each
// naming the secret and the field, none containing a value.
func TestLoadReportsEveryProblem(t *testing.T) {
	const canary = "KWCANARY-short"
	s := loadStore(t, map[string]string{
		"JWT_SECRET_KEY": canary,         // too short
		"PORT":           "KWCANARY-80x", // not a number
		"COUNT":          "999",          // overflows uint8
		"BIND_IP":        "KWCANARY-ip",  // TextUnmarshaler refuses
		"TIMEOUT":        "KWCANARY-t",   // not a duration
	})
	var cfg appConfig
	err := keyward.Load(context.Background(), s, &cfg)
	var me keyward.MultiError
	if !errors.As(err, &me) {
		t.Fatalf("want a MultiError, got %T", err)
	}
	want := map[string]keyward.Code{
		"JWT_SECRET_KEY": keyward.InvalidArgument, "DATABASE_URL": keyward.NotFound, "PORT": keyward.InvalidArgument,
		"COUNT": keyward.InvalidArgument, "BIND_IP": keyward.InvalidArgument, "TIMEOUT": keyward.InvalidArgument,
	}
	if len(me) != len(want) {
		t.Fatalf("got %d errors, want %d", len(me), len(want))
	}
	for _, e := range me {
		var ke *keyward.Error
		if !errors.As(e, &ke) || want[ke.Key] != ke.Code {
			t.Errorf("unexpected error for key %q (code %v)", ke.Key, keyward.ErrorCode(e))
		}
		delete(want, ke.Key)
	}
	if strings.Contains(err.Error(), "KWCANARY") {
		t.Fatal("an error message contains a value")
	}
	for _, w := range []string{"appConfig.JWT", "needs at least 32", "appConfig.DB.URL", "fits in 8 bits"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q", w)
		}
	}
	if !errors.Is(err, keyward.ErrNotFound) {
		t.Error("errors.Is(err, ErrNotFound) is false for a missing secret")
	}
}

func TestLoadBadDestination(t *testing.T) {
	s := loadStore(t, nil)
	var n int
	for name, dst := range map[string]any{
		"nil":        nil,
		"non-ptr":    appConfig{},
		"ptr-to-int": &n,
		"bad option": &struct {
			A string `secret:"A,minimum=3"`
		}{},
		"empty name": &struct {
			A string `secret:",optional"`
		}{},
		"bad type": &struct {
			A map[string]string `secret:"A"`
		}{},
		"unexported": &struct {
			a string `secret:"A"`
		}{},
	} {
		if err := keyward.Load(context.Background(), s, dst); keyward.ErrorCode(err) != keyward.InvalidArgument {
			t.Errorf("%s: got %v, want invalid argument", name, err)
		}
	}
}

func TestLoadStoreFailure(t *testing.T) {
	b := mem.NewBackend()
	s := b.OpenStore(&keyward.StoreOptions{Retries: -1})
	b.SetFailure(func(string) error { return keyward.ErrUnavailable })
	var cfg struct {
		A string `secret:"A"`
		B string `secret:"B,optional"`
	}
	err := keyward.Load(context.Background(), s, &cfg)
	if keyward.ErrorCode(err) != keyward.Unavailable {
		t.Fatalf("got %v, want unavailable", err)
	}
}

func ExampleLoad() {
	ctx := context.Background()
	store := mem.NewBackend().OpenStore(nil)
	_, _ = store.Put(ctx, "JWT_SECRET_KEY", keyward.NewSecretString("kq3Vd9Zr_T7mXw2LpB8sYh4NcF6jUe1GaR5tQo0iKzE"), nil)

	var cfg struct {
		JWTSecret   keyward.Secret `secret:"JWT_SECRET_KEY,min=32"`
		DatabaseURL string         `secret:"DATABASE_URL"`
		Port        int            `secret:"PORT" default:"8080"`
	}
	err := keyward.Load(ctx, store, &cfg)
	fmt.Println(err)
	fmt.Println(cfg.JWTSecret, cfg.Port)
	// Output:
	// keyward: failed to load "DATABASE_URL": not found: required by DatabaseURL
	// [REDACTED] 8080
}
