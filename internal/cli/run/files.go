package run

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/export"
)

// run --files DIR: the secrets as files (the Docker secrets layout) for
// services that read KEY_FILE, rewritten at every --watch reload; with
// --reload signal:HUP the service re-reads them without a restart.

// secretVars returns the entries of env that are the secret variables
// (names from vars), with the values env has for them (references resolved).
func secretVars(vars, env []string) []string {
	names := make(map[string]bool, len(vars))
	for _, v := range vars {
		n, _, _ := strings.Cut(v, "=")
		names[n] = true
	}
	out := make([]string, 0, len(vars))
	for _, kv := range env {
		n, _, _ := strings.Cut(kv, "=")
		if names[n] {
			out = append(out, kv)
		}
	}
	return out
}

// writeFiles writes vars (NAME=value) into dir, one 0400 file per secret
// named by the lower-case name (jwt_secret_key, jwt_secret_key_old), each
// replaced atomically, and removes the files of prev that are no longer
// delivered (a KEY_OLD whose grace ended). It returns NAME_FILE=path
// variables for the child and the file names written.
func writeFiles(dir string, vars []string, prev []string) ([]string, []string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, nil, keyward.NewError(keyward.InvalidArgument, "run --files", err)
	}
	es := make([]export.Entry, 0, len(vars))
	for _, kv := range vars {
		n, v, _ := strings.Cut(kv, "=")
		es = append(es, export.Entry{Key: n, Value: keyward.NewSecretString(v)})
	}
	maps, err := export.WriteDocker(abs, es, export.DockerOptions{Force: true, MountDir: abs})
	if err != nil {
		return nil, nil, err
	}
	names := make([]string, 0, len(maps))
	out := make([]string, 0, len(maps))
	keep := map[string]bool{}
	for _, m := range maps {
		names = append(names, m.Name)
		keep[m.Name] = true
		out = append(out, m.Var+"="+m.Path)
	}
	for _, n := range prev {
		if !keep[n] && n != "" && !strings.ContainsAny(n, `/\`) {
			_ = os.Remove(filepath.Join(abs, n))
		}
	}
	return out, names, nil
}

// withoutVars drops from env the variables named in vars.
func withoutVars(env, vars []string) []string {
	names := make(map[string]bool, len(vars))
	for _, v := range vars {
		n, _, _ := strings.Cut(v, "=")
		names[n] = true
	}
	out := env[:0:0]
	for _, kv := range env {
		n, _, _ := strings.Cut(kv, "=")
		if !names[n] {
			out = append(out, kv)
		}
	}
	return out
}
