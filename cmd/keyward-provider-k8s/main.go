//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
//go:debug decoratemappings=0

// Command keyward-provider-k8s serves k8s:// stores to keyward over the
// plugin protocol (docs/plugins.md). keyward starts it on demand; it is not
// meant to be run by hand.
package main

import (
	"github.com/keyward/keyward/internal/k8ssync"
	"github.com/keyward/keyward/plugin"
	"github.com/keyward/keyward/policy"
	"github.com/keyward/keyward/provider/k8s"
)

// actions is what this program serves beyond k8s:// stores: the
// Kubernetes side of `keyward sync kubernetes`, and policy derivation.
var actions = map[string]plugin.ActionFunc{k8ssync.Action: k8s.SyncAction, policy.ActionDerive: policy.DeriveAction}

func main() { plugin.ServeScheme("k8s", actions) }
