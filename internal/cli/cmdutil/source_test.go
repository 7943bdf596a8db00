package cmdutil_test

import (
	"context"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
	_ "github.com/keyward/keyward/provider/env"
	_ "github.com/keyward/keyward/provider/mem"
)

// OpenStore records the rule that chose the store and says it on stderr:
// always for an environment variable, on a terminal for every rule.
func TestOpenStoreSaysWhichRuleChoseTheStore(t *testing.T) {
	for _, tc := range []struct {
		name       string
		flag, env  string
		vars       map[string]string
		defaultEnv string
		tty        bool
		source     string
		note       string // "" means no note
	}{
		{name: "flag", flag: "mem://a", source: "--store"},
		{name: "flag on a terminal", flag: "mem://a", tty: true, source: "--store", note: "keyward: using mem://a (chosen by --store)\n"},
		{name: "--env", env: "dev", source: "--env"},
		{name: "--env on a terminal", env: "dev", tty: true, source: "--env", note: `keyward: using mem://dev (environment "dev" of keyward.yaml, chosen by --env)` + "\n"},
		{name: "KEYWARD_STORE", vars: map[string]string{"KEYWARD_STORE": "mem://k"}, source: "KEYWARD_STORE", note: "keyward: using mem://k (chosen by KEYWARD_STORE)\n"},
		{name: "SECRET_PROVIDER", vars: map[string]string{"SECRET_PROVIDER": "env"}, source: "SECRET_PROVIDER", note: "keyward: using env:// (chosen by SECRET_PROVIDER=env)\n"},
		{name: "keyward.yaml", defaultEnv: "dev", source: "keyward.yaml"},
		{name: "keyward.yaml on a terminal", defaultEnv: "dev", tty: true, source: "keyward.yaml", note: `keyward: using mem://dev (environment "dev", keyward.yaml's default_environment)` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ios, _, _, errOut := iostreams.Test()
			ios.SetTTY(false, false, tc.tty)
			f := &cmdutil.Factory{IO: ios, Getenv: func(k string) string { return tc.vars[k] }, StoreURL: tc.flag, EnvName: tc.env}
			f.ResolveEnv = func(name string) (string, error) { return "mem://" + name, nil }
			f.DefaultEnv = func() (string, error) { return tc.defaultEnv, nil }
			defer f.Close()
			s, err := f.OpenStore(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Sources().Of(s); got != tc.source {
				t.Errorf("Sources().Of = %q, want %q", got, tc.source)
			}
			if got := cmdutil.NewWith(ios, f.Getenv, nil, nil).Sources().Of(s); got != "" {
				t.Errorf("another Factory's book knows the store: %q", got)
			}
			if got := errOut.String(); got != tc.note {
				t.Errorf("stderr = %q, want %q", got, tc.note)
			}
			if strings.Count(errOut.String(), "\n") > 1 {
				t.Error("more than one line")
			}
		})
	}
}
