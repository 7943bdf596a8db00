package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/keyward/keyward/internal/cli"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"keyward": func() { os.Exit(cli.Main()) },
	})
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
