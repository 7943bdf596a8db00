package run

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/provider/mem"
)

// The test binary doubles as the child: KW_RUN_HELPER selects what it does.
func TestMain(m *testing.M) {
	switch os.Getenv("KW_RUN_HELPER") {
	case "":
		os.Exit(m.Run())
	case "env":
		// Print NAME=<length> for every variable named on the command line,
		// or NAME=unset; never the values themselves.
		for _, n := range os.Args[1:] {
			if v, ok := os.LookupEnv(n); ok {
				fmt.Printf("%s=%d\n", n, len(v))
			} else {
				fmt.Printf("%s=unset\n", n)
			}
		}
		os.Exit(0)
	case "match":
		// Exit 0 when $NAME equals the expected value passed as arg 2.
		if os.Getenv(os.Args[1]) == os.Args[2] {
			os.Exit(0)
		}
		os.Exit(9)
	case "count":
		// How many times each name occurs in the raw environment.
		for _, n := range os.Args[1:] {
			c := 0
			for _, kv := range os.Environ() {
				if strings.HasPrefix(kv, n+"=") {
					c++
				}
			}
			fmt.Printf("%s=%d\n", n, c)
		}
		os.Exit(0)
	case "exit":
		n, _ := strconv.Atoi(os.Args[1])
		os.Exit(n)
	case "stdin":
		b, _ := io.ReadAll(os.Stdin)
		fmt.Printf("stdin=%d\n", len(b))
		os.Exit(0)
	case "wait":
		// Announce readiness, then wait to be signalled.
		fmt.Println("ready")
		time.Sleep(time.Minute)
		os.Exit(0)
	case "killself":
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		time.Sleep(time.Minute)
	}
	os.Exit(99)
}

func TestNewCmd(t *testing.T) {
	for _, tc := range []struct {
		args    string
		want    Options
		wantErr string
	}{
		{args: "-- ./server", want: Options{Command: []string{"./server"}}},
		{args: "./server --port 80", want: Options{Command: []string{"./server", "--port", "80"}}},
		{args: "--only A,B -- env", want: Options{Only: []string{"A", "B"}, Command: []string{"env"}}},
		{args: "--only A --only B env -i", want: Options{Only: []string{"A", "B"}, Command: []string{"env", "-i"}}},
		{args: "--prefix APP_ --no-override -- env", want: Options{Prefix: "APP_", NoOverride: true, Command: []string{"env"}}},
		{args: "-- sh -c --only", want: Options{Command: []string{"sh", "-c", "--only"}}},
		{args: "", wantErr: "run needs a command"},
		{args: "--only A", wantErr: "run needs a command"},
		{args: "--", wantErr: "run needs a command"},
		{args: "--only A,,B -- env", wantErr: "empty key name"},
		{args: "--prefix A= -- env", wantErr: "--prefix must not contain"},
	} {
		t.Run(tc.args, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			var got *Options
			cmd := NewCmd(&cmdutil.Factory{IO: ios}, func(_ context.Context, o *Options) error { got = o; return nil })
			cmd.SetArgs(strings.Fields(tc.args))
			cmd.SetOut(ios.Out)
			cmd.SetErr(ios.ErrOut)
			err := cmd.Execute()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				if cmdutil.ExitCode(err) != cmdutil.ExitUsage {
					t.Fatalf("exit %d, want %d", cmdutil.ExitCode(err), cmdutil.ExitUsage)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Only, tc.want.Only) || got.Prefix != tc.want.Prefix || got.NoOverride != tc.want.NoOverride || !slices.Equal(got.Command, tc.want.Command) {
				t.Fatalf("got %+v, want %+v", *got, tc.want)
			}
		})
	}
}

const (
	canaryA = "KWCANARY-run-a-5e0c1d"
	canaryB = "KWCANARY-run-b-f00d"
)

type fixture struct {
	s    *keyward.Store
	open func(context.Context) (*keyward.Store, error)
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	b := mem.NewBackend()
	s := b.OpenStore(&keyward.StoreOptions{URL: "mem://run"})
	for k, v := range map[string]string{"A": canaryA, "B": canaryB, "C": "c"} {
		if _, err := s.Put(context.Background(), k, keyward.NewSecretString(v), nil); err != nil {
			t.Fatal(err)
		}
	}
	return &fixture{s: s, open: func(context.Context) (*keyward.Store, error) { return s, nil }}
}

// child runs the test binary as the child in the given helper mode.
func (fx *fixture) child(t *testing.T, o Options, mode string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	o.IO = ios
	o.OpenStore = fx.open
	base := o.Environ
	o.Environ = func() []string {
		env := []string{"KW_RUN_HELPER=" + mode, "PATH=" + os.Getenv("PATH")}
		if base != nil {
			env = append(env, base()...)
		}
		return env
	}
	exe, _ := os.Executable()
	o.Command = append([]string{exe}, args...)
	err = run(context.Background(), &o)
	return out.String(), errOut.String(), err
}

