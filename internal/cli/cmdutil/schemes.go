package cmdutil

import (
	"slices"
	"strings"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/plugin"
)

// StoreSchemes lists the store schemes this build can open, sorted: those
// registered with mux (nil: keyward.DefaultURLMux()), embedded providers
// and plugin-backed ones (cli.Run routes KEYWARD_PLUGIN_SCHEMES through
// it), plus plugin.RemoteSchemes, which are served by plugin programs
// whether or not they are registered yet. Help text and hints name schemes
// from here, never from a list of their own.
func StoreSchemes(mux *keyward.URLMux) []string {
	if mux == nil {
		mux = keyward.DefaultURLMux()
	}
	out := append(mux.Schemes(), plugin.RemoteSchemes...)
	slices.Sort(out)
	return slices.Compact(out)
}

// SchemeURLs renders schemes as "a://, b://, …".
func SchemeURLs(schemes []string) string {
	return strings.Join(schemes, "://, ") + "://"
}

// ProvidersHint points at the providers table for which of this build's
// stores (keyward.DefaultURLMux's) can do what ("write secrets",
// "check-and-set atomically"): what a provider can do is its own to say,
// not a list in the CLI.
func ProvidersHint(what string) string {
	return "docs/providers.md says which of this build's stores (" + SchemeURLs(StoreSchemes(nil)) + ") can " + what
}
