//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
//go:debug decoratemappings=0

// Command keyward is the keyward CLI. See the README and docs/cli.md.
//
// The //go:debug lines above drop runtime work a short-lived CLI does not
// need at every start (bench/README.md has the figures): reading the
// cgroup CPU quota to size GOMAXPROCS and re-reading it every second
// (GOMAXPROCS is the machine's CPU count, as before Go 1.25; set the
// GOMAXPROCS variable to limit it), and naming the runtime's anonymous
// memory mappings for /proc/PID/maps.
package main

import (
	"os"

	"github.com/keyward/keyward/internal/cli"
)

func main() { os.Exit(cli.Main()) }
