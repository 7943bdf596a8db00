//go:build unix && !keyward_omit_vault && !keyward_omit_awssm

package rotation_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/testing/awsserver"
	"github.com/keyward/keyward/internal/testing/vaultserver"
	"github.com/keyward/keyward/provider/awssm"
	"github.com/keyward/keyward/provider/local"
	"github.com/keyward/keyward/provider/vault"
	"github.com/keyward/keyward/rotation"
)

// The kill test re-runs this test binary as a child that rotates a key and
// SIGKILLs itself right after one step: no deferred cleanup, like kill -9 or
// the OOM killer. The parent then checks that no valid key was lost and that
// rotate --resume (or --abort) finishes cleanly.
const (
	envKillBackend = "KEYWARD_ROTATION_KILL_BACKEND"
	envKillAddr    = "KEYWARD_ROTATION_KILL_ADDR"
	envKillStep    = "KEYWARD_ROTATION_KILL_STEP"
	killKey        = "JWT_SECRET_KEY"
	killOld        = "kill-test-canary-old-value-000000000000000"
)

// Obviously fake AWS credentials: the in-process server checks that requests
// are signed, not who signed them.
const (
	fakeAccessKey = "AKIAKEYWARDTESTFAKE0"
	fakeSecretKey = "keyward-test-fake-secret-access-key-not-real"
)

type killBackend struct {
	name  string
	steps []rotation.Step
	// start prepares a backend in the parent and returns its address.
	start func(t *testing.T) string
}

var allSteps = []rotation.Step{rotation.StepPlanned, rotation.StepStaged, rotation.StepOldSaved, rotation.StepPromoted, rotation.StepRecorded, rotation.StepCleaned}

func killBackends() []killBackend {
	vaultStart := func(t *testing.T) string {
		srv := vaultserver.New(nil)
		t.Cleanup(srv.Close)
		return srv.URL
	}
	awsStart := func(t *testing.T) string { return awsserver.New(t).URL }
	return []killBackend{
		{"local", []rotation.Step{rotation.StepPlanned, rotation.StepPromoted}, func(t *testing.T) string {
			dir := t.TempDir()
			id, err := local.GenerateIdentity()
			if err != nil {
				t.Fatal(err)
			}
			idf := filepath.Join(dir, "identity.txt")
			if err := local.WriteIdentityFile(idf, id); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(dir, "keyward.age") + "|" + idf
		}},
		{"vault-bundle", allSteps, vaultStart},
		{"vault-keys", []rotation.Step{rotation.StepPlanned, rotation.StepStaged, rotation.StepPromoted, rotation.StepRecorded}, vaultStart},
		{"aws-bundle", allSteps, awsStart},
		{"aws-keys", []rotation.Step{rotation.StepPlanned, rotation.StepStaged, rotation.StepPromoted}, awsStart},
	}
}

