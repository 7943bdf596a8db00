package cli

import (
	"slices"
	"strings"
	"sync"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/plugin"

	// The embedded providers: the CLI links only these. The remote ones
	// (vault, awssm, gcpsm, azurekv, k8s) are plugin programs,
	// keyward-provider-<scheme>, started on demand (docs/plugins.md), so
	// no command pays for the cloud SDKs' start-up unless it uses one.
	_ "github.com/keyward/keyward/provider/dotenv"
	_ "github.com/keyward/keyward/provider/env"
	_ "github.com/keyward/keyward/provider/file"
	_ "github.com/keyward/keyward/provider/local"
	_ "github.com/keyward/keyward/provider/mem"
)

var (
	linkedOnce sync.Once
	linked     map[string]keyward.URLOpener // remote providers linked into this binary
)

// usePlugins points every remote scheme at a plugin host for this command.
// A build that links a remote provider in-process (a library user's own
// binary, or the tests) keeps using it, unless KEYWARD_PLUGINS=always asks
// for the plugin programs anyway. Unknown schemes are not guessed at: a
// third-party provider's scheme is named in KEYWARD_PLUGIN_SCHEMES
// (comma-separated), which comes from the user's environment, never from a
// repository.
func usePlugins(f *cmdutil.Factory, h *plugin.Host) {
	mux := keyward.DefaultURLMux()
	linkedOnce.Do(func() {
		linked = map[string]keyward.URLOpener{}
		for _, s := range plugin.RemoteSchemes {
			if o := mux.Opener(s); o != nil {
				linked[s] = o
			}
		}
	})
	always := strings.EqualFold(strings.TrimSpace(f.Getenv("KEYWARD_PLUGINS")), "always")
	schemes := append([]string(nil), plugin.RemoteSchemes...)
	for _, s := range strings.Split(f.Getenv("KEYWARD_PLUGIN_SCHEMES"), ",") {
		if s = strings.TrimSpace(s); s != "" && !strings.ContainsAny(s, ":/ ") {
			schemes = append(schemes, s)
		}
	}
	for _, s := range schemes {
		cur := mux.Opener(s)
		switch {
		case linked[s] != nil && !always:
			mux.Set(s, linked[s])
		case isRemote(s) || cur == nil || isPluginOpener(cur):
			mux.Set(s, pluginOpener{h.Opener(s)})
		default:
			// an embedded scheme (local, env, …) is never replaced
		}
	}
}

func isRemote(s string) bool { return slices.Contains(plugin.RemoteSchemes, s) }

// pluginOpener marks openers this file installed.
type pluginOpener struct{ keyward.URLOpener }

func isPluginOpener(o keyward.URLOpener) bool { _, ok := o.(pluginOpener); return ok }
