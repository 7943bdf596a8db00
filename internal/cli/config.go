package cli

import (
	"sync"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/scan"
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
	f.DefaultEnv = func(f *cmdutil.Factory) (string, error) {
		c, err := projectConfig(f)
		if err != nil || c == nil {
			return "", err
		}
		return c.DefaultEnvironment, nil
	}
}
