package export

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/dotenv"
	"github.com/keyward/keyward/provider/mem"
)

// Test values never appear in failure messages: tests report keys, lengths
// and byte offsets.

// hard are the characters that break naive quoting.
var hard = []string{"\n", "\r", "\r\n", "\t", " ", "'", `"`, "$", "${X}", "$(id)", "`id`", "\\", "\\n", "#", "=", "!", "*", "~",
	"é", "日本", "🔑", "\u2028", "\x7f", "--", "-n", "%s", "{{", "}}", "\u0085", "\ufeff", "\u009f", "\x01", "\x1b", "\uffff"}

// randValue builds a value from hard pieces and random printable runes.
func randValue(r *rand.Rand, allowNUL, allowBinary bool) string {
	var b strings.Builder
	n := r.IntN(12)
	for range n {
		switch r.IntN(4) {
		case 0:
			b.WriteString(hard[r.IntN(len(hard))])
		case 1:
			b.WriteRune(rune(0x20 + r.IntN(0x5f)))
		case 2:
			b.WriteRune(rune(0xa0 + r.IntN(0x3000)))
		case 3:
			switch {
			case allowNUL && r.IntN(3) == 0:
				b.WriteByte(0)
			case allowBinary && r.IntN(3) == 0:
				b.WriteByte(byte(0x80 + r.IntN(0x40)))
			default:
				b.WriteString("x")
			}
		}
	}
	if r.IntN(5) == 0 {
		b.WriteString("\n") // trailing newline must survive
	}
	return b.String()
}

func randEntries(r *rand.Rand, allowNUL, allowBinary bool) []Entry {
	n := 1 + r.IntN(6)
	var es []Entry
	for i := range n {
		v := randValue(r, allowNUL, allowBinary)
		if !utf8.ValidString(v) && !allowBinary {
			v = strings.ToValidUTF8(v, "?")
		}
		es = append(es, Entry{Key: "KEY_" + string(rune('A'+i)), Value: keyward.NewSecretString(v)})
	}
	return es
}

func compare(t *testing.T, format string, want []Entry, got map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d keys back, want %d", format, len(got), len(want))
	}
	for _, e := range want {
		g, ok := got[e.Key]
		if !ok {
			t.Fatalf("%s: key %s missing after round trip", format, e.Key)
		}
		if g != e.Value.RevealString() {
			at := 0
			for at < len(g) && at < e.Value.Len() && g[at] == e.Value.Reveal()[at] {
				at++
			}
			t.Fatalf("%s: key %s: got %d bytes back, want %d; first difference at byte %d", format, e.Key, len(g), e.Value.Len(), at)
		}
	}
}

func TestDotenvRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		es := randEntries(r, false, false)
		var buf bytes.Buffer
		if err := Dotenv(&buf, es); err != nil {
			t.Fatal(err)
		}
		got, err := dotenv.ParseMap(buf.Bytes(), nil)
		if err != nil {
			t.Fatalf("parsing the output back: %v", err)
		}
		compare(t, "dotenv", es, got)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 500 {
		es := randEntries(r, true, false)
		var buf bytes.Buffer
		if err := JSON(&buf, es); err != nil {
			t.Fatal(err)
		}
		var got map[string]string
		if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
			t.Fatalf("parsing the output back: %v", err)
		}
		compare(t, "json", es, got)
	}
	var buf bytes.Buffer
	if err := JSON(&buf, nil); err != nil || buf.String() != "{}\n" {
		t.Fatalf("empty: %v %q", err, buf.String())
	}
}

