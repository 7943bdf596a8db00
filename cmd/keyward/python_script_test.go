package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// pythonFiles are copied into each python script's work directory: the
// guide's token service (examples/dharmamind) and python/keyward_secrets.py
// with their unittests.
var pythonFiles = []string{
	"../../python/keyward_secrets.py",
	"../../python/test_keyward_secrets.py",
	"../../examples/dharmamind/verifier.py",
	"../../examples/dharmamind/verifier_pyjwt.py",
	"../../examples/dharmamind/test_verifier.py",
}

// TestScriptPython runs testdata/script/python/*.txtar: the Python
// consumer side of a rotation, against the real keyward binary. Each script
// skips only when python3 is not installed (CI installs python3 and
// python3-jwt); the condition [pyjwt] holds when python3 can import jwt.
func TestScriptPython(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed (Debian: apt-get install python3 python3-jwt)")
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script/python",
		Setup: func(env *testscript.Env) error {
			env.Setenv("XDG_CONFIG_HOME", env.WorkDir+"/.config")
			env.Setenv("HOME", env.WorkDir+"/home")
			env.Setenv("PYTHONDONTWRITEBYTECODE", "1")
			for _, f := range pythonFiles {
				b, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(env.WorkDir, filepath.Base(f)), b, 0o600); err != nil {
					return err
				}
			}
			return nil
		},
		Condition: func(cond string) (bool, error) {
			if cond == "pyjwt" {
				return exec.Command("python3", "-c", "import jwt").Run() == nil, nil
			}
			return false, nil
		},
	})
}
