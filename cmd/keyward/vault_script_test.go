package main

import (
	"encoding/json"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/keyward/keyward/internal/testing/vaultserver"
)

type vaultKey struct{}

// Fake AppRole credentials the scripts use with the guide's variables.
const (
	vaultTestRoleID   = "dharmamind-role-id-fake"
	vaultTestSecretID = "dharmamind-secret-id-fake-0123456789"
)

// TestScriptVault runs testdata/script/vault/*.txtar against an in-process
// Vault: the guide's SECRET_PROVIDER=vault configuration, end to end through
// the official api client. Each script gets its own server (VAULT_ADDR) with
// a KV v2 mount at dharmamind/ (the guide's `vault secrets enable
// -path=dharmamind kv-v2`), the default secret/ mount, and an AppRole whose
// ids are $VAULT_TEST_ROLE_ID and $VAULT_TEST_SECRET_ID.
//
// Extra commands:
//
//	vaultput MOUNT PATH FILE      write FILE's JSON object as a new version
//	vaultmount PATH VERSION       enable a KV mount (1 or 2)
//	vaultunmount PATH             disable a mount
//	vaultfail N STATUS            the next N requests answer STATUS
//	vaultseal on|off              seal or unseal
//	vaultcount METHOD PREFIX N    assert the number of requests
//	vaultpolicy NAME FILE         write FILE as ACL policy NAME (enforced)
//	vaulttoken ID POLICY...       add token ID bound to the policies
func TestScriptVault(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script/vault",
		Setup: func(env *testscript.Env) error {
			srv := vaultserver.New(nil)
			env.Defer(srv.Close)
			srv.Mount("", "dharmamind", 2)
			srv.AddAppRole(vaultserver.AppRole{RoleID: vaultTestRoleID, SecretID: vaultTestSecretID, TokenTTL: time.Hour})
			env.Values[vaultKey{}] = srv
			env.Setenv("XDG_CONFIG_HOME", env.WorkDir+"/.config")
			env.Setenv("HOME", env.WorkDir+"/home")
			// Through the plugin programs, as the released CLI runs them.
			env.Setenv("KEYWARD_PLUGINS", "always")
			env.Setenv("VAULT_ADDR", srv.URL)
			env.Setenv("VAULT_TEST_ROLE_ID", vaultTestRoleID)
			env.Setenv("VAULT_TEST_SECRET_ID", vaultTestSecretID)
			env.Setenv("VAULT_TEST_ROOT_TOKEN", vaultserver.RootToken)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"vaultput": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 3 {
					ts.Fatalf("usage: vaultput MOUNT PATH FILE")
				}
				b, err := os.ReadFile(ts.MkAbs(args[2]))
				ts.Check(err)
				var data map[string]any
				ts.Check(json.Unmarshal(b, &data))
				_, err = ts.Value(vaultKey{}).(*vaultserver.Server).PutKV("", args[0], args[1], data)
				ts.Check(err)
			},
			"vaultmount": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: vaultmount PATH VERSION")
				}
				v, err := strconv.Atoi(args[1])
				ts.Check(err)
				ts.Value(vaultKey{}).(*vaultserver.Server).Mount("", args[0], v)
			},
			"vaultunmount": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: vaultunmount PATH")
				}
				ts.Value(vaultKey{}).(*vaultserver.Server).Unmount("", args[0])
			},
			"vaultfail": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: vaultfail N STATUS")
				}
				n, err := strconv.Atoi(args[0])
				ts.Check(err)
				st, err := strconv.Atoi(args[1])
				ts.Check(err)
				ts.Value(vaultKey{}).(*vaultserver.Server).FailNext(n, st)
			},
			"vaultseal": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 || (args[0] != "on" && args[0] != "off") {
					ts.Fatalf("usage: vaultseal on|off")
				}
				ts.Value(vaultKey{}).(*vaultserver.Server).Seal(args[0] == "on")
			},
			"vaultpolicy": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: vaultpolicy NAME FILE")
				}
				b, err := os.ReadFile(ts.MkAbs(args[1]))
				ts.Check(err)
				ts.Check(ts.Value(vaultKey{}).(*vaultserver.Server).AddPolicy(args[0], string(b)))
			},
			"vaulttoken": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) < 2 {
					ts.Fatalf("usage: vaulttoken ID POLICY...")
				}
				ts.Value(vaultKey{}).(*vaultserver.Server).AddToken(vaultserver.Token{ID: args[0], Policies: args[1:]})
			},
			"vaultcount": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 3 {
					ts.Fatalf("usage: vaultcount METHOD PREFIX N")
				}
				got := ts.Value(vaultKey{}).(*vaultserver.Server).Count(args[0], args[1])
				if strconv.Itoa(got) != args[2] {
					ts.Fatalf("%s %s requests: got %d, want %s", args[0], args[1], got, args[2])
				}
			},
		},
	})
}
