package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/cli"
)

// The bounded-input tests run the real CLI in a child process: this test
// binary re-executed with KEYWARD_BOUNDED_CHILD=1 is keyward itself.
func init() {
	if os.Getenv("KEYWARD_BOUNDED_CHILD") == "1" {
		os.Exit(cli.Main())
	}
}

// TestSecurityBoundedInput (trust model, rule 5: bounded work and memory
// on every input): each row gives keyward a hostile input — a device, a
// FIFO nobody writes, a 1 GiB sparse file, a .env expansion bomb, a
// 100 MiB audit line — and checks it ends with a clean error naming the
// file and the limit (or, for the audit log, steps over the line). A row
// that hung would hang the test; time and memory are measured by hand
// (docs/security-bounds.md), not asserted here.
func TestSecurityBoundedInput(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("FIFOs, /dev/zero and /proc are Linux's")
	}
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	mkfifo := func(name string) string {
		if err := syscall.Mkfifo(path(name), 0o600); err != nil {
			t.Fatal(err)
		}
		return path(name)
	}
	sparse := func(name string) string {
		f, err := os.Create(path(name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := f.Truncate(1 << 30); err != nil {
			t.Fatal(err)
		}
		return path(name)
	}
	write := func(name, content string) string {
		if err := os.MkdirAll(filepath.Dir(path(name)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path(name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path(name)
	}
	// A project directory whose keyward.yaml is the given file.
	project := func(name, target string) string {
		d := path(name)
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(d, "keyward.yaml")); err != nil {
			t.Fatal(err)
		}
		return d
	}
	fifo := mkfifo("fifo")
	big := sparse("sparse")
	store := write("store.env", "A=1\n")
	tree := write("tree/a.txt", "nothing to see\n")
	tree = filepath.Dir(tree)

	var exp strings.Builder
	exp.WriteString("V0=" + strings.Repeat("x", 100) + "\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&exp, "V%d=%s\n", i, strings.Repeat(fmt.Sprintf("${V%d}", i-1), 10))
	}
	expBomb := write("exp.env", exp.String())
	nestBomb := write("nest.env", "N="+strings.Repeat("${A:-", 20000)+"x"+strings.Repeat("}", 20000)+"\n")
	workBomb := write("work.env", "W="+strings.Repeat("${A:-x}", 18000)+"\n")

	// An audit log with a record, a 100 MiB line (sparse: NUL bytes), and
	// the records the next command appends after it.
	home := path("home")
	auditLog := filepath.Join(home, ".local", "state", "keyward", "audit.log")
	env := []string{"KEYWARD_BOUNDED_CHILD=1", "HOME=" + home, "XDG_CONFIG_HOME=" + path("config"), "PATH=" + os.Getenv("PATH")}
	keyward := func(wd string, args ...string) *exec.Cmd {
		c := exec.Command(os.Args[0], args...)
		c.Env = env
		c.Dir = wd
		return c
	}
	if out, err := keyward(dir, "get", "A", "--store", "dotenv://"+store).CombinedOutput(); err != nil {
		t.Fatalf("get before planting the long audit line: %v\n%s", err, out)
	}
	plantLongLine(t, auditLog, 100<<20)
	if out, err := keyward(dir, "get", "A", "--store", "dotenv://"+store).CombinedOutput(); err != nil {
		t.Fatalf("get after planting the long audit line: %v\n%s", err, out)
	}

	cases := []struct {
		name   string
		wd     string
		args   []string
		code   int
		stderr []string // substrings
		stdout []string
		// count: how often stdout[0] must appear (0: at least once)
		count int
	}{
		{"keyward.yaml is /dev/zero", project("p-zero", "/dev/zero"), []string{"validate"}, 2, []string{"keyward.yaml is a device, not a regular file"}, nil, 0},
		{"keyward.yaml is a FIFO", project("p-fifo", fifo), []string{"validate"}, 2, []string{"keyward.yaml is a FIFO, not a regular file"}, nil, 0},
		{"keyward.yaml is 1 GiB sparse", project("p-big", big), []string{"validate"}, 2, []string{"keyward.yaml is larger than the 1 MiB limit"}, nil, 0},
		{"template is /dev/zero", dir, []string{"template", "/dev/zero", "--store", "dotenv://" + store}, 2, []string{"/dev/zero is a device, not a regular file"}, nil, 0},
		{"template is a FIFO", dir, []string{"template", fifo, "--store", "dotenv://" + store}, 2, []string{"fifo is a FIFO, not a regular file"}, nil, 0},
		{"template is 1 GiB sparse", dir, []string{"template", big, "--store", "dotenv://" + store}, 2, []string{"sparse is larger than the 8 MiB limit"}, nil, 0},
		{"--rules is a FIFO", dir, []string{"scan", "--no-managed", "--rules", fifo, tree}, 2, []string{"fifo is a FIFO, not a regular file"}, nil, 0},
		{"--rules is 1 GiB sparse", dir, []string{"scan", "--no-managed", "--rules", big, tree}, 2, []string{"sparse is larger than the 4 MiB limit"}, nil, 0},
		{"--baseline is /dev/zero", dir, []string{"scan", "--no-managed", "--baseline", "/dev/zero", tree}, 2, []string{"/dev/zero is a device, not a regular file"}, nil, 0},
		{"--baseline is a FIFO", dir, []string{"scan", "--no-managed", "--baseline", fifo, tree}, 2, []string{"fifo is a FIFO, not a regular file"}, nil, 0},
		{"--baseline is 1 GiB sparse", dir, []string{"scan", "--no-managed", "--baseline", big, tree}, 2, []string{"sparse is larger than the 64 MiB limit"}, nil, 0},
		{".env is /dev/zero", dir, []string{"list", "--store", "dotenv:///dev/zero"}, 2, []string{"/dev/zero is not a regular file (it is a device)"}, nil, 0},
		{".env is a FIFO", dir, []string{"list", "--store", "dotenv://" + fifo}, 2, []string{"is not a regular file (it is a FIFO)"}, nil, 0},
		{".env is 1 GiB sparse", dir, []string{"list", "--store", "dotenv://" + big}, 2, []string{"sparse is larger than the 16 MiB limit"}, nil, 0},
		{".env exponential expansion", dir, []string{"list", "--store", "dotenv://" + expBomb}, 2, []string{"exp.env:6:4: value of V5: expanding ${V4} would make the value larger than the 1 MiB limit"}, nil, 0},
		{".env deep nesting", dir, []string{"list", "--store", "dotenv://" + nestBomb}, 2, []string{"nest.env:1:3: value of N: ${...} nests 20000 deep; the limit is 16"}, nil, 0},
		{".env quadratic work", dir, []string{"list", "--store", "dotenv://" + workBomb}, 2, []string{"work.env:1:3: value of W: too much interpolation work"}, nil, 0},
		// The records of the gets before (line 1) and after (line 4) it.
		{"audit search over a 100 MiB line", dir, []string{"audit", "search", "--key", "A", "--json"}, 0, []string{"line 3: record longer than 1 MiB; skipped"}, []string{`"key": "A"`}, 2},
		{"audit tail over a 100 MiB line", dir, []string{"audit", "tail", "-n", "0"}, 0, []string{"line 3: record longer than 1 MiB; skipped"}, []string{"cli.get"}, 2},
		{"audit verify over a 100 MiB line", dir, []string{"audit", "verify"}, 1, []string{"line 3: record longer than 1 MiB"}, nil, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := keyward(tc.wd, tc.args...)
			var stdout, stderr bytes.Buffer
			c.Stdout, c.Stderr = &stdout, &stderr
			err := c.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code {
				t.Errorf("exit code %d; want %d\nstderr: %s", code, tc.code, stderr.String())
			}
			for _, w := range tc.stderr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr does not say %q:\n%s", w, stderr.String())
				}
			}
			for _, w := range tc.stdout {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout does not contain %q:\n%s", w, stdout.String())
				}
			}
			if tc.count > 0 {
				if n := strings.Count(stdout.String(), tc.stdout[0]); n != tc.count {
					t.Errorf("stdout has %q %d times; want %d:\n%s", tc.stdout[0], n, tc.count, stdout.String())
				}
			}
		})
	}

	// Interrupted reads: SIGTERM during a read of a stdin pipe nobody
	// writes, and SIGINT during a read of a FIFO whose writer never
	// writes, end keyward with exit code 130.
	t.Run("SIGTERM during set's read of a stdin pipe", func(t *testing.T) {
		c := keyward(dir, "set", "K", "--store", "dotenv://"+store)
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer pw.Close()
		c.Stdin = pr
		var stderr bytes.Buffer
		c.Stderr = &stderr
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		pr.Close()
		waitReading(t, c.Process.Pid, 0)
		c.Process.Signal(syscall.SIGTERM)
		checkInterrupted(t, c, &stderr)
	})
	t.Run("SIGINT during set --from-file of a FIFO", func(t *testing.T) {
		c := keyward(dir, "set", "K", "--from-file", fifo, "--store", "dotenv://"+store)
		var stderr bytes.Buffer
		c.Stderr = &stderr
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0) // returns once keyward has opened it
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		c.Process.Signal(syscall.SIGINT)
		checkInterrupted(t, c, &stderr)
	})
}

