//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
//go:debug decoratemappings=0

// Command keyward-provider-azurekv serves azurekv:// stores to keyward over the
// plugin protocol (docs/plugins.md). keyward starts it on demand; it is not
// meant to be run by hand.
package main

import (
	"github.com/keyward/keyward/plugin"
	"github.com/keyward/keyward/policy"
	_ "github.com/keyward/keyward/provider/azurekv"
)

func main() {
	plugin.ServeScheme("azurekv", map[string]plugin.ActionFunc{policy.ActionDerive: policy.DeriveAction})
}
