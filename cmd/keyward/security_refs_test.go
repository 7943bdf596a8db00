package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/cli"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/internal/testing/vaultserver"
	"github.com/keyward/keyward/provider/local"
)

// attacker is a loopback listener standing for a host named by data or by a
// repository's keyward.yaml. It counts every connection (also a TLS
// handshake it cannot answer) and records every X-Vault-Token it receives.
type attacker struct {
	srv *httptest.Server

	mu     sync.Mutex
	conns  int
	tokens []string
	paths  []string
}

func newAttacker(t *testing.T) *attacker {
	a := &attacker{}
	a.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		if tok := r.Header.Get("X-Vault-Token"); tok != "" {
			a.tokens = append(a.tokens, tok)
		}
		a.paths = append(a.paths, r.URL.Path)
		a.mu.Unlock()
		// Answer like a Vault that has the secret, so a client that got
		// here would carry on.
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.Contains(r.URL.Path, "sys/internal/ui/mounts"):
			fmt.Fprint(w, `{"data":{"path":"dharmamind/","type":"kv","options":{"version":"2"}}}`)
		case strings.Contains(r.URL.Path, "lookup-self"):
			fmt.Fprint(w, `{"data":{"ttl":0}}`)
		default:
			fmt.Fprint(w, `{"data":{"data":{"DB":"attacker-value"},"metadata":{"version":1}}}`)
		}
	}))
	a.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			a.mu.Lock()
			a.conns++
			a.mu.Unlock()
		}
	}
	a.srv.Start()
	t.Cleanup(a.srv.Close)
	return a
}

func (a *attacker) host() string { return strings.TrimPrefix(a.srv.URL, "http://") }

func (a *attacker) seen() (conns int, tokens []string, paths []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.conns, append([]string(nil), a.tokens...), append([]string(nil), a.paths...)
}

func (a *attacker) reset() {
	a.mu.Lock()
	a.conns, a.tokens, a.paths = 0, nil, nil
	a.mu.Unlock()
}

// secWorld is a user's machine and an untrusted checkout: a canary
// VAULT_TOKEN accepted by the configured Vault (VAULT_ADDR), a local store
// holding values planted by an attacker, and a git repository whose
// keyward.yaml names the attacker's host.
type secWorld struct {
	t        *testing.T
	dir      string
	repo     string
	env      map[string]string
	vault    *vaultserver.Server
	att      *attacker
	token    string
	canaries []string // values that must never reach the attacker or any output
}

