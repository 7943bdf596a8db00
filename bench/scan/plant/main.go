// Command plant builds the scan benchmark corpus: it turns a copy of the Go
// standard library source tree into a git repository of a few dozen
// commits, plants fake secrets (format rules and managed values, some only
// in deleted history, some base64-, hex- or URL-encoded) and writes the
// list of what it planted. Everything is derived from a fixed seed, so two
// runs build the same corpus. The secrets are random strings of the right
// shapes: fake, and generated at run time, never committed.
//
//	go run ./bench/scan/plant -dir CORPUS -out PLANTED.tsv -env MANAGED.env
package main

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

var rng = rand.New(rand.NewPCG(8, 2026))

func pick(alpha string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alpha[rng.IntN(len(alpha))]
	}
	return string(b)
}

const (
	alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	hexd  = "0123456789abcdef"
	b64   = alnum + "+/"
	digit = "0123456789"
)

type planted struct {
	ID, Kind, What, Where, Encoding, Path string
	Line                                  int
}

// formats returns one fake secret line per format rule.
func formats() [][2]string {
	jh := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	jb := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"` + pick(alnum, 12) + `","iat":1700000000}`))
	pem := "-----BEGIN " + "RSA PRIVATE KEY-----\n"
	for i := 0; i < 12; i++ {
		pem += pick(b64, 64) + "\n"
	}
	pem += "-----END " + "RSA PRIVATE KEY-----"
	return [][2]string{
		{"aws-access-key-id", `const awsKeyID = "AKIA` + pick(upper, 16) + `"`},
		{"aws-secret-access-key", `aws_secret_access_key = "` + pick(b64, 40) + `"`},
		{"stripe-live-key", `stripeKey := "sk_` + `live_` + pick(alnum, 24) + `"`},
		{"stripe-webhook-secret", `STRIPE_WEBHOOK_SECRET=whsec_` + pick(alnum, 32)},
		{"github-token", `GITHUB_TOKEN=ghp_` + pick(alnum, 36)},
		{"slack-token", `slack_token: "xoxb-` + pick(digit, 11) + "-" + pick(digit, 12) + "-" + pick(alnum, 24) + `"`},
		{"slack-webhook", `webhook := "https://hooks.slack.com/services/T` + pick(upper, 8) + "/B" + pick(upper, 8) + "/" + pick(alnum, 24) + `"`},
		{"google-api-key", `apiKey := "AIza` + pick(alnum+"_-", 35) + `"`},
		{"gcp-service-account-key", `{"type": "service_account", "private_key_id": "` + pick(hexd, 40) + `"}`},
		{"sendgrid-api-key", `SENDGRID_API_KEY=SG.` + pick(alnum, 22) + "." + pick(alnum, 43)},
		{"twilio-api-key", `twilioKey := "SK` + pick(hexd, 32) + `"`},
		{"private-key", pem},
		{"jwt", `Authorization: Bearer ` + jh + "." + jb + "." + pick(alnum+"_-", 43)},
		{"url-credentials", `DATABASE_URL=postgres://app:` + pick(alnum, 20) + `@db.internal:5432/app`},
		{"generic-secret", `db_password = "` + pick(alnum, 12) + "#" + pick(alnum, 8) + `"`},
	}
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "plant:", err)
		os.Exit(1)
	}
}

func git(dir string, args ...string) {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Bench Author", "GIT_AUTHOR_EMAIL=bench@example.test",
		"GIT_COMMITTER_NAME=Bench Author", "GIT_COMMITTER_EMAIL=bench@example.test",
		"GIT_AUTHOR_DATE=2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2026-01-01T00:00:00Z", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		must(fmt.Errorf("git %v: %v\n%s", args, err, out))
	}
}

