package cli

import (
	"path/filepath"
	"sync"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/scan"
	sc "github.com/keyward/keyward/scan"
	"github.com/keyward/keyward/schema"
)

// keyward.yaml support: --env NAME and the default environment resolve to
// the project's environments for every verb.
func init() {
	factoryHooks = append(factoryHooks, installProject)
	scan.Environments = func(f *cmdutil.Factory) ([]string, error) {
		c, err := projectConfig(f)
		if err != nil || c == nil {
			return nil, err
		}
		return c.EnvOrder, nil
	}
	scan.PublicValues = func(f *cmdutil.Factory) func(m sc.Managed) bool {
		c, err := projectConfig(f)
		// Only a file named as an example counts: keyward.yaml is the
		// repository's, and `example: .env` must not make real values
		// invisible to scan.
		if err != nil || c == nil || c.ExamplePath() == "" || !schema.IsExampleFile(filepath.Base(c.ExamplePath())) {
			return nil
		}
		public := c.ExampleValues()
		if len(public) == 0 {
			return nil
		}
		return func(m sc.Managed) bool {
			// A production value equal to an example default is itself a
			// leak to report (validate flags it too), never public.
			if e := c.Environments[m.Env]; e != nil && e.IsProduction() {
				return false
			}
			return public[m.Value.RevealString()]
		}
	}
}

type projectState struct {
	once sync.Once
	cfg  *schema.Config
	err  error
}

var (
	projectsMu sync.Mutex
	projects   = map[*cmdutil.Factory]*projectState{}
)

// projectConfig loads keyward.yaml once per Factory (after the flags are
// parsed, so --config counts). It returns nil when there is none.
func projectConfig(f *cmdutil.Factory) (*schema.Config, error) {
	projectsMu.Lock()
	st := projects[f]
	if st == nil {
		st = &projectState{}
		projects[f] = st
	}
	projectsMu.Unlock()
	st.once.Do(func() { st.cfg, st.err = schema.LoadProject(f.ConfigPath) })
	return st.cfg, st.err
}

func installProject(f *cmdutil.Factory) {
	f.ResolveEnv = func(f *cmdutil.Factory, name string) (string, error) {
		c, err := projectConfig(f)
		if err != nil {
			return "", err
		}
		if c == nil {
			return "", cmdutil.WithHint(
				keyward.Errorf(keyward.InvalidArgument, "select environment", "--env %s needs a keyward.yaml, and there is none here or in any parent directory", name),
				"create one (see docs/schema.md), pass --config PATH, or pick a store with --store URL")
		}
		u, err := c.StoreURL(name)
		if err != nil {
			return "", err
		}
		// keyward.yaml is the repository's: its store URLs may not steer
		// the user's credentials (see keyward.TrustPolicy).
		if err := f.CheckURL(u, keyward.OriginProject); err != nil {
			return "", err
		}
		return u, nil
	}
	f.Delivery = func(f *cmdutil.Factory) (*cmdutil.DeliveryConfig, error) {
		c, err := projectConfig(f)
		if err != nil || c == nil {
			return nil, err
		}
		return &cmdutil.DeliveryConfig{OldSuffix: c.Delivery.OldSuffix, NumberedRing: c.Delivery.NumberedRing}, nil
	}
	f.DeclaredKeys = func(f *cmdutil.Factory) []string {
		c, err := projectConfig(f)
		if err != nil || c == nil {
			return nil
		}
		return append([]string{}, c.Order...)
	}
	f.CheckValue = func(f *cmdutil.Factory, key, env string, v keyward.Secret) []string {
		c, err := projectConfig(f)
		if err != nil || c == nil {
			return nil
		}
		var out []string
		for _, fd := range c.CheckValue(key, env, v) {
			if fd.Severity == schema.SeverityOff {
				continue
			}
			where := ""
			if env != "" {
				where = " in " + env
			}
			out = append(out, fd.Message+" ("+fd.Check+where+"; stored anyway, 'keyward validate' will report it)")
		}
		return out
	}
	f.DefaultEnv = func(f *cmdutil.Factory) (string, error) {
		c, err := projectConfig(f)
		if err != nil || c == nil {
			return "", err
		}
		return c.DefaultEnvironment, nil
	}
}
