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

// BenchmarkRunVerbSetup is the in-process part of a one-verb command line
// before the verb's own work: the factory, the root and one verb's cobra
// command, and flag parsing (`keyward list` on an empty mem store).
func BenchmarkRunVerbSetup(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		ios, _, _, _ := iostreams.Test()
		f := cmdutil.NewWith(ios, func(k string) string {
			if k == "KEYWARD_AUDIT" {
				return "off"
			}
			return ""
		}, func() []string { return nil }, nil)
		if code := Run(ctx, f, []string{"list", "--store", "mem://bench"}); code != 0 {
			b.Fatalf("exit %d", code)
		}
	}
}
