//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
//go:debug decoratemappings=0

// Command libs is the floor of the libraries the default keyward binary
// links: the cobra root of ../cobra with every third-party package keyward
// imports linked in (blank imports: their package init runs, nothing else).
// What keyward --version adds beyond this row is keyward's own start-up.
package main

import (
	"os"

	_ "filippo.io/age"
	_ "filippo.io/age/agessh"
	_ "filippo.io/age/armor"
	_ "filippo.io/age/plugin"
	_ "github.com/compose-spec/compose-go/v2/template"
	_ "github.com/coregx/ahocorasick"
	_ "github.com/pelletier/go-toml/v2"
	"github.com/spf13/cobra"
	_ "go.yaml.in/yaml/v3"
	_ "golang.org/x/crypto/chacha20poly1305"
	_ "golang.org/x/sync/singleflight"
	_ "golang.org/x/term"
)

func main() {
	root := &cobra.Command{Use: "floor", Version: "v0.0.0", SilenceUsage: true}
	root.AddCommand(&cobra.Command{Use: "run", RunE: func(*cobra.Command, []string) error { return nil }})
	if err := root.Execute(); err != nil {
		os.Exit(1)
	}
}