func main() {
	dir := flag.String("dir", "", "corpus directory (a copy of GOROOT/src, not yet a repository)")
	out := flag.String("out", "planted.tsv", "where to write the planted list")
	envOut := flag.String("env", "managed.env", "where to write the managed values (KEY=value lines)")
	flag.Parse()
	if *dir == "" {
		must(fmt.Errorf("-dir is required"))
	}
	git(*dir, "init", "-q", "-b", "main")
	// Commits 1..24 add the tree in groups of top-level entries.
	ents, err := os.ReadDir(*dir)
	must(err)
	var names []string
	for _, e := range ents {
		if e.Name() != ".git" {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	const groups = 24
	for g := 0; g < groups; g++ {
		var add []string
		for i := g; i < len(names); i += groups {
			add = append(add, names[i])
		}
		if len(add) == 0 {
			continue
		}
		git(*dir, append([]string{"add", "-f", "--"}, add...)...)
		git(*dir, "commit", "-q", "--allow-empty", "-m", fmt.Sprintf("import group %d", g))
	}

	var list []planted
	// Managed values: eight of them, 20-32 random bytes of text.
	type mv struct{ key, val string }
	var mvs []mv
	for i := 0; i < 8; i++ {
		mvs = append(mvs, mv{fmt.Sprintf("BENCH_SECRET_%d", i), pick(alnum+"-_.!", 20+rng.IntN(13))})
	}
	enc := func(e, v string) string {
		switch e {
		case "base64":
			return base64.StdEncoding.EncodeToString([]byte(v))
		case "hex":
			return hex.EncodeToString([]byte(v))
		case "percent":
			return url.QueryEscape(v)
		case "json":
			b, _ := json.Marshal(v)
			return string(b[1 : len(b)-1])
		}
		return v
	}
	encs := []string{"raw", "base64", "percent", "hex", "raw", "json", "base64", "raw"}

	// A planted file: a few lines of text around one secret line.
	file := func(rel, secret string) (string, int) {
		text := "// Benchmark fixture: this file holds one fake planted secret.\n\npackage fixture\n\n" + secret + "\n\n// end\n"
		p := filepath.Join(*dir, rel)
		must(os.MkdirAll(filepath.Dir(p), 0o755))
		must(os.WriteFile(p, []byte(text), 0o644))
		return rel, 5
	}
	fs := formats()
	commit := func(msg string) { git(*dir, "add", "-A"); git(*dir, "commit", "-q", "-m", msg) }
	// Round 1 (commits 25..): history-only copies, added then deleted three commits later.
	var hist []string
	for i, f := range fs {
		rel, line := file(fmt.Sprintf("internal/benchfixture/old/%s.txt", f[0]), f[1])
		list = append(list, planted{fmt.Sprintf("R%02dH", i), "rule", f[0], "history", "raw", rel, line})
		hist = append(hist, rel)
	}
	for i := 0; i < 3; i++ {
		m := mvs[i+3]
		rel, line := file(fmt.Sprintf("internal/benchfixture/old/managed%d.txt", i), "value = "+enc(encs[i+3], m.val))
		list = append(list, planted{fmt.Sprintf("M%02dH", i+3), "managed", m.key, "history", encs[i+3], rel, line})
		hist = append(hist, rel)
	}
	commit("add fixtures")
	file("internal/benchfixture/README", "fixtures")
	commit("readme")
	file("internal/benchfixture/NOTES", "notes")
	commit("notes")
	for _, h := range hist {
		must(os.Remove(filepath.Join(*dir, h)))
	}
	commit("remove fixtures")
	// Round 2: live copies in the tree, fresh values.
	fs = formats()
	for i, f := range fs {
		rel, line := file(fmt.Sprintf("internal/benchfixture/live/%s.go.txt", f[0]), f[1])
		list = append(list, planted{fmt.Sprintf("R%02dT", i), "rule", f[0], "tree", "raw", rel, line})
	}
	commit("add live fixtures")
	for _, i := range []int{0, 1, 2, 6, 7} {
		m := mvs[i]
		rel, line := file(fmt.Sprintf("internal/benchfixture/live/managed%d.cfg", i), "value = "+enc(encs[i], m.val))
		list = append(list, planted{fmt.Sprintf("M%02dT", i), "managed", m.key, "tree", encs[i], rel, line})
		commit(fmt.Sprintf("config %d", i))
	}
	// A few ordinary edits so history has modifications too.
	for i := 0; i < 4; i++ {
		p := filepath.Join(*dir, "internal/benchfixture/NOTES")
		b, _ := os.ReadFile(p)
		must(os.WriteFile(p, append(b, []byte(fmt.Sprintf("edit %d\n", i))...), 0o644))
		commit(fmt.Sprintf("edit %d", i))
	}

	w, err := os.Create(*out)
	must(err)
	fmt.Fprintln(w, "id\tkind\twhat\twhere\tencoding\tpath\tline")
	for _, p := range list {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", p.ID, p.Kind, p.What, p.Where, p.Encoding, p.Path, p.Line)
	}
	must(w.Close())
	var env strings.Builder
	for _, m := range mvs {
		fmt.Fprintf(&env, "%s=%s\n", m.key, m.val)
	}
	must(os.WriteFile(*envOut, []byte(env.String()), 0o600))
}
