//go:build !keyward_omit_gcpsm && !keyward_omit_azurekv

package main

import (
	"os"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"google.golang.org/grpc/codes"

	"github.com/keyward/keyward/internal/testing/azureserver"
	"github.com/keyward/keyward/internal/testing/gcpserver"
)

type gcpKey struct{}
type azureKey struct{}

// gcpCodes are the status names gcpfault accepts.
var gcpCodes = map[string]codes.Code{
	"Unavailable": codes.Unavailable, "ResourceExhausted": codes.ResourceExhausted,
	"PermissionDenied": codes.PermissionDenied, "Unauthenticated": codes.Unauthenticated,
	"Internal": codes.Internal, "NotFound": codes.NotFound,
}

// TestScriptCloud runs testdata/script/cloud/*.txtar against an in-process
// Secret Manager (gRPC) and an in-process Key Vault (REST): the guide's
// SECRET_PROVIDER=gcp and =azure configurations, end to end through the real
// SDKs. Each script gets its own servers, reached through the documented
// emulator variables KEYWARD_GCPSM_ENDPOINT and KEYWARD_AZUREKV_ENDPOINT
// (loopback, so plaintext with no real credential).
//
// Extra commands: gcpseed PROJECT SECRET FILE; gcpfault METHOD CODE TIMES
// (CODE a gRPC code name or Hang or CorruptCRC; TIMES 0 = until cleared);
// gcpcalls METHOD N; azseed NAME FILE; azfault OP STATUS TIMES [RETRY_AFTER];
// azcalls OP N; clearfaults.
func TestScriptCloud(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script/cloud",
		Setup: func(env *testscript.Env) error {
			gcp, err := gcpserver.Start()
			if err != nil {
				return err
			}
			env.Defer(gcp.Close)
			az := azureserver.Start()
			env.Defer(az.Close)
			env.Values[gcpKey{}] = gcp
			env.Values[azureKey{}] = az
			env.Setenv("XDG_CONFIG_HOME", env.WorkDir+"/.config")
			env.Setenv("HOME", env.WorkDir+"/home")
			// Through the plugin programs, as the released CLI runs them.
			env.Setenv("KEYWARD_PLUGINS", "always")
			env.Setenv("KEYWARD_GCPSM_ENDPOINT", gcp.Addr())
			env.Setenv("KEYWARD_AZUREKV_ENDPOINT", az.URL())
			// Nothing may reach for the user's real cloud credentials.
			env.Setenv("GOOGLE_APPLICATION_CREDENTIALS", env.WorkDir+"/.no-gcp-credentials.json")
			env.Setenv("CLOUDSDK_CONFIG", env.WorkDir+"/.no-gcloud")
			env.Setenv("AZURE_CONFIG_DIR", env.WorkDir+"/.no-azure")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"gcpseed": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 3 {
					ts.Fatalf("usage: gcpseed PROJECT SECRET FILE")
				}
				b, err := os.ReadFile(ts.MkAbs(args[2]))
				ts.Check(err)
				_, err = ts.Value(gcpKey{}).(*gcpserver.Server).Seed(args[0], args[1], b)
				ts.Check(err)
			},
			"gcpfault": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 3 {
					ts.Fatalf("usage: gcpfault METHOD CODE TIMES")
				}
				times, err := strconv.Atoi(args[2])
				ts.Check(err)
				f := gcpserver.Fault{Method: args[0], Times: times}
				switch args[1] {
				case "Hang":
					f.Hang = true
				case "CorruptCRC":
					f.CorruptCRC = true
				default:
					c, ok := gcpCodes[args[1]]
					if !ok {
						ts.Fatalf("gcpfault: unknown code %s", args[1])
					}
					f.Code = c
				}
				ts.Value(gcpKey{}).(*gcpserver.Server).InjectFault(f)
			},
			"gcpcalls": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: gcpcalls METHOD N")
				}
				if got := strconv.Itoa(ts.Value(gcpKey{}).(*gcpserver.Server).Calls(args[0])); got != args[1] {
					ts.Fatalf("%s calls: got %s, want %s", args[0], got, args[1])
				}
			},
			"azseed": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: azseed NAME FILE")
				}
				b, err := os.ReadFile(ts.MkAbs(args[1]))
				ts.Check(err)
				_, err = ts.Value(azureKey{}).(*azureserver.Server).Seed(args[0], string(b))
				ts.Check(err)
			},
			"azfault": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 3 && len(args) != 4 {
					ts.Fatalf("usage: azfault OP STATUS TIMES [RETRY_AFTER]")
				}
				times, err := strconv.Atoi(args[2])
				ts.Check(err)
				f := azureserver.Fault{Op: args[0], Times: times}
				if args[1] == "Hang" {
					f.Hang = true
				} else if args[1] == "Truncate" {
					f.Truncate = true
				} else {
					f.Status, err = strconv.Atoi(args[1])
					ts.Check(err)
				}
				if len(args) == 4 {
					f.RetryAfter = args[3]
				}
				ts.Value(azureKey{}).(*azureserver.Server).InjectFault(f)
			},
			"azcalls": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: azcalls OP N")
				}
				if got := strconv.Itoa(ts.Value(azureKey{}).(*azureserver.Server).Calls(args[0])); got != args[1] {
					ts.Fatalf("%s calls: got %s, want %s", args[0], got, args[1])
				}
			},
			"clearfaults": func(ts *testscript.TestScript, neg bool, args []string) {
				ts.Value(gcpKey{}).(*gcpserver.Server).ClearFaults()
				ts.Value(azureKey{}).(*azureserver.Server).ClearFaults()
			},
		},
	})
}
