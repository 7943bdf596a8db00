package run

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/provider/mem"
)

// TestSecurityChildEnvHasNoKeywardCredentials: the child of `keyward run`
// never sees keyward's own credentials unless --pass-keyward-env, and with
// --only it sees the named keys plus keyward's non-credential environment,
// nothing else from any store (no reference elsewhere is resolved).
func TestSecurityChildEnvHasNoKeywardCredentials(t *testing.T) {
	const (
		canaryIdentity = "AGE-SECRET-KEY-1KWCANARYIDENTITY0000000000000000000000000000000000000000"
		canaryRef      = "KWCANARY-ref-value-9a8b7c"
	)
	creds := []string{
		"KEYWARD_AGE_IDENTITY=" + canaryIdentity,
		"KEYWARD_AGE_IDENTITY_FILE=/home/u/.config/keyward/identity.txt",
		"KEYWARD_SCAN_KEY=KWCANARY-scan-key-11",
		"KEYWARD_AUDIT_KEY=KWCANARY-audit-key-22",
		"KEYWARD_VAULT_TOKEN=KWCANARY-future-token-33", // caught by the suffix rule
	}
	names := []string{"KEYWARD_AGE_IDENTITY", "KEYWARD_AGE_IDENTITY_FILE", "KEYWARD_SCAN_KEY", "KEYWARD_AUDIT_KEY", "KEYWARD_VAULT_TOKEN"}
	const refURL = "ref+mem://elsewhere#/R"
	base := func() []string {
		return append([]string{"USER_VAR=kept", "KEYWARD_STORE=local://keyward.age", "OTHER_REF=" + refURL}, creds...)
	}
	fx := newFixture(t)
	var resolvedRefs []string
	resolver := func() *keyward.Resolver {
		return &keyward.Resolver{Open: func(ctx context.Context, url string) (*keyward.Store, error) {
			resolvedRefs = append(resolvedRefs, url)
			s := mem.NewBackend().OpenStore(&keyward.StoreOptions{URL: url})
			_, err := s.Put(ctx, "R", keyward.NewSecretString(canaryRef), nil)
			return s, err
		}}
	}
	unset := func(ns ...string) string {
		var b strings.Builder
		for _, n := range ns {
			b.WriteString(n + "=unset\n")
		}
		return b.String()
	}
	lens := func(kv ...string) string {
		var b strings.Builder
		for _, e := range kv {
			n, v, _ := strings.Cut(e, "=")
			b.WriteString(n + "=" + strconv.Itoa(len(v)) + "\n")
		}
		return b.String()
	}
	for _, tc := range []struct {
		name      string
		o         Options
		want      string
		wantRefs  int
		wantCreds bool
	}{
		{name: "default: credentials removed", o: Options{},
			want:     "A=" + la + "\nB=" + lb + "\nUSER_VAR=4\nKEYWARD_STORE=19\nOTHER_REF=" + strconv.Itoa(len(canaryRef)) + "\n" + unset(names...),
			wantRefs: 1},
		{name: "--only: the named key and the plain environment, no other reference resolved", o: Options{Only: []string{"B"}},
			want: "A=unset\nB=" + lb + "\nUSER_VAR=4\nKEYWARD_STORE=19\nOTHER_REF=" + strconv.Itoa(len(refURL)) + "\n" + unset(names...)},
		{name: "--pass-keyward-env keeps them", o: Options{Only: []string{"A"}, PassKeywardEnv: true},
			want:      "A=" + la + "\nB=unset\nUSER_VAR=4\nKEYWARD_STORE=19\nOTHER_REF=" + strconv.Itoa(len(refURL)) + "\n" + lens(creds...),
			wantCreds: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resolvedRefs = nil
			o := tc.o
			o.Environ = base
			o.Resolver = resolver
			args := append([]string{"A", "B", "USER_VAR", "KEYWARD_STORE", "OTHER_REF"}, names...)
			out, errOut, err := fx.child(t, o, "env", args...)
			if err != nil {
				t.Fatalf("run: %v (stderr %d bytes)", err, len(errOut))
			}
			if out != tc.want {
				t.Errorf("child saw\n%s\nwant\n%s", out, tc.want)
			}
			if len(resolvedRefs) != tc.wantRefs {
				t.Errorf("resolved %d references, want %d", len(resolvedRefs), tc.wantRefs)
			}
			if !tc.wantCreds {
				// The exact value never reaches the child.
				if _, _, err := fx.child(t, o, "match", "KEYWARD_AGE_IDENTITY", canaryIdentity); err == nil {
					t.Error("the child received KEYWARD_AGE_IDENTITY")
				}
			}
		})
	}
}