var (
	la = strconv.Itoa(len(canaryA))
	lb = strconv.Itoa(len(canaryB))
)

func TestRunEnvironment(t *testing.T) {
	fx := newFixture(t)
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"all keys", Options{}, "A=" + la + "\nB=" + lb + "\nC=1\nAPP_A=unset\n"},
		{"only", Options{Only: []string{"B"}}, "A=unset\nB=" + lb + "\nC=unset\nAPP_A=unset\n"},
		{"only dedup", Options{Only: []string{"B", "B", "C"}}, "A=unset\nB=" + lb + "\nC=1\nAPP_A=unset\n"},
		{"prefix", Options{Prefix: "APP_"}, "A=unset\nB=unset\nC=unset\nAPP_A=" + la + "\n"},
		{"override", Options{Environ: func() []string { return []string{"A=old", "C=old"} }}, "A=" + la + "\nB=" + lb + "\nC=1\nAPP_A=unset\n"},
		{"no-override", Options{NoOverride: true, Environ: func() []string { return []string{"A=old", "C=old"} }}, "A=3\nB=" + lb + "\nC=3\nAPP_A=unset\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, err := fx.child(t, tc.o, "env", "A", "B", "C", "APP_A")
			if err != nil {
				t.Fatalf("run: %v (stderr %d bytes)", err, len(errOut))
			}
			if out != tc.want {
				t.Fatalf("child saw\n%s\nwant\n%s", out, tc.want)
			}
			if errOut != "" {
				t.Fatalf("unexpected stderr of %d bytes", len(errOut))
			}
		})
	}
	// The child gets the exact bytes.
	if _, _, err := fx.child(t, Options{}, "match", "A", canaryA); err != nil {
		t.Fatalf("value differs in the child: %v", err)
	}
	// One entry per name, whatever the base environment held.
	out, _, err := fx.child(t, Options{Environ: func() []string { return []string{"A=1", "A=2"} }}, "count", "A")
	if err != nil || out != "A=1\n" {
		t.Fatalf("duplicates: %q %v", out, err)
	}
}

func TestRunStdin(t *testing.T) {
	fx := newFixture(t)
	ios, in, out, _ := iostreams.Test()
	in.WriteString("hello")
	exe, _ := os.Executable()
	err := run(context.Background(), &Options{IO: ios, OpenStore: fx.open, Command: []string{exe},
		Environ: func() []string { return []string{"KW_RUN_HELPER=stdin"} }})
	if err != nil || out.String() != "stdin=5\n" {
		t.Fatalf("stdin not passed: %q %v", out.String(), err)
	}
}

func TestRunOutputSlot(t *testing.T) {
	fx := newFixture(t)
	var filtered strings.Builder
	out, _, err := fx.child(t, Options{Stdout: &filtered}, "env", "A")
	if err != nil || out != "" || filtered.String() != "A="+la+"\n" {
		t.Fatalf("Stdout slot: direct %q, filtered %q, %v", out, filtered.String(), err)
	}
}

func TestRunExitCodes(t *testing.T) {
	fx := newFixture(t)
	for _, n := range []int{0, 1, 3, 42} {
		_, _, err := fx.child(t, Options{}, "exit", strconv.Itoa(n))
		if got := cmdutil.ExitCode(err); got != n {
			t.Fatalf("child exit %d: keyward exit %d", n, got)
		}
	}
	_, _, err := fx.child(t, Options{}, "killself")
	if got := cmdutil.ExitCode(err); got != 128+int(syscall.SIGKILL) {
		t.Fatalf("killed child: exit %d, want %d", got, 128+int(syscall.SIGKILL))
	}
}

