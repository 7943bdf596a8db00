package cmdutil

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/audit"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/internal/fsutil"
	"github.com/keyward/keyward/schema"
)

// New returns a Factory over the real process: its streams, environment
// and clock.
func New() *Factory {
	return NewWith(iostreams.System(), os.Getenv, os.Environ, time.Now)
}

// NewWith returns a Factory over the given streams, environment and clock
// (tests run the whole CLI in-process with it). It is the one place the
// Factory's function fields are wired: the keyward.yaml support and the
// audit trail.
func NewWith(ios *iostreams.IOStreams, getenv func(string) string, environ func() []string, now func() time.Time) *Factory {
	f := &Factory{IO: ios, Getenv: getenv, Environ: environ, Now: now}
	f.wireProject()
	f.wireAudit()
	return f
}

// projectFile is keyward.yaml as read for this command: its path ("" when
// there is none), its bytes and the error reading it.
type projectFile struct {
	path string
	data []byte
	err  error
}

// wireProject sets the fields that answer from keyward.yaml. The file is
// read once, on first use (after the flags are parsed, so --config
// counts), and that one read serves both the schema (Project) and audit's
// section (AuditConfig).
func (f *Factory) wireProject() {
	if f.ReadProjectFile == nil {
		f.ReadProjectFile = func(path string) ([]byte, error) { return fsutil.ReadFile(path, fsutil.MaxProjectFile) }
	}
	file := sync.OnceValue(func() projectFile {
		p := f.ProjectConfigPath()
		if p == "" {
			return projectFile{}
		}
		b, err := f.ReadProjectFile(p)
		return projectFile{path: p, data: b, err: err}
	})
	f.Project = sync.OnceValues(func() (*schema.Config, error) {
		pf := file()
		if pf.path == "" {
			return nil, nil
		}
		return schema.LoadRead(pf.path, pf.data, pf.err)
	})
	f.AuditConfig = sync.OnceValues(func() (audit.Effective, error) {
		pf := file()
		return audit.ResolveRead(f.Getenv, pf.path, pf.data, pf.err)
	})
	f.Environments = func() ([]string, error) {
		c, err := f.Project()
		if err != nil || c == nil {
			return nil, err
		}
		return append([]string(nil), c.EnvOrder...), nil
	}
	f.ResolveEnv = func(name string) (string, error) {
		c, err := f.Project()
		if err != nil {
			return "", err
		}
		if c == nil {
			return "", WithHint(
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
	f.DefaultEnv = func() (string, error) {
		c, err := f.Project()
		if err != nil || c == nil {
			return "", err
		}
		return c.DefaultEnvironment, nil
	}
	f.Delivery = func() (*DeliveryConfig, error) {
		c, err := f.Project()
		if err != nil || c == nil {
			return nil, err
		}
		return &DeliveryConfig{OldSuffix: c.Delivery.OldSuffix, NumberedRing: c.Delivery.NumberedRing}, nil
	}
	f.DeclaredKeys = func() []string {
		c, err := f.Project()
		if err != nil || c == nil {
			return nil
		}
		return append([]string{}, c.Order...)
	}
	f.CheckValue = func(key, env string, v keyward.Secret) []string {
		c, err := f.Project()
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
	f.PublicValues = func() func(env string, v keyward.Secret) bool {
		c, err := f.Project()
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
		return func(env string, v keyward.Secret) bool {
			// A production value equal to an example default is itself a
			// leak to report (validate flags it too), never public.
			if e := c.Environments[env]; e != nil && e.IsProduction() {
				return false
			}
			return public[v.RevealString()]
		}
	}
}

// Resolver returns a reference resolver wired to the factory: ref+URL
// references open their store with the factory's options (audit included),
// keyward://ENV/KEY references open the environment ENV of keyward.yaml.
// The stores are closed with the factory.
//
// Resolve (for references found in stored values and templates) applies
// the factory's trust policy: such a reference may name only the store the
// command reads, or stores the user allowed. ResolveTrusted (references the
// user wrote in their own environment) does not.
func (f *Factory) Resolver() *keyward.Resolver {
	own, _, _, err := f.ResolveStoreURL()
	if err != nil {
		own = ""
	}
	return &keyward.Resolver{
		Check: func(ref *keyward.Ref) error { return f.CheckRef(ref, own) },
		Open: func(ctx context.Context, url string) (*keyward.Store, error) {
			return f.OpenURL(ctx, url, "")
		},
		OpenEnv: f.OpenEnv,
	}
}

// OpenEnv opens an environment of keyward.yaml.
func (f *Factory) OpenEnv(ctx context.Context, env string) (*keyward.Store, error) {
	if f.ResolveEnv == nil {
		return nil, keyward.Errorf(keyward.InvalidArgument, "select environment", "environment %q needs a keyward.yaml with environments", env)
	}
	u, err := f.ResolveEnv(env)
	if err != nil {
		return nil, err
	}
	return f.OpenURL(ctx, u, env)
}

// OpenNamed opens a store named on the command line: a store URL when it
// contains "://", otherwise an environment of keyward.yaml.
func (f *Factory) OpenNamed(ctx context.Context, name string) (*keyward.Store, error) {
	if IsURL(name) {
		return f.OpenURL(ctx, name, "")
	}
	s, err := f.OpenEnv(ctx, name)
	if err != nil {
		return nil, WithHint(err, "name a store by URL (local://"+name+", dotenv://…) or by an environment of keyward.yaml")
	}
	return s, nil
}

// IsURL reports whether a store name is a URL rather than an environment.
func IsURL(name string) bool { return strings.Contains(name, "://") }