// TestShellRoundTrip runs sh on the output and reads the variables back
// from the environment of a process it starts.
func TestShellRoundTrip(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Fatal("sh is needed for this test")
	}
	r := rand.New(rand.NewPCG(5, 6))
	dir := t.TempDir()
	for i := range 100 {
		es := randEntries(r, false, true)
		var buf bytes.Buffer
		if err := Shell(&buf, es); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, "vars.sh")
		if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		// Also eval it, the way users do: eval "$(keyward export --format shell)".
		script := `. "$1" && exec env -0`
		if i%2 == 1 {
			script = `eval "$(cat "$1")" && exec env -0`
		}
		cmd := exec.Command("sh", "-c", script, "sh", file)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("sh failed on the output: %v", err)
		}
		got := map[string]string{}
		for _, kv := range bytes.Split(out, []byte{0}) {
			k, v, ok := strings.Cut(string(kv), "=")
			if ok && strings.HasPrefix(k, "KEY_") {
				got[k] = v
			}
		}
		compare(t, "shell", es, got)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"":      "''",
		"a":     "'a'",
		"it's":  `'it'\''s'`,
		"$HOME": "'$HOME'",
		"''":    `''\'''\'''`,
	} {
		if got := ShellQuote(in); got != want {
			t.Errorf("ShellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestUnrepresentable(t *testing.T) {
	const canary = "KWCANARY-export-unrepresentable"
	nul := []Entry{{Key: "OK", Value: keyward.NewSecretString("fine")}, {Key: "HAS_NUL", Value: keyward.NewSecretString(canary + "\x00" + canary)}}
	bin := []Entry{{Key: "BIN", Value: keyward.NewSecret([]byte(canary + "\xff\xfe"))}}
	for _, tc := range []struct {
		name string
		fn   func(*bytes.Buffer) error
		key  string
	}{
		{"dotenv NUL", func(b *bytes.Buffer) error { return Dotenv(b, nul) }, "HAS_NUL"},
		{"shell NUL", func(b *bytes.Buffer) error { return Shell(b, nul) }, "HAS_NUL"},
		{"dotenv binary", func(b *bytes.Buffer) error { return Dotenv(b, bin) }, "BIN"},
		{"json binary", func(b *bytes.Buffer) error { return JSON(b, bin) }, "BIN"},
		{"shell bad name", func(b *bytes.Buffer) error {
			return Shell(b, []Entry{{Key: "1ABC", Value: keyward.NewSecretString(canary)}})
		}, "1ABC"},
		{"dotenv bad name", func(b *bytes.Buffer) error {
			return Dotenv(b, []Entry{{Key: "A B", Value: keyward.NewSecretString(canary)}})
		}, "A B"},
		{"kubernetes bad key", func(b *bytes.Buffer) error {
			return Kubernetes(b, []Entry{{Key: "a/b", Value: keyward.NewSecretString(canary)}}, KubernetesOptions{Name: "x"})
		}, "a/b"},
		{"duplicate", func(b *bytes.Buffer) error {
			return JSON(b, []Entry{{Key: "D", Value: keyward.NewSecretString(canary)}, {Key: "D", Value: keyward.NewSecretString(canary)}})
		}, "D"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := tc.fn(&buf)
			if err == nil {
				t.Fatal("want an error")
			}
			if keyward.ErrorCode(err) != keyward.InvalidArgument {
				t.Errorf("code %v, want InvalidArgument", keyward.ErrorCode(err))
			}
			if !strings.Contains(err.Error(), `"`+tc.key+`"`) {
				t.Errorf("the error does not name the key %q", tc.key)
			}
			if strings.Contains(err.Error(), canary) {
				t.Errorf("the error holds the value")
			}
			if buf.Len() != 0 {
				t.Errorf("%d bytes were written before the error", buf.Len())
			}
		})
	}
	// JSON holds NUL.
	var buf bytes.Buffer
	if err := JSON(&buf, nul); err != nil {
		t.Fatal(err)
	}
}

func decodeSecret(t *testing.T, manifest []byte) *corev1.Secret {
	t.Helper()
	obj, gvk, err := scheme.Codecs.UniversalDeserializer().Decode(manifest, nil, nil)
	if err != nil {
		t.Fatalf("client-go cannot decode the manifest: %v", err)
	}
	sec, ok := obj.(*corev1.Secret)
	if !ok || gvk.Kind != "Secret" || gvk.Version != "v1" {
		t.Fatalf("decoded %v, want a v1 Secret", gvk)
	}
	return sec
}

func TestKubernetesDecodesWithClientGo(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 300 {
		es := randEntries(r, true, true)
		var buf bytes.Buffer
		o := KubernetesOptions{Name: "dharmamind-secrets", Namespace: "prod", Labels: map[string]string{"app": "dharmamind", "app.kubernetes.io/part-of": "x"}}
		if err := Kubernetes(&buf, es, o); err != nil {
			t.Fatal(err)
		}
		sec := decodeSecret(t, buf.Bytes())
		if sec.Name != o.Name || sec.Namespace != o.Namespace || sec.Type != corev1.SecretTypeOpaque {
			t.Fatalf("metadata: name %q namespace %q type %q", sec.Name, sec.Namespace, sec.Type)
		}
		if sec.Labels["app"] != "dharmamind" || sec.Labels["app.kubernetes.io/part-of"] != "x" {
			t.Fatalf("labels: %v", sec.Labels)
		}
		if sec.Annotations[ChecksumAnnotation] != Checksum(es) {
			t.Fatalf("checksum annotation missing or wrong")
		}
		got := map[string]string{}
		for k, v := range sec.StringData {
			got[k] = v
		}
		for k, v := range sec.Data {
			if _, dup := got[k]; dup {
				t.Fatalf("%s is in both stringData and data", k)
			}
			got[k] = string(v)
		}
		compare(t, "kubernetes", es, got)
	}
}

func TestKubernetesDeploymentSnippet(t *testing.T) {
	es := []Entry{{Key: "JWT_SECRET_KEY", Value: keyward.NewSecretString("v1")}}
	o := KubernetesOptions{Name: "dharmamind-secrets", DeploymentSnippet: true, Deployment: "dharmamind-backend", Container: "backend"}
	var buf bytes.Buffer
	if err := Kubernetes(&buf, es, o); err != nil {
		t.Fatal(err)
	}
	// The whole output still decodes as the Secret (the snippet is comments).
	decodeSecret(t, buf.Bytes())
	snippet := DeploymentSnippet(o, Checksum(es))
	var commented strings.Builder
	for _, l := range strings.Split(strings.TrimSuffix(snippet, "\n"), "\n") {
		commented.WriteString("# " + l + "\n")
	}
	if !strings.Contains(buf.String(), commented.String()) {
		t.Fatalf("the output does not hold the commented snippet:\n%s", buf.String())
	}
	obj, _, err := scheme.Codecs.UniversalDeserializer().Decode([]byte(snippet), nil, nil)
	if err != nil {
		t.Fatalf("client-go cannot decode the snippet: %v", err)
	}
	dep, ok := obj.(*appsv1.Deployment)
	if !ok || dep.Name != "dharmamind-backend" {
		t.Fatalf("snippet decoded to %T", obj)
	}
	c := dep.Spec.Template.Spec.Containers
	if len(c) != 1 || c[0].Name != "backend" || len(c[0].EnvFrom) != 1 || c[0].EnvFrom[0].SecretRef == nil || c[0].EnvFrom[0].SecretRef.Name != "dharmamind-secrets" {
		t.Fatalf("snippet containers: %+v", c)
	}
	if dep.Spec.Template.Annotations[ChecksumAnnotation] != Checksum(es) {
		t.Fatal("the pod template does not carry the checksum")
	}
}

func TestKubernetesBadOptions(t *testing.T) {
	es := []Entry{{Key: "A", Value: keyward.NewSecretString("v")}}
	for _, o := range []KubernetesOptions{
		{Name: ""},
		{Name: "Upper"},
		{Name: "a_b"},
		{Name: "ok", Namespace: "a.b"},
		{Name: "ok", Labels: map[string]string{"bad key": "v"}},
		{Name: "ok", Labels: map[string]string{"k": "bad value"}},
		{Name: "ok", Labels: map[string]string{"k": strings.Repeat("v", 64)}},
	} {
		if err := Kubernetes(&bytes.Buffer{}, es, o); err == nil {
			t.Errorf("%+v: want an error", o)
		}
	}
}

func TestChecksum(t *testing.T) {
	a := []Entry{{Key: "A", Value: keyward.NewSecretString("1")}, {Key: "B", Value: keyward.NewSecretString("2")}}
	b := []Entry{{Key: "B", Value: keyward.NewSecretString("2")}, {Key: "A", Value: keyward.NewSecretString("1")}}
	if Checksum(a) != Checksum(b) {
		t.Fatal("order changes the checksum")
	}
	c := []Entry{{Key: "A", Value: keyward.NewSecretString("1")}, {Key: "B", Value: keyward.NewSecretString("3")}}
	if Checksum(a) == Checksum(c) {
		t.Fatal("a value change keeps the checksum")
	}
	// Framing: moving bytes between key and value changes it.
	d := []Entry{{Key: "AB", Value: keyward.NewSecretString("C")}}
	e := []Entry{{Key: "A", Value: keyward.NewSecretString("BC")}}
	if Checksum(d) == Checksum(e) {
		t.Fatal("the checksum is ambiguous")
	}
	if !strings.HasPrefix(Checksum(nil), "sha256:") || len(Checksum(nil)) != 7+64 {
		t.Fatal("format")
	}
}

func TestWriteDocker(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "secrets")
	binary := []byte("bin\x00\xff\nvalue")
	es := []Entry{
		{Key: "JWT_SECRET_KEY", Value: keyward.NewSecretString("jwt-value")},
		{Key: "DATABASE_URL", Value: keyward.NewSecret(binary)},
	}
	maps, err := WriteDocker(dir, es, DockerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []FileMapping{
		{Key: "DATABASE_URL", Name: "database_url", Var: "DATABASE_URL_FILE", Path: "/run/secrets/database_url"},
		{Key: "JWT_SECRET_KEY", Name: "jwt_secret_key", Var: "JWT_SECRET_KEY_FILE", Path: "/run/secrets/jwt_secret_key"},
	}
	if len(maps) != 2 || maps[0] != want[0] || maps[1] != want[1] {
		t.Fatalf("mappings %+v", maps)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v %v", fi.Mode(), err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Fatalf("%d entries in the directory (temporary files left?)", len(ents))
	}
	check := func(name string, want []byte) {
		t.Helper()
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o400 {
			t.Fatalf("%s: mode %v %v", name, fi.Mode(), err)
		}
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: %d bytes, want %d", name, len(got), len(want))
		}
	}
	check("database_url", binary)
	check("jwt_secret_key", []byte("jwt-value"))

	// Not empty now: refused without Force, and nothing changes.
	es[1].Value = keyward.NewSecretString("second")
	if _, err := WriteDocker(dir, es, DockerOptions{}); keyward.ErrorCode(err) != keyward.FailedPrecondition || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("non-empty dir: %v", err)
	}
	check("database_url", binary)
	if _, err := WriteDocker(dir, es, DockerOptions{Force: true, MountDir: "/secrets"}); err != nil {
		t.Fatal(err)
	}
	check("database_url", []byte("second"))

	// A symlink inside the directory is replaced, not followed.
	outside := filepath.Join(base, "outside")
	if err := os.WriteFile(outside, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "jwt_secret_key")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "jwt_secret_key")); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteDocker(dir, es, DockerOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "keep" {
		t.Fatal("a write followed a symlink out of the directory")
	}
	check("jwt_secret_key", []byte("jwt-value"))

	// A symlinked directory and a world-writable one: always refused.
	link := filepath.Join(base, "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteDocker(link, es, DockerOptions{Force: true}); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("symlinked dir: %v", err)
	}
	ww := filepath.Join(base, "ww")
	if err := os.Mkdir(ww, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(ww, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteDocker(ww, es, DockerOptions{Force: true}); err == nil || !strings.Contains(err.Error(), "world-writable") {
		t.Fatalf("world-writable dir: %v", err)
	}
	if ents, _ := os.ReadDir(ww); len(ents) != 0 {
		t.Fatal("files were written into a world-writable directory")
	}
	// A file where the directory should be.
	if _, err := WriteDocker(outside, es, DockerOptions{}); err == nil {
		t.Fatal("a file as the directory was accepted")
	}
}

func TestDockerNames(t *testing.T) {
	if _, err := DockerMappings([]string{"API_KEY", "api_key"}, ""); err == nil || !strings.Contains(err.Error(), "share the file") {
		t.Fatalf("case collision: %v", err)
	}
	for _, k := range []string{"", ".", "..", "a/b", "a b", "ключ"} {
		if _, err := DockerName(k); err == nil {
			t.Errorf("DockerName(%q): want an error", k)
		}
	}
	if n, err := DockerName("JWT_SECRET_KEY"); err != nil || n != "jwt_secret_key" {
		t.Fatalf("%q %v", n, err)
	}
}

func TestCompose(t *testing.T) {
	type compose struct {
		Services map[string]struct {
			Secrets     []string          `yaml:"secrets"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
		Secrets map[string]struct {
			File     string `yaml:"file"`
			External bool   `yaml:"external"`
		} `yaml:"secrets"`
	}
	keys := []string{"JWT_SECRET_KEY", "DATABASE_URL"}
	for _, ext := range []bool{false, true} {
		var buf bytes.Buffer
		if err := Compose(&buf, keys, ComposeOptions{Service: "backend", External: ext}); err != nil {
			t.Fatal(err)
		}
		var c compose
		if err := yaml.Unmarshal(buf.Bytes(), &c); err != nil {
			t.Fatalf("the stanzas are not YAML: %v\n%s", err, buf.String())
		}
		svc := c.Services["backend"]
		if strings.Join(svc.Secrets, ",") != "database_url,jwt_secret_key" {
			t.Fatalf("service secrets %v", svc.Secrets)
		}
		if svc.Environment["JWT_SECRET_KEY_FILE"] != "/run/secrets/jwt_secret_key" || svc.Environment["DATABASE_URL_FILE"] != "/run/secrets/database_url" {
			t.Fatalf("environment %v", svc.Environment)
		}
		s := c.Secrets["jwt_secret_key"]
		if ext && (!s.External || s.File != "") || !ext && (s.External || s.File != "./secrets/jwt_secret_key") {
			t.Fatalf("external=%v: top-level secret %+v", ext, s)
		}
	}
	var buf bytes.Buffer
	if err := Compose(&buf, keys, ComposeOptions{SecretsDir: "/srv/s"}); err != nil || !strings.Contains(buf.String(), `file: "/srv/s/jwt_secret_key"`) {
		t.Fatalf("absolute dir: %v\n%s", err, buf.String())
	}
}

func TestResolveRefs(t *testing.T) {
	ctx := context.Background()
	b := mem.NewBackend()
	s := b.OpenStore(&keyward.StoreOptions{URL: "mem://refs"})
	if _, err := s.Put(ctx, "DB", keyward.NewSecretString(`{"password":"p4ss"}`), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "PLAIN", keyward.NewSecretString("plain-value"), nil); err != nil {
		t.Fatal(err)
	}
	r := &keyward.Resolver{Open: func(context.Context, string) (*keyward.Store, error) { return s, nil }}
	es := []Entry{
		{Key: "A", Value: keyward.NewSecretString("ref+mem://refs#/DB/password")},
		{Key: "B", Value: keyward.NewSecretString("ref+mem://refs#/PLAIN")},
		{Key: "C", Value: keyward.NewSecretString("not a ref")},
	}
	if err := ResolveRefs(ctx, r, es); err != nil {
		t.Fatal(err)
	}
	if es[0].Value.RevealString() != "p4ss" || es[1].Value.RevealString() != "plain-value" || es[2].Value.RevealString() != "not a ref" {
		t.Fatal("references were not resolved as expected")
	}
	bad := []Entry{{Key: "BROKEN", Value: keyward.NewSecretString("ref+mem://refs")}}
	err := ResolveRefs(ctx, r, bad)
	if err == nil || !strings.Contains(err.Error(), "BROKEN") || keyward.ErrorCode(err) != keyward.InvalidArgument {
		t.Fatalf("malformed reference: %v", err)
	}
	missing := []Entry{{Key: "M", Value: keyward.NewSecretString("ref+mem://refs#/NOPE")}}
	if err := ResolveRefs(ctx, r, missing); keyward.ErrorCode(err) != keyward.NotFound || !strings.Contains(err.Error(), "M") {
		t.Fatalf("missing target: %v", err)
	}
	envRef := []Entry{{Key: "E", Value: keyward.NewSecretString("keyward://prod/PLAIN")}}
	if err := ResolveRefs(ctx, r, envRef); err == nil {
		t.Fatal("keyward:// without OpenEnv must fail")
	}
}

func TestWriteFileAtomic(t *testing.T) {
	p := filepath.Join(t.TempDir(), "out.env")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(p, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(p)
	b, _ := os.ReadFile(p)
	if fi.Mode().Perm() != 0o600 || string(b) != "new" {
		t.Fatalf("mode %v, %d bytes", fi.Mode(), len(b))
	}
	ents, _ := os.ReadDir(filepath.Dir(p))
	if len(ents) != 1 {
		t.Fatal("a temporary file was left behind")
	}
	if err := WriteFileAtomic(filepath.Join(t.TempDir(), "no", "dir"), nil, 0o600); err == nil {
		t.Fatal("missing directory: want an error")
	}
}