func TestRunCommandErrors(t *testing.T) {
	fx := newFixture(t)
	ios, _, _, errOut := iostreams.Test()
	err := run(context.Background(), &Options{IO: ios, OpenStore: fx.open, Command: []string{"keyward-no-such-command-xyz"}})
	if cmdutil.ExitCode(err) != ExitCommandNotFound || !strings.Contains(errOut.String(), `failed to run "keyward-no-such-command-xyz"`) {
		t.Fatalf("not found: exit %d, stderr %q", cmdutil.ExitCode(err), errOut.String())
	}
	dir := t.TempDir()
	p := dir + "/noexec"
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ios, _, _, errOut = iostreams.Test()
	err = run(context.Background(), &Options{IO: ios, OpenStore: fx.open, Command: []string{p}})
	if cmdutil.ExitCode(err) != ExitCannotExecute {
		t.Fatalf("not executable: exit %d, stderr %q", cmdutil.ExitCode(err), errOut.String())
	}

	// A missing --only key fails before the child starts, with exit 3.
	out, errOut2, err := fx.child(t, Options{Only: []string{"A", "MISSING"}}, "env", "A")
	if cmdutil.ExitCode(err) != cmdutil.ExitNotFound || out != "" {
		t.Fatalf("missing --only key: exit %d, child output %q", cmdutil.ExitCode(err), out)
	}
	var buf strings.Builder
	cmdutil.PrintError(&buf, err)
	for _, s := range []string{buf.String(), errOut2} {
		if strings.Contains(s, canaryA) || strings.Contains(s, canaryB) {
			t.Fatal("an error message contains a secret value")
		}
	}
	if !strings.Contains(buf.String(), `"MISSING"`) {
		t.Fatalf("error does not name the key: %q", buf.String())
	}
	// Invalid names in --only are usage errors.
	_, _, err = fx.child(t, Options{Only: []string{"A=B"}}, "env")
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Fatalf("bad --only name: exit %d", cmdutil.ExitCode(err))
	}
}

func TestRunSkipsBadNamesAndNUL(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t)
	if _, err := fx.s.Put(ctx, "X=Y", keyward.NewSecretString("v"), nil); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := fx.child(t, Options{}, "env", "A")
	if err != nil || out != "A="+la+"\n" || !strings.Contains(errOut, `skipping key "X=Y"`) {
		t.Fatalf("bad name: %q %q %v", out, errOut, err)
	}
	if _, err := fx.s.Put(ctx, "N", keyward.NewSecretString("a\x00"+canaryB), nil); err != nil {
		t.Fatal(err)
	}
	out, _, err = fx.child(t, Options{}, "env", "A")
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || out != "" || strings.Contains(err.Error(), canaryB) {
		t.Fatalf("NUL value: exit %d, child ran: %v", cmdutil.ExitCode(err), out != "")
	}
}

// A signal sent to keyward reaches the child, and keyward reports the
// child's death by that signal as 128+N.
func TestRunForwardsSignals(t *testing.T) {
	fx := newFixture(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			pr, pw := io.Pipe()
			done := make(chan error, 1)
			go func() {
				_, _, err := fx.child(t, Options{Stdout: pw}, "wait")
				pw.Close()
				done <- err
			}()
			// Wait for the child to be running (signal.Notify is set up
			// before the child starts, so keyward catches the signal).
			line, err := bufio.NewReader(pr).ReadString('\n')
			if err != nil || line != "ready\n" {
				t.Fatalf("child did not start: %q %v", line, err)
			}
			go io.Copy(io.Discard, pr)
			if err := syscall.Kill(os.Getpid(), sig); err != nil {
				t.Fatal(err)
			}
			err = <-done
			if got := cmdutil.ExitCode(err); got != 128+int(sig) {
				t.Fatalf("exit %d, want %d", got, 128+int(sig))
			}
		})
	}
}

func TestMergeEnv(t *testing.T) {
	for _, tc := range []struct {
		base, vars []string
		noOverride bool
		want       []string
	}{
		{[]string{"A=1", "B=2"}, []string{"A=x"}, false, []string{"B=2", "A=x"}},
		{[]string{"A=1", "B=2"}, []string{"A=x"}, true, []string{"A=1", "B=2"}},
		{[]string{"A=1", "A=2"}, []string{"A=x"}, false, []string{"A=x"}},
		{nil, []string{"A=x", "B=y"}, true, []string{"A=x", "B=y"}},
		{[]string{"PATH=/bin"}, nil, false, []string{"PATH=/bin"}},
	} {
		if got := mergeEnv(tc.base, tc.vars, tc.noOverride); !slices.Equal(got, tc.want) {
			t.Errorf("mergeEnv(%v, %d vars, %v) = %d entries, want %v", tc.base, len(tc.vars), tc.noOverride, len(got), tc.want)
		}
	}
}

func TestPythonUnbuffered(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"A=1"}, "A=1 PYTHONUNBUFFERED=1"},
		{[]string{"PYTHONUNBUFFERED=0", "A=1"}, "PYTHONUNBUFFERED=0 A=1"},
		{[]string{"PYTHONUNBUFFERED="}, "PYTHONUNBUFFERED="},
		{nil, "PYTHONUNBUFFERED=1"},
	} {
		if got := strings.Join(PythonUnbuffered(tc.env), " "); got != tc.want {
			t.Errorf("PythonUnbuffered(%q) = %q, want %q", tc.env, got, tc.want)
		}
	}
}
