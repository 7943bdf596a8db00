// Command keyward-provider-gcpsm serves gcpsm:// stores to keyward over the
// plugin protocol (docs/plugins.md). keyward starts it on demand; it is not
// meant to be run by hand.
package main

import (
	"github.com/keyward/keyward/plugin"
	_ "github.com/keyward/keyward/provider/gcpsm"
)

func main() { plugin.ServeScheme("gcpsm", nil) }
