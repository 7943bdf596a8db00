package cmdutil

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/iostreams"
)

// StoreDeps are what a verb working on the command's store needs from the
// Factory: its streams and the opener of the store that --store, --env,
// KEYWARD_STORE, … choose. A verb's Options embed it; Factory.StoreDeps
// fills it, and tests set it to fakes.
type StoreDeps struct {
	IO        *iostreams.IOStreams
	OpenStore func(context.Context) (*keyward.Store, error)
	// Sources says which rule chose a store OpenStore opened (nil: "").
	Sources *SourceBook
}

// StoreDeps returns the factory's streams, store opener and source book.
func (f *Factory) StoreDeps() StoreDeps {
	return StoreDeps{IO: f.IO, OpenStore: f.OpenStore, Sources: f.Sources()}
}

// NamedStoreDeps are what a verb working on stores named on its command
// line (copy --from A --to B, diff A B) needs: its streams and an opener of
// a store URL or keyward.yaml environment (Factory.OpenNamed).
type NamedStoreDeps struct {
	IO *iostreams.IOStreams
	// Open opens a store named on the command line (environment or URL).
	Open func(ctx context.Context, name string) (*keyward.Store, error)
}

// NamedStoreDeps returns the factory's streams and named-store opener.
func (f *Factory) NamedStoreDeps() NamedStoreDeps { return NamedStoreDeps{IO: f.IO, Open: f.OpenNamed} }

// Run ends a verb's RunE: it runs runF when set (tests intercept the
// parsed Options with it), else the verb's run, with the command's context.
func Run[O any](cmd *cobra.Command, opts O, runF, run func(context.Context, O) error) error {
	if runF != nil {
		return runF(cmd.Context(), opts)
	}
	return run(cmd.Context(), opts)
}