func newSecWorld(t *testing.T) *secWorld {
	w := &secWorld{t: t, dir: t.TempDir()}
	raw := make([]byte, 12)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	w.token = "hvs.kwcanary-" + hex.EncodeToString(raw)
	w.vault = vaultserver.New(nil)
	t.Cleanup(w.vault.Close)
	w.vault.Mount("", "dharmamind", 2)
	w.vault.AddToken(vaultserver.Token{ID: w.token, Policies: []string{"root"}})
	if _, err := w.vault.PutKV("", "dharmamind", "production", map[string]any{"DB": "configured-vault-value"}); err != nil {
		t.Fatal(err)
	}
	w.att = newAttacker(t)

	home := filepath.Join(w.dir, "home")
	sshKey := "kwcanary-ssh-" + hex.EncodeToString(raw[:6])
	mustWrite(t, filepath.Join(home, ".ssh", "id"), sshKey+"\n")
	mustWrite(t, filepath.Join(home, ".vault-token"), w.token+"\n")
	homeSecret := "kwcanary-home-" + hex.EncodeToString(raw[6:])
	mustWrite(t, filepath.Join(home, ".config", "app.env"), "HOME_SECRET="+homeSecret+"\n")
	w.canaries = []string{w.token, sshKey, homeSecret}

	idFile := filepath.Join(w.dir, "config", "keyward", "identity.txt")
	id, err := local.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, idFile, id.String()+"\n")

	w.repo = filepath.Join(w.dir, "repo")
	att := w.att.host()
	mustWrite(t, filepath.Join(w.repo, "keyward.yaml"), fmt.Sprintf(`version: 1
default_environment: production
environments:
  production:
    store: vault://%s/dharmamind/production?tls=false
  tlsprod:
    store: vault://%s/dharmamind/production
  configured:
    store: vault:///dharmamind/production
  development:
    store: local://dev.age
`, att, att))
	mustWrite(t, filepath.Join(w.repo, "app.conf.tmpl"), fmt.Sprintf("db = {{ ref \"ref+vault://%s/dharmamind/production?tls=false#/DB\" }}\n", att))
	mustWrite(t, filepath.Join(w.repo, "text.conf.tmpl"), fmt.Sprintf("db = ref+vault://%s/dharmamind/production#/DB\n", att))
	mustWrite(t, filepath.Join(w.repo, "secret.conf.tmpl"), "db = {{ secret \"ATTACK_TLSFALSE\" }}\n")
	mustWrite(t, filepath.Join(w.repo, "src", "main.go"), "package main\n")

	w.env = map[string]string{
		"HOME":                      home,
		"XDG_CONFIG_HOME":           filepath.Join(w.dir, "config"),
		"XDG_STATE_HOME":            filepath.Join(w.dir, "state"),
		"XDG_CACHE_HOME":            filepath.Join(w.dir, "cache"),
		"KEYWARD_AUDIT_FILE":        filepath.Join(w.dir, "state", "audit.log"),
		"KEYWARD_AGE_IDENTITY_FILE": idFile,
		"KEYWARD_STORE":             "local://" + filepath.Join(w.dir, "store", "keyward.age"),
		"PATH":                      os.Getenv("PATH"),
		"VAULT_ADDR":                w.vault.URL,
		"VAULT_TOKEN":               w.token,
		"GIT_CONFIG_NOSYSTEM":       "1",
	}
	for k, v := range w.env {
		t.Setenv(k, v)
	}
	for _, k := range []string{"VAULT_TOKEN_FILE", "VAULT_NAMESPACE", "SECRET_PROVIDER", "VAULT_ROLE_ID", "VAULT_K8S_ROLE", AllowRefsEnvForTest} {
		t.Setenv(k, "")
	}
	// The attacker's values, planted in the store the user reads.
	planted := map[string]string{
		"ATTACK_TLSFALSE": "ref+vault://" + att + "/dharmamind/production?tls=false#/DB",
		"ATTACK_TLS":      "ref+vault://" + att + "/dharmamind/production#/DB",
		"ATTACK_SKIP":     "ref+vault://" + att + "/dharmamind/production?tls=skip-verify#/DB",
		"ATTACK_ENV":      "ref+env://#/VAULT_TOKEN",
		"ATTACK_FILE":     "ref+file://" + filepath.Join(home, ".ssh") + "#/id",
		"ATTACK_DOTENV":   "ref+dotenv://" + filepath.Join(home, ".config", "app.env") + "#/HOME_SECRET",
		"ATTACK_YAMLENV":  "keyward://production/DB",
		"ATTACK_ADDR":     "ref+vault:///dharmamind/production#/DB",
	}
	if code, _, errOut := w.keyward("", nil, "init"); code != 0 {
		t.Fatalf("init: exit %d: %s", code, w.mask(errOut))
	}
	for k, v := range planted {
		if code, _, errOut := w.keyward(v, nil, "set", k); code != 0 {
			t.Fatalf("set %s: exit %d: %s", k, code, w.mask(errOut))
		}
	}
	// The repository is a git checkout with a staged file.
	for _, args := range [][]string{{"init", "-q"}, {"add", "."}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = w.repo
		cmd.Env = append(os.Environ(), "HOME="+home)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return w
}

// AllowRefsEnvForTest is cmdutil.AllowRefsEnv (cleared for every test).
const AllowRefsEnvForTest = cmdutil.AllowRefsEnv

