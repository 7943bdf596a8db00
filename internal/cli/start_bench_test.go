package cli

import (
	"context"
	"testing"

	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
)

// BenchmarkVersion is the in-process part of `keyward --version`: building
// the root command with every verb and running it (start-up figures are in
// bench/README.md; `go test -bench Version -cpuprofile` shows where).
func BenchmarkVersion(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		ios, _, _, _ := iostreams.Test()
		f := &cmdutil.Factory{IO: ios, Getenv: func(string) string { return "" }, Environ: func() []string { return nil }}
		if code := Run(ctx, f, []string{"--version"}); code != 0 {
			b.Fatalf("exit %d", code)
		}
	}
}
