//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
//go:debug decoratemappings=0

// Command cobra is the floor of a cobra CLI's start-up: a root command with
// one subcommand that answers --version.
package main

import (
	"os"

	"github.com/spf13/cobra"
)

func main() {
	root := &cobra.Command{Use: "floor", Version: "v0.0.0", SilenceUsage: true}
	root.AddCommand(&cobra.Command{Use: "run", RunE: func(*cobra.Command, []string) error { return nil }})
	if err := root.Execute(); err != nil {
		os.Exit(1)
	}
}