func mustWrite(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// keyward runs the CLI in the repository with the world's environment
// plus over ("" deletes a variable).
func (w *secWorld) keyward(stdin string, over map[string]string, args ...string) (int, string, string) {
	env := map[string]string{}
	for k, v := range w.env {
		env[k] = v
	}
	for k, v := range over {
		if v == "" {
			delete(env, k)
		} else {
			env[k] = v
		}
		w.t.Setenv(k, v)
	}
	defer func() {
		for k := range over {
			w.t.Setenv(k, w.env[k])
		}
	}()
	environ := func() []string {
		var out []string
		for k, v := range env {
			out = append(out, k+"="+v)
		}
		sort.Strings(out)
		return out
	}
	ios, in, out, errOut := iostreams.Test()
	in.WriteString(stdin)
	f := cmdutil.NewWith(ios, func(k string) string { return env[k] }, environ, time.Now)
	wd, err := os.Getwd()
	if err != nil {
		w.t.Fatal(err)
	}
	if err := os.Chdir(w.repo); err != nil {
		w.t.Fatal(err)
	}
	defer os.Chdir(wd)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := cli.Run(ctx, f, args)
	return code, out.String(), errOut.String()
}

func (w *secWorld) mask(s string) string {
	for _, c := range w.canaries {
		s = strings.ReplaceAll(s, c, "[CANARY]")
	}
	return s
}

// leaks reports which canaries s holds (never the canaries themselves).
func (w *secWorld) leaks(s string) []int {
	var out []int
	for i, c := range w.canaries {
		if strings.Contains(s, c) {
			out = append(out, i)
		}
	}
	return out
}

type secCase struct {
	name string
	over map[string]string
	args []string
	// code is the expected exit code; -1 accepts any non-zero.
	code int
	// stderr must match (substring) when set.
	stderr string
}

func (w *secWorld) runCases(t *testing.T, cases []secCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w.att.reset()
			code, out, errOut := w.keyward("", tc.over, tc.args...)
			conns, tokens, paths := w.att.seen()
			if conns != 0 || len(tokens) != 0 {
				t.Errorf("keyward %s: %d connections and %d X-Vault-Token headers reached the attacker's listener (paths %v)",
					strings.Join(tc.args, " "), conns, len(tokens), paths)
			}
			for _, tok := range tokens {
				if tok == w.token {
					t.Errorf("keyward %s: the canary VAULT_TOKEN reached the attacker", strings.Join(tc.args, " "))
					break
				}
			}
			if l := w.leaks(out + errOut); len(l) > 0 {
				t.Errorf("keyward %s: output holds canaries %v\nstdout: %s\nstderr: %s", strings.Join(tc.args, " "), l, w.mask(out), w.mask(errOut))
			}
			if strings.Contains(out, "attacker-value") {
				t.Errorf("keyward %s: output holds the attacker's value", strings.Join(tc.args, " "))
			}
			if (tc.code >= 0 && code != tc.code) || (tc.code < 0 && code == 0) {
				t.Errorf("keyward %s: exit %d, want %d\nstderr: %s", strings.Join(tc.args, " "), code, tc.code, w.mask(errOut))
			}
			if tc.stderr != "" && !strings.Contains(errOut, tc.stderr) {
				t.Errorf("keyward %s: stderr lacks %q:\n%s", strings.Join(tc.args, " "), tc.stderr, w.mask(errOut))
			}
		})
	}
}

