package main

import (
	"os"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/keyward/keyward/internal/testing/awsserver"
)

// envCleanup adapts a testscript.Env to awsserver.TB.
type envCleanup struct{ env *testscript.Env }

func (e envCleanup) Helper()          {}
func (e envCleanup) Cleanup(f func()) { e.env.Defer(f) }

type awsKey struct{}

// TestScriptAWS runs testdata/script/aws/*.txtar against an in-process
// Secrets Manager: the guide's SECRET_PROVIDER=aws configuration, end to end
// through the real SDK. Each script gets its own server, reached through
// AWS_ENDPOINT_URL_SECRETS_MANAGER, and obviously fake credentials.
//
// Extra commands: awsseed NAME FILE (seed a secret's current version),
// awsfault OP STATUS TYPE TIMES (inject faults), awscalls OP N (assert the
// number of requests for OP), awspolicy FILE (bind FILE's IAM policy to the
// scripts' access key, enforced by ARN pattern).
func TestScriptAWS(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script/aws",
		Setup: func(env *testscript.Env) error {
			srv := awsserver.New(envCleanup{env})
			env.Values[awsKey{}] = srv
			env.Setenv("XDG_CONFIG_HOME", env.WorkDir+"/.config")
			env.Setenv("HOME", env.WorkDir+"/home")
			// Through the plugin programs, as the released CLI runs them.
			env.Setenv("KEYWARD_PLUGINS", "always")
			env.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", srv.URL)
			env.Setenv("AWS_ACCESS_KEY_ID", "AKIAKEYWARDTESTFAKE0")
			env.Setenv("AWS_SECRET_ACCESS_KEY", "keyward-test-fake-secret-access-key-not-real")
			env.Setenv("AWS_REGION", "us-east-1")
			// Never reach for instance metadata or the user's AWS files.
			env.Setenv("AWS_EC2_METADATA_DISABLED", "true")
			env.Setenv("AWS_CONFIG_FILE", env.WorkDir+"/.aws-none/config")
			env.Setenv("AWS_SHARED_CREDENTIALS_FILE", env.WorkDir+"/.aws-none/credentials")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"awsseed": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: awsseed NAME FILE")
				}
				b, err := os.ReadFile(ts.MkAbs(args[1]))
				ts.Check(err)
				ts.Value(awsKey{}).(*awsserver.Server).PutString(args[0], string(b))
			},
			"awsfault": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 4 {
					ts.Fatalf("usage: awsfault OP STATUS TYPE TIMES")
				}
				status, err := strconv.Atoi(args[1])
				ts.Check(err)
				times, err := strconv.Atoi(args[3])
				ts.Check(err)
				typ := args[2]
				if typ == "-" {
					typ = ""
				}
				ts.Value(awsKey{}).(*awsserver.Server).Inject(awsserver.Fault{Op: args[0], Status: status, Type: typ}, times)
			},
			"awspolicy": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: awspolicy FILE")
				}
				b, err := os.ReadFile(ts.MkAbs(args[0]))
				ts.Check(err)
				ts.Check(ts.Value(awsKey{}).(*awsserver.Server).SetPolicy(ts.Getenv("AWS_ACCESS_KEY_ID"), b))
			},
			"awscalls": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: awscalls OP N")
				}
				srv := ts.Value(awsKey{}).(*awsserver.Server)
				op := args[0]
				if op == "all" {
					op = ""
				}
				if got := strconv.Itoa(srv.Calls(op)); got != args[1] {
					ts.Fatalf("%s requests: got %s, want %s", args[0], got, args[1])
				}
			},
		},
	})
}