func openKillStore(t testing.TB, backend, addr string) *keyward.Store {
	so := &keyward.StoreOptions{TTL: -1, Retries: -1}
	switch backend {
	case "local":
		var path, idf string
		for i := range addr {
			if addr[i] == '|' {
				path, idf = addr[:i], addr[i+1:]
			}
		}
		s, err := local.OpenStore(path, &local.Options{IdentityFile: idf}, so)
		if err != nil {
			t.Fatal(err)
		}
		return s
	case "vault-bundle", "vault-keys":
		o := &vault.Options{Address: addr, Token: vaultserver.RootToken, Path: "dharmamind/production",
			Getenv: func(string) string { return "" }}
		if backend == "vault-keys" {
			o.Layout = vault.LayoutKeys
		}
		d, err := vault.NewDriver(o)
		if err != nil {
			t.Fatal(err)
		}
		return keyward.NewStore(d, so)
	case "aws-bundle", "aws-keys":
		c := secretsmanager.New(secretsmanager.Options{Region: "us-east-1", BaseEndpoint: aws.String(addr),
			Credentials: credentials.NewStaticCredentialsProvider(fakeAccessKey, fakeSecretKey, "")})
		o := &awssm.Options{Client: c}
		if backend == "aws-keys" {
			o.Mode = awssm.ModeKeys
		}
		s, err := awssm.OpenStore("dharmamind/production", o, so)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	t.Fatalf("unknown backend %q", backend)
	return nil
}

// TestKillHelperProcess is the child of TestRotateKilledAtEveryStep.
func TestKillHelperProcess(t *testing.T) {
	backend := os.Getenv(envKillBackend)
	if backend == "" {
		t.Skip("helper process for TestRotateKilledAtEveryStep")
	}
	step := rotation.Step(os.Getenv(envKillStep))
	s := openKillStore(t, backend, os.Getenv(envKillAddr))
	_, err := rotation.Rotate(context.Background(), s, killKey, &rotation.Options{
		Grace: time.Hour, NewValue: rotation.Generator("urlsafe"),
		Hook: func(got rotation.Step) {
			if got == step {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {} // wait for the signal
			}
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	os.Exit(0) // the step never came: the parent fails the test
}

func ringHas(r *keyward.KeyRing, v string) bool {
	for _, k := range r.Keys() {
		if k.Secret.RevealString() == v {
			return true
		}
	}
	return false
}

func TestRotateKilledAtEveryStep(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary many times")
	}
	ctx := context.Background()
	for _, b := range killBackends() {
		for _, step := range b.steps {
			for _, mode := range []string{"resume", "abort"} {
				t.Run(b.name+"/"+string(step)+"/"+mode, func(t *testing.T) {
					addr := b.start(t)
					s := openKillStore(t, b.name, addr)
					defer s.Close()
					if _, err := s.Put(ctx, killKey, keyward.NewSecretString(killOld), nil); err != nil {
						t.Fatal(err)
					}
					cmd := exec.Command(os.Args[0], "-test.run=^TestKillHelperProcess$")
					cmd.Env = append(os.Environ(), envKillBackend+"="+b.name, envKillAddr+"="+addr, envKillStep+"="+string(step))
					out, err := cmd.CombinedOutput()
					var ee *exec.ExitError
					if !errors.As(err, &ee) {
						t.Fatalf("child was not killed at %s (err %v): %d bytes of output", step, err, len(out))
					}
					if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
						t.Fatalf("child did not die of SIGKILL at %s: %v; output: %s", step, err, out)
					}

					// Invariant 1: the old value is still valid (current or in grace).
					r, err := s.KeyRing(ctx, killKey)
					if err != nil {
						t.Fatalf("KeyRing after the kill: %v", err)
					}
					if !ringHas(r, killOld) {
						t.Fatalf("killed at %s: the old value left the ring (%d keys)", step, len(r.Keys()))
					}
					promotedBefore := r.Current.Secret.RevealString() != killOld

					// Invariant 2: a plain rerun refuses an unfinished rotation.
					st, err := s.RotationState(ctx, killKey)
					if err != nil {
						t.Fatal(err)
					}
					if st.InFlight() {
						_, err := rotation.Rotate(ctx, s, killKey, &rotation.Options{NewValue: rotation.Generator("urlsafe")})
						if !errors.Is(err, rotation.ErrInProgress) {
							t.Fatalf("rerun without --resume: %v", err)
						}
						res, err := rotation.Rotate(ctx, s, killKey, &rotation.Options{Resume: mode == "resume", Abort: mode == "abort", Grace: time.Hour})
						if err != nil {
							t.Fatalf("%s after a kill at %s: %v", mode, step, err)
						}
						if promotedBefore && res.Aborted {
							t.Fatalf("abort rolled back a value that was already current")
						}
					}
					// Invariant 3: the rotation is finished one way or the other,
					// the old value is still valid, and rotating again works.
					st, err = s.RotationState(ctx, killKey)
					if err != nil {
						t.Fatal(err)
					}
					if st.InFlight() {
						t.Fatalf("still in flight after %s", mode)
					}
					r, err = s.KeyRing(ctx, killKey)
					if err != nil {
						t.Fatal(err)
					}
					if !ringHas(r, killOld) {
						t.Fatalf("after %s the old value left the ring", mode)
					}
					if r.Current.Secret.RevealString() != killOld {
						if len(r.Previous) == 0 || r.Previous[0].Secret.RevealString() != killOld || r.Previous[0].Expires.IsZero() {
							t.Fatalf("completed rotation: the old value is not the previous one with an expiry")
						}
					}
					res, err := rotation.Rotate(ctx, s, killKey, &rotation.Options{Grace: time.Hour, NewValue: rotation.Generator("urlsafe")})
					if err != nil {
						t.Fatalf("a new rotation after recovery: %v", err)
					}
					if res.Resumed || res.Aborted {
						t.Fatalf("the next rotation found leftovers: %+v", res)
					}
				})
			}
		}
	}
}
