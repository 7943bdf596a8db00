package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/keyward/keyward/internal/cli"
	"github.com/keyward/keyward/internal/k8ssync"
	"github.com/keyward/keyward/plugin"
	"github.com/keyward/keyward/policy"
	"github.com/keyward/keyward/provider/k8s"

	// The test binary doubles as every keyward-provider-<scheme> program,
	// so the scripts can run the remote providers through the plugin
	// boundary exactly as the released binaries do.
	_ "github.com/keyward/keyward/provider/all"
)

// pluginActions are the provider-specific actions each plugin program
// serves (as cmd/keyward-provider-<scheme> does).
var pluginActions = map[string]map[string]plugin.ActionFunc{
	"vault":   {policy.ActionDerive: policy.DeriveAction},
	"awssm":   {policy.ActionDerive: policy.DeriveAction},
	"gcpsm":   {policy.ActionDerive: policy.DeriveAction},
	"azurekv": {policy.ActionDerive: policy.DeriveAction},
	"k8s":     {k8ssync.Action: k8s.SyncAction, policy.ActionDerive: policy.DeriveAction},
}

func TestMain(m *testing.M) {
	cmds := map[string]func(){
		"keyward": func() { os.Exit(cli.Main()) },
	}
	for _, s := range plugin.RemoteSchemes {
		cmds[plugin.ProgramName(s)] = func() { plugin.ServeScheme(s, pluginActions[s]) }
	}
	testscript.Main(m, cmds)
}

// examplesDir is the repository's examples/ directory; testscripts copy a
// project from it with: exec cp -r $KEYWARD_EXAMPLES/dharmamind dm
var examplesDir, _ = filepath.Abs("../../examples")

// TestScript runs the CLI end to end over testdata/script/*.txtar.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			// A private config dir per script, so no test touches the user's.
			env.Setenv("XDG_CONFIG_HOME", env.WorkDir+"/.config")
			env.Setenv("HOME", env.WorkDir+"/home")
			env.Setenv("KEYWARD_EXAMPLES", examplesDir)
			return nil
		},
		RequireExplicitExec: false,
	})
}
