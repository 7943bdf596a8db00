package keyward_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/provider/mem"
)

func TestParseRef(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    keyward.Ref
		wantErr string
	}{
		{in: "ref+vault://vault.example.com/dharmamind/production#/JWT_SECRET_KEY",
			want: keyward.Ref{StoreURL: "vault://vault.example.com/dharmamind/production", Key: "JWT_SECRET_KEY"}},
		{in: "ref+awssm://dharmamind/production?region=us-east-1#/stripe/secret_key",
			want: keyward.Ref{StoreURL: "awssm://dharmamind/production?region=us-east-1", Key: "stripe", Path: []string{"secret_key"}}},
		{in: "ref+local://keyward.age#/a~1b/c~0d",
			want: keyward.Ref{StoreURL: "local://keyward.age", Key: "a/b", Path: []string{"c~d"}}},
		{in: "keyward://production/JWT_SECRET_KEY", want: keyward.Ref{Env: "production", Key: "JWT_SECRET_KEY"}},
		{in: "keyward://production/CFG#/db/password", want: keyward.Ref{Env: "production", Key: "CFG", Path: []string{"db", "password"}}},
		{in: "ref+vault://x/y", wantErr: "needs a #/KEY"},
		{in: "ref+vault://x/y#KEY", wantErr: "JSON pointer"},
		{in: "ref+vault://x/y#/", wantErr: "needs a key"},
		{in: "ref+://x#/K", wantErr: "ref+SCHEME"},
		{in: "ref+vault:/x#/K", wantErr: "ref+SCHEME"},
		{in: "ref+vault://x#/a~2", wantErr: "escape"},
		{in: "ref+vault://x#/a#/b", wantErr: "more than one"},
		{in: "keyward://production", wantErr: "keyward://ENV/KEY"},
		{in: "keyward:///K", wantErr: "keyward://ENV/KEY"},
		{in: "plain-value", wantErr: "not a reference"},
	} {
		got, err := keyward.ParseRef(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseRef(%q) error = %v, want one containing %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseRef(%q): %v", tc.in, err)
			continue
		}
		if got.StoreURL != tc.want.StoreURL || got.Env != tc.want.Env || got.Key != tc.want.Key || !slices.Equal(got.Path, tc.want.Path) {
			t.Errorf("ParseRef(%q) = %+v, want %+v", tc.in, *got, tc.want)
		}
		again, err := keyward.ParseRef(got.String())
		if err != nil || again.String() != got.String() {
			t.Errorf("round trip of %q through %q failed: %v", tc.in, got.String(), err)
		}
	}
}

func TestResolver(t *testing.T) {
	ctx := context.Background()
	b := mem.NewBackend()
	s := b.OpenStore(nil)
	_, _ = s.Put(ctx, "JWT", keyward.NewSecretString("jwt-value"), nil)
	_, _ = s.Put(ctx, "CFG", keyward.NewSecretString(`{"db":{"password":"p@ss","port":5432},"hosts":["a","b"]}`), nil)
	opens := 0
	r := &keyward.Resolver{
		Open:    func(context.Context, string) (*keyward.Store, error) { opens++; return b.OpenStore(nil), nil },
		OpenEnv: func(context.Context, string) (*keyward.Store, error) { return b.OpenStore(nil), nil },
	}
	for ref, want := range map[string]string{
		"ref+mem://x#/JWT":             "jwt-value",
		"ref+mem://x#/CFG/db/password": "p@ss",
		"ref+mem://x#/CFG/db/port":     "5432",
		"ref+mem://x#/CFG/hosts/1":     "b",
		"ref+mem://x#/CFG/db":          `{"password":"p@ss","port":5432}`,
		"keyward://production/JWT":     "jwt-value",
	} {
		got, err := r.Resolve(ctx, ref)
		if err != nil || got.RevealString() != want {
			t.Errorf("Resolve(%s): err %v, value matches: %v", ref, err, got.RevealString() == want)
		}
	}
	if opens != 1 {
		t.Errorf("the same store URL was opened %d times, want once", opens)
	}
	for ref, code := range map[string]keyward.Code{
		"ref+mem://x#/MISSING":       keyward.NotFound,
		"ref+mem://x#/CFG/db/nope":   keyward.NotFound,
		"ref+mem://x#/JWT/walk":      keyward.InvalidArgument,
		"ref+mem://x#/CFG/hosts/9":   keyward.NotFound,
		"ref+mem://x#/CFG/db/port/x": keyward.NotFound,
	} {
		_, err := r.Resolve(ctx, ref)
		if keyward.ErrorCode(err) != code {
			t.Errorf("Resolve(%s) = %v, want code %v", ref, err, code)
		}
		if err != nil && (strings.Contains(err.Error(), "p@ss") || strings.Contains(err.Error(), "jwt-value")) {
			t.Errorf("error for %s contains a secret value", ref)
		}
	}
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"ref+vault://h/p#/K", "ref+awssm://a/b?region=x#/k/0", "keyward://prod/K#/a", "ref+local://f#/a~1b~0", "ref+x://#/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := keyward.ParseRef(s)
		if err != nil {
			return
		}
		again, err := keyward.ParseRef(r.String())
		if err != nil {
			t.Fatalf("canonical form %q of an accepted reference does not parse: %v", r.String(), err)
		}
		if again.String() != r.String() || again.Key != r.Key || !slices.Equal(again.Path, r.Path) {
			t.Fatalf("round trip changed the reference")
		}
	})
}
