//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
//go:debug decoratemappings=0

// Command essential is the floor of `keyward run` itself: the work the
// design asks of every run, done by the shortest Go program with the two
// libraries it names for it (cobra for the CLI, filippo.io/age for the
// store). `essential run IDENTITY FILE.age AUDIT -- CMD...` parses an age
// identity file, decrypts an age-encrypted file of NAME=value lines,
// appends one JSON audit record naming the keys to AUDIT, starts CMD with
// the values in its environment while the record is fsynced (as keyward
// does), waits for both, and exits with CMD's code. There is no schema, no
// key ring, no redaction, no signal forwarding, no plugin, no error
// wording, and none of keyward's other libraries.
// `essential seal IDENTITY < PLAIN > FILE.age` makes the encrypted file.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"filippo.io/age"
	"github.com/spf13/cobra"
)

func identity(path string) ([]age.Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return age.ParseIdentities(f)
}

func run(args []string) (int, error) {
	ids, err := identity(args[0])
	if err != nil {
		return 1, err
	}
	f, err := os.Open(args[1])
	if err != nil {
		return 1, err
	}
	r, err := age.Decrypt(f, ids...)
	if err != nil {
		return 1, err
	}
	plain, err := io.ReadAll(r)
	f.Close()
	if err != nil {
		return 1, err
	}
	env := os.Environ()
	var keys []string
	sc := bufio.NewScanner(bytes.NewReader(plain))
	for sc.Scan() {
		k, _, ok := strings.Cut(sc.Text(), "=")
		if ok {
			keys = append(keys, k)
			env = append(env, sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		return 1, err
	}
	rec, _ := json.Marshal(map[string]any{"time": time.Now().UTC(), "action": "get", "keys": keys})
	a, err := os.OpenFile(args[2], os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return 1, err
	}
	if _, err := a.Write(append(rec, '\n')); err != nil {
		return 1, err
	}
	synced := make(chan error, 1)
	go func() { synced <- a.Sync() }()
	cmd := exec.Command(args[3], args[4:]...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err = cmd.Start()
	serr := <-synced
	a.Close()
	if err != nil {
		return 127, err
	}
	err = cmd.Wait()
	if serr != nil {
		return 1, serr
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	return 0, err
}

func seal(path string) error {
	ids, err := identity(path)
	if err != nil {
		return err
	}
	x, ok := ids[0].(*age.X25519Identity)
	if !ok {
		return errors.New("seal: want an X25519 identity")
	}
	w, err := age.Encrypt(os.Stdout, x.Recipient())
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, os.Stdin); err != nil {
		return err
	}
	return w.Close()
}

func main() {
	code := 0
	root := &cobra.Command{Use: "essential", Version: "v0.0.0", SilenceUsage: true}
	root.AddCommand(&cobra.Command{Use: "run IDENTITY FILE.age AUDIT CMD...", Args: cobra.MinimumNArgs(4),
		RunE: func(_ *cobra.Command, args []string) error {
			var err error
			if code, err = run(args); err != nil {
				fmt.Fprintln(os.Stderr, "essential:", err)
				os.Exit(max(code, 1)) // the child's code, as keyward run's
			}
			return nil
		}})
	root.AddCommand(&cobra.Command{Use: "seal IDENTITY", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error { return seal(args[0]) }})
	if err := root.Execute(); err != nil {
		os.Exit(1)
	}
	os.Exit(code)
}