func checkInterrupted(t *testing.T, c *exec.Cmd, stderr *bytes.Buffer) {
	t.Helper()
	err := c.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("keyward ended with %v; want exit code 130\nstderr: %s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Fatalf("stderr does not say it was interrupted:\n%s", stderr.String())
	}
}

// waitReading waits until a thread of pid is blocked in read(2) on fd:
// then keyward's signal handling is set up and it is inside the read.
func waitReading(t *testing.T, pid, fd int) {
	t.Helper()
	want := fmt.Sprintf("0 0x%x ", fd) // read is syscall 0 on linux/amd64, 63 on arm64
	if runtime.GOARCH == "arm64" {
		want = fmt.Sprintf("63 0x%x ", fd)
	}
	for {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/syscall", pid))
		for _, p := range tasks {
			if b, err := os.ReadFile(p); err == nil && strings.HasPrefix(string(b), want) {
				return
			}
		}
		if len(tasks) == 0 {
			t.Fatalf("process %d is gone before reading its input", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// plantLongLine appends a line of n NUL bytes (sparse, so cheap) to log.
func plantLongLine(t *testing.T, log string, n int64) {
	t.Helper()
	f, err := os.OpenFile(log, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(st.Size() + n); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{'\n'}, st.Size()+n); err != nil {
		t.Fatal(err)
	}
}
