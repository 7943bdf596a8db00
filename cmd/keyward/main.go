// Command keyward is the keyward CLI. See the README and docs/cli.md.
package main

import (
	"os"

	"github.com/keyward/keyward/internal/cli"
)

func main() { os.Exit(cli.Main()) }
