package export

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/keyward/keyward"
)

// applyHops replays what `kubectl apply --server-side -f -` does to the
// manifest: kubectl decodes the YAML and sends the object as JSON
// (encoding/json leaves DEL, C1 controls, NEL and non-characters raw); the
// API server decodes the apply patch with sigs.k8s.io/yaml, whose YAML
// reader refuses characters YAML does not allow in a stream. It returns the
// Secret the server would store, stringData folded into data as the server
// folds it.
func applyHops(t *testing.T, manifest []byte) (map[string][]byte, error) {
	t.Helper()
	sec := decodeSecret(t, manifest) // kubectl's side
	wire, err := json.Marshal(sec)
	if err != nil {
		t.Fatalf("kubectl's JSON: %v", err)
	}
	var got corev1.Secret
	if err := sigsyaml.Unmarshal(wire, &got); err != nil { // the server's side
		return nil, err
	}
	data := map[string][]byte{}
	for k, v := range got.Data {
		data[k] = v
	}
	for k, v := range got.StringData {
		data[k] = []byte(v)
	}
	return data, nil
}

func checkApplies(t *testing.T, es []Entry) {
	t.Helper()
	var buf bytes.Buffer
	if err := Kubernetes(&buf, es, KubernetesOptions{Name: "app-secrets", Namespace: "prod"}); err != nil {
		t.Fatal(err)
	}
	data, err := applyHops(t, buf.Bytes())
	if err != nil {
		// The decoder's message quotes no value; keys are the test's own.
		t.Fatalf("the API server's decoder refuses the applied manifest: %v", err)
	}
	if len(data) != len(es) {
		t.Fatalf("%d keys applied, want %d", len(data), len(es))
	}
	for _, e := range es {
		if !bytes.Equal(data[e.Key], e.Value.Reveal()) {
			t.Fatalf("%s: the server would store %d bytes, want %d (the value changed on the way)", e.Key, len(data[e.Key]), e.Value.Len())
		}
	}
}

// Every value survives a server-side apply exactly, the characters that
// YAML refuses or rewrites (DEL, C1, NEL, U+FFFE/U+FFFF, BOM, U+2028) and
// invalid UTF-8 included: those go under data.
func TestKubernetesServerSideApplyEveryValue(t *testing.T) {
	for _, v := range []string{"\x7f", "a\u0080b", "\u009f", "\u0085", "line\u0085break", "\ufffe", "\uffff", "\ufeffbom",
		"\u2028", "\u2029", "\x01", "\x1b[0m", "\xff\xfe", "plain", "multi\nline\n", "tab\t\"q\" \\", "é日本🔑\ufffd"} {
		checkApplies(t, []Entry{{Key: "K", Value: keyward.NewSecretString(v)}})
	}
	r := rand.New(rand.NewPCG(11, 12))
	for range 300 {
		checkApplies(t, randEntries(r, true, true))
	}
}

// The split is the narrowest safe one: a value made of tab, newline, CR and
// YAML-printable characters stays readable under stringData.
func TestKubernetesKeepsReadableValuesInStringData(t *testing.T) {
	es := []Entry{{Key: "TEXT", Value: keyward.NewSecretString("postgres://u:p@h/db\n\té日本🔑 \"q\"")},
		{Key: "DEL", Value: keyward.NewSecretString("a\x7fb")}}
	var buf bytes.Buffer
	if err := Kubernetes(&buf, es, KubernetesOptions{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	sec := decodeSecret(t, buf.Bytes())
	if _, ok := sec.StringData["TEXT"]; !ok {
		t.Fatal("a plain value is not under stringData")
	}
	if _, ok := sec.Data["DEL"]; !ok {
		t.Fatal("a value with DEL is not under data")
	}
}

// FuzzKubernetesApply: any value a manifest carries reaches the server
// exactly. Seeds: testdata/fuzz/FuzzKubernetesApply.
func FuzzKubernetesApply(f *testing.F) {
	for _, s := range []string{"", "plain", "\x7f", "\u0085", "\ufffe\uffff", "\xff", "\u2028\ufeff", "a\x00b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		checkApplies(t, []Entry{{Key: "K", Value: keyward.NewSecretString(v)}})
		if !utf8.ValidString(v) && plainText([]byte(v)) {
			t.Fatal("invalid UTF-8 classified as text")
		}
	})
}