// TestSecurityVaultTokenOnlyToConfiguredAddr: with a canary VAULT_TOKEN set
// and VAULT_ADDR pointing at the configured Vault, no verb sends a request
// to the attacker's listener — across run, export, template, scan and scan
// --staged, with the attacker's host planted in stored values and in the
// repository's keyward.yaml. The configured Vault, meanwhile, does get the
// token (so the test can tell a working path from a dead one).
func TestSecurityVaultTokenOnlyToConfiguredAddr(t *testing.T) {
	w := newSecWorld(t)
	const refused = "refused"
	noStore := map[string]string{"KEYWARD_STORE": ""}
	var cases []secCase
	for _, k := range []string{"ATTACK_TLSFALSE", "ATTACK_TLS", "ATTACK_SKIP", "ATTACK_YAMLENV"} {
		cases = append(cases,
			secCase{name: "run/" + k, args: []string{"run", "--only", k, "--", "true"}, code: cmdutil.ExitPermission, stderr: refused},
			secCase{name: "export/" + k, args: []string{"export", "--only", k}, code: cmdutil.ExitPermission, stderr: refused},
		)
	}
	cases = append(cases,
		// stored values through a template's {{ secret }}
		secCase{name: "template/secret", args: []string{"template", "secret.conf.tmpl"}, code: cmdutil.ExitPermission, stderr: refused},
		// references written in the repository's templates
		secCase{name: "template/ref", args: []string{"template", "app.conf.tmpl"}, code: cmdutil.ExitPermission, stderr: refused},
		secCase{name: "template/text", args: []string{"template", "text.conf.tmpl"}, code: cmdutil.ExitPermission, stderr: refused},
		// keyward.yaml environments naming the attacker: picked, or the default
		secCase{name: "run/--env", args: []string{"--env", "production", "run", "--", "true"}, code: cmdutil.ExitPermission, stderr: "from keyward.yaml"},
		secCase{name: "run/--env-tls", args: []string{"--env", "tlsprod", "run", "--", "true"}, code: cmdutil.ExitPermission, stderr: "from keyward.yaml"},
		secCase{name: "export/default_environment", over: noStore, args: []string{"export"}, code: cmdutil.ExitPermission, stderr: "from keyward.yaml"},
		secCase{name: "template/--env", args: []string{"--env", "production", "template", "secret.conf.tmpl"}, code: cmdutil.ExitPermission, stderr: "from keyward.yaml"},
		// scan and the pre-commit hook: only local stores by default, never the attacker
		secCase{name: "scan", over: noStore, args: []string{"scan", "src"}, code: 0, stderr: "environment production not read"},
		secCase{name: "scan/--staged", over: noStore, args: []string{"scan", "--staged", "."}, code: 0, stderr: "environment production not read"},
		secCase{name: "scan/--staged/configured-not-contacted", over: noStore, args: []string{"scan", "--staged", "."}, code: 0, stderr: "environment configured not read"},
		secCase{name: "scan/--env", args: []string{"--env", "production", "scan", "src"}, code: cmdutil.ExitPermission, stderr: "from keyward.yaml"},
		secCase{name: "scan/--staged/--env", args: []string{"--env", "tlsprod", "scan", "--staged", "."}, code: cmdutil.ExitPermission, stderr: "from keyward.yaml"},
		// the store itself (KEYWARD_STORE) is read; its planted references are not followed
		secCase{name: "scan/store", args: []string{"scan", "src"}, code: 0},
	)
	before := w.vault.Count("", "")
	w.runCases(t, cases)
	if got := w.vault.Count("", ""); got != before {
		t.Errorf("scan and the refused references made %d requests to the configured Vault; none was needed", got-before)
	}

	// Controls: the configured address works, with the token...
	t.Run("control/configured", func(t *testing.T) {
		code, out, errOut := w.keyward("", nil, "export", "--format", "json", "--only", "ATTACK_ADDR", "--allow-ref", "vault://")
		if code != 0 || !strings.Contains(out, "configured-vault-value") {
			t.Fatalf("export through VAULT_ADDR: exit %d\nstderr: %s", code, w.mask(errOut))
		}
		if w.vault.Count("", "") == before {
			t.Fatal("the configured Vault saw no request")
		}
		if c, tok, _ := w.att.seen(); c != 0 || len(tok) != 0 {
			t.Fatal("the attacker's listener was contacted")
		}
	})
	// ...and the listener does catch a token when the user opts in to that
	// host (so the zero counts above are not a dead listener).
	t.Run("control/opt-in", func(t *testing.T) {
		w.att.reset()
		entry := "vault://" + w.att.host() + "?tls=false"
		code, _, errOut := w.keyward("", nil, "export", "--only", "ATTACK_TLSFALSE", "--allow-ref", entry)
		_, tokens, _ := w.att.seen()
		if len(tokens) == 0 || tokens[0] != w.token {
			t.Fatalf("with --allow-ref %s the listener saw %d tokens (exit %d, stderr %s)", entry, len(tokens), code, w.mask(errOut))
		}
	})
}

