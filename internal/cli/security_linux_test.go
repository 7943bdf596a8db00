//go:build linux

package cli

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The test binary doubles as keyward: KW_CLI_HELPER=main runs Main with
// harmless arguments and then reports the process's core-dump settings.
func TestMain(m *testing.M) {
	if os.Getenv("KW_CLI_HELPER") != "main" {
		os.Exit(m.Run())
	}
	// Start from a state where core dumps are allowed, so the test can fail.
	var lim unix.Rlimit
	_ = unix.Getrlimit(unix.RLIMIT_CORE, &lim)
	lim.Cur = lim.Max
	before := unix.Setrlimit(unix.RLIMIT_CORE, &lim) == nil && lim.Cur > 0
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 1, 0, 0, 0)
	d0, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)

	os.Args = []string{"keyward", "--version"}
	code := Main()

	_ = unix.Getrlimit(unix.RLIMIT_CORE, &lim)
	d1, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	fmt.Fprintf(os.Stderr, "\nbefore: core-allowed=%v dumpable=%d\nafter: exit=%d core-cur=%d core-max=%d dumpable=%d\n",
		before, d0, code, lim.Cur, lim.Max, d1)
	os.Exit(0)
}

// TestSecurityCoreDumpsDisabled: keyward's Main sets RLIMIT_CORE to 0 (soft
// and hard) and PR_SET_DUMPABLE to 0 before it does anything else, so no
// core file and no same-user ptrace can expose a secret it reads.
func TestSecurityCoreDumpsDisabled(t *testing.T) {
	c := exec.Command(os.Args[0], "-test.run=^$")
	c.Env = append(os.Environ(), "KW_CLI_HELPER=main", "KEYWARD_AUDIT=off")
	c.Dir = t.TempDir()
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	s := string(out)
	if !strings.Contains(s, "dumpable=1\n") {
		t.Fatalf("the helper could not make itself dumpable first, so the test proves nothing:\n%s", s)
	}
	for _, want := range []string{"after: exit=0 ", "core-cur=0 ", "core-max=0 ", "dumpable=0\n"} {
		if !strings.Contains(s[strings.Index(s, "after:"):], want) {
			t.Errorf("after Main: want %q in\n%s", want, s)
		}
	}
}
