package rotate

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/iostreams"
)

// TestSecurityChildEnvHasNoKeywardCredentials (rotate --exec): the command
// --exec runs gets keyward's environment without keyward's own credentials,
// plus KEYWARD_ROTATED_KEY and KEYWARD_NEW_VERSION; --pass-keyward-env keeps
// the credentials.
func TestSecurityChildEnvHasNoKeywardCredentials(t *testing.T) {
	const canaryIdentity = "AGE-SECRET-KEY-1KWCANARYROTATE000000000000000000000000000000000000000000"
	creds := []string{"KEYWARD_AGE_IDENTITY=" + canaryIdentity, "KEYWARD_AGE_IDENTITY_FILE=/id.txt",
		"KEYWARD_SCAN_KEY=KWCANARY-scan", "KEYWARD_AUDIT_KEY=KWCANARY-audit"}
	for _, pass := range []bool{false, true} {
		t.Run(map[bool]string{false: "default", true: "--pass-keyward-env"}[pass], func(t *testing.T) {
			ctx := context.Background()
			o, s, _, _ := newFixture(t)
			if _, err := s.Put(ctx, "JWT_SECRET_KEY", keyward.NewSecretString(canary), nil); err != nil {
				t.Fatal(err)
			}
			var execEnv []string
			o.Key, o.Exec, o.PassKeywardEnv = "JWT_SECRET_KEY", "deploy", pass
			o.Environ = func() []string { return append([]string{"PATH=/bin"}, creds...) }
			o.RunExec = func(_ context.Context, _ string, env []string, _ *iostreams.IOStreams) error {
				execEnv = env
				return nil
			}
			if err := run(ctx, o); err != nil {
				t.Fatal(err)
			}
			for _, c := range creds {
				name, _, _ := strings.Cut(c, "=")
				if got := slices.Contains(execEnv, c); got != pass {
					t.Errorf("%s in --exec's environment: %v, want %v", name, got, pass)
				}
			}
			for _, want := range []string{"PATH=/bin", "KEYWARD_ROTATED_KEY=JWT_SECRET_KEY"} {
				if !slices.Contains(execEnv, want) {
					t.Errorf("--exec's environment lacks %s", want)
				}
			}
			if !slices.ContainsFunc(execEnv, func(kv string) bool { return strings.HasPrefix(kv, "KEYWARD_NEW_VERSION=") }) {
				t.Error("--exec's environment lacks KEYWARD_NEW_VERSION")
			}
		})
	}
}