// TestSecurityRefsNoEnvOrFileFromData: references planted in stored values
// never read the user's environment or files (env://, file://, dotenv:// of
// a home file) unless the user allows that store explicitly.
func TestSecurityRefsNoEnvOrFileFromData(t *testing.T) {
	w := newSecWorld(t)
	var cases []secCase
	for _, k := range []string{"ATTACK_ENV", "ATTACK_FILE", "ATTACK_DOTENV", "ATTACK_ADDR"} {
		cases = append(cases,
			secCase{name: "run/" + k, args: []string{"run", "--only", k, "--", "sh", "-c", "printenv " + k}, code: cmdutil.ExitPermission, stderr: "hint: if you trust it, allow it"},
			secCase{name: "export/" + k, args: []string{"export", "--only", k}, code: cmdutil.ExitPermission, stderr: "refused the reference"},
			secCase{name: "export-json/" + k, args: []string{"export", "--format", "json", "--only", k}, code: cmdutil.ExitPermission},
		)
	}
	// An allow entry for another store does not cover env:// or file://.
	cases = append(cases,
		secCase{name: "export/other-entry", args: []string{"--allow-ref", "vault://", "export", "--only", "ATTACK_ENV"}, code: cmdutil.ExitPermission},
		secCase{name: "export/dotenv-scheme-entry", over: map[string]string{cmdutil.AllowRefsEnv: "awssm://"}, args: []string{"export", "--only", "ATTACK_DOTENV"}, code: cmdutil.ExitPermission},
	)
	w.runCases(t, cases)

	// The user's own environment may hold references: they are theirs.
	t.Run("inherited-ref-trusted", func(t *testing.T) {
		// A reference the user put in their own environment is trusted and
		// resolved, even against a store that is not the one being read
		// (under --only it would not be resolved at all: least privilege).
		mustWrite(t, filepath.Join(w.repo, "mine.env"), "MINE=kw-user-own-value\n")
		mustWrite(t, filepath.Join(w.repo, "other.env"), "PLAIN=plain-value-1\n")
		code, out, errOut := w.keyward("", map[string]string{"MINE": "ref+dotenv://mine.env#/MINE"},
			"run", "--no-redact", "--store", "dotenv://other.env", "--", "sh", "-c", `printf '%s' "$MINE"`)
		if code != 0 || out != "kw-user-own-value" {
			t.Fatalf("exit %d, stdout of %d bytes is not the user's value, stderr %s", code, len(out), w.mask(errOut))
		}
	})
}

// TestSecurityNoValueInTemplateErrorsCLI: through the whole CLI, a template
// that uses a secret as a key ({{ secret (secret "K") }}) fails without the
// value in its error, on stdout, or in the audit log.
func TestSecurityNoValueInTemplateErrorsCLI(t *testing.T) {
	w := newSecWorld(t)
	raw := make([]byte, 8)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	value := "kwcanary-tmpl-" + hex.EncodeToString(raw)
	w.canaries = append(w.canaries, value)
	if code, _, errOut := w.keyward(value, nil, "set", "TMPL_SECRET"); code != 0 {
		t.Fatalf("set: exit %d: %s", code, w.mask(errOut))
	}
	for name, tmpl := range map[string]string{
		"secret-of-secret": `{{ secret (secret "TMPL_SECRET") }}`,
		"printf":           `{{ secret (printf "%s_X" (secret "TMPL_SECRET")) }}`,
		"ref-of-secret":    `{{ ref (secret "TMPL_SECRET") }}`,
	} {
		t.Run(name, func(t *testing.T) {
			mustWrite(t, filepath.Join(w.repo, "computed.tmpl"), tmpl)
			code, out, errOut := w.keyward("", nil, "template", "computed.tmpl", "-o", "computed.out")
			if code == 0 {
				t.Fatal("rendered")
			}
			if l := w.leaks(out + errOut); len(l) > 0 {
				t.Fatalf("output holds canaries %v: %s", l, w.mask(errOut))
			}
			b, err := os.ReadFile(w.env["KEYWARD_AUDIT_FILE"])
			if err != nil {
				t.Fatalf("no audit log: %v", err)
			}
			if !strings.Contains(string(b), "TMPL_SECRET") {
				t.Fatalf("the audit log does not record the literal key")
			}
			if l := w.leaks(string(b)); len(l) > 0 {
				t.Fatalf("the audit log holds canaries %v", l)
			}
			if _, err := os.Stat(filepath.Join(w.repo, "computed.out")); err == nil {
				t.Fatal("an output file was written")
			}
		})
	}
}
