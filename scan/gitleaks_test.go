package scan

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestParseRulesGitleaksFile(t *testing.T) {
	rules, err := LoadRulesFile("testdata/gitleaks.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 2 || rules[0].ID != "acme-token" || rules[1].Keywords[0] != "ZZTOP-" {
		t.Fatalf("rules: %d", len(rules))
	}
	s, err := New(Options{Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	tok := "acme_" + rep("k3x9", 20)
	for _, tc := range []struct {
		text, path string
		want       int
	}{
		{"t=" + tok + "\n", "a.go", 1},
		{"t=" + tok + "\n", "vendor/a.go", 0},
		{"t=acme_" + rep("example", 20) + "\n", "a.go", 0},
		{"ZZTOP-123456", "a.go", 1},
		{"sk_live_" + mixed(24), "a.go", 0}, // built-ins not included
	} {
		if got := len(s.ScanBytes([]byte(tc.text), tc.path)); got != tc.want {
			t.Errorf("%s: %d findings, want %d", tc.path, got, tc.want)
		}
	}
}

func TestParseRulesErrorsNameLine(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		line       int
	}{
		{"syntax", "title = \"x\"\n\n[[rules]\nid = 1\n", 3},
		{"bad regex", "[[rules]]\nid = \"a\"\nregex = \"x\"\n\n[[rules]]\nid = \"b\"\nregex = '''(unclosed'''\n", 7},
		{"no id", "[[rules]]\nregex = \"x\"\n", 1},
		{"dup", "[[rules]]\nid = \"a\"\nregex = \"x\"\n[[rules]]\nid = \"a\"\nregex = \"y\"\n", 4},
		{"group", "[[rules]]\nid = \"a\"\nregex = \"x\"\nsecretGroup = 2\n", 4},
		{"empty", "title = \"x\"\n", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRules("r.toml", []byte(tc.text))
			var re *RulesFileError
			if !errors.As(err, &re) || re.Line != tc.line || !strings.Contains(err.Error(), "r.toml:") {
				t.Fatalf("got %v, want an error at line %d", err, tc.line)
			}
		})
	}
}

func TestExtendUseDefault(t *testing.T) {
	rules, err := ParseRules("r.toml", []byte("[extend]\nuseDefault = true\n"))
	if err != nil || len(rules) != len(BuiltinRules()) {
		t.Fatalf("useDefault: %v, %d rules", err, len(rules))
	}
}

func FuzzParseRules(f *testing.F) {
	b, _ := os.ReadFile("testdata/gitleaks.toml")
	f.Add(b)
	f.Add([]byte("[[rules]]\nid='x'\nregex='''a(b)c'''\nsecretGroup=1\nentropy=2.5\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, err := ParseRules("f.toml", data)
		if err != nil {
			var re *RulesFileError
			if !errors.As(err, &re) || re.Line < 1 {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		s, err := New(Options{Rules: rules})
		if err != nil {
			t.Fatal(err)
		}
		s.ScanBytes(data, "f.toml")
	})
}

// The scanner never panics, and a planted managed value (and, outside
// binary data, a planted format secret) is always found, whatever surrounds
// it.
func FuzzScan(f *testing.F) {
	f.Add([]byte("password = \"abc\"\n"), uint16(3))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\x00eyJ://a:b@c"), uint16(0))
	f.Add([]byte(""), uint16(0))
	v := "kwfuzz-" + rep("v4l", 17)
	s, err := New(Options{Managed: []Managed{managed("FUZZ", "t", v)}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, at uint16) {
		s.ScanBytes(data, "f")
		i := int(at) % (len(data) + 1)
		planted := append(append(append([]byte{}, data[:i]...), v...), data[i:]...)
		found := false
		for _, m := range s.ScanBytes(planted, "f") {
			if m.Kind == KindManaged && m.Start == i {
				found = true
			}
		}
		// An allow marker on the same line legitimately hides it.
		if !found && !allowed(planted, i, i+len(v)) {
			t.Fatalf("planted value at %d of %d bytes not found", i, len(planted))
		}
		// A format secret planted between spaces is found by its rule,
		// whatever the keyword windows around it.
		key := " AKIA" + "TESTFAKE7KEY2ABC "
		planted = append(append(append([]byte{}, data[:i]...), key...), data[i:]...)
		for _, m := range s.ScanBytes(planted, "f") {
			if m.Kind == KindRule && m.RuleID == "aws-access-key-id" && m.Start == i+1 {
				return
			}
		}
		if !IsBinary(planted) && !allowed(planted, i+1, i+len(key)-1) {
			t.Fatalf("planted AWS key at %d of %d bytes not found", i+1, len(planted))
		}
	})
}

// TestSecurityNoValueInRuleErrors: errors in a gitleaks TOML rule file give
// file:line:col and the field, never the text written there.
func TestSecurityNoValueInRuleErrors(t *testing.T) {
	const c = "kwcanary9b1d"
	for _, tc := range []struct {
		name, text string
		line, col  int
	}{
		{"regex", "[[rules]]\nid = \"a\"\nregex = '''(" + c + "'''\n", 3, 1},
		{"regex class", "[[rules]]\nid = \"a\"\n  regex = '''[" + c + "'''\n", 3, 3},
		{"path", "[[rules]]\nid = \"a\"\nregex = \"x\"\npath = '''(" + c + "'''\n", 4, 1},
		{"allowlist regex", "[[rules]]\nid = \"a\"\nregex = \"x\"\n[rules.allowlist]\nregexes = ['''(" + c + "''']\n", 1, 1},
		{"bad escape", "[[rules]]\nid = \"a\"\nregex = \"" + c + "\\q" + c + "\"\n", 3, 0},
		{"bad type", "[[rules]]\nid = \"a\"\nregex = \"x\"\nentropy = \"" + c + "\"\n", 4, 0},
		{"bare value", "[[rules]]\nid = " + c + "\n", 2, 0},
		{"unterminated", "[[rules]]\nid = \"" + c + "\n", 2, 0},
		{"a quoted key defined twice", "\"" + c + "\" = 1\n\"" + c + "\" = 2\n", 2, 1},
		{"a key with a newline defined twice", "\"x\\n" + c + "\" = 1\n\"x\\n" + c + "\" = 2\n", 2, 1},
		{"a table under a quoted name defined twice", "[\"" + c + "\"]\n[\"" + c + "\"]\n", 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRules("r.toml", []byte(tc.text))
			var re *RulesFileError
			if !errors.As(err, &re) {
				t.Fatalf("got %v, want a RulesFileError", err)
			}
			msg := err.Error()
			if strings.Contains(msg, c) || strings.Contains(msg, c[2:8]) {
				t.Errorf("error repeats the value: %s", strings.ReplaceAll(msg, c, "[CANARY]"))
			}
			if strings.ContainsAny(msg, "\n\r") {
				t.Errorf("error spans lines: %q", strings.ReplaceAll(msg, c, "[CANARY]"))
			}
			want := fmt.Sprintf("r.toml:%d:", tc.line)
			if tc.col > 0 {
				want = fmt.Sprintf("r.toml:%d:%d: ", tc.line, tc.col)
			}
			if !strings.Contains(msg, want) || re.Col < 1 {
				t.Errorf("error %q lacks %s (col %d)", strings.ReplaceAll(msg, c, "[CANARY]"), want, re.Col)
			}
		})
	}
}

// TestRuleErrorsNameTheField: a value of the wrong type names the field as
// the file spells it and the type it wants, not keyward's Go types.
func TestRuleErrorsNameTheField(t *testing.T) {
	_, err := ParseRules("r.toml", []byte("[[rules]]\nid = \"a\"\nregex = \"x\"\nentropy = \"high\"\n"))
	var re *RulesFileError
	if !errors.As(err, &re) || re.Line != 4 {
		t.Fatalf("got %v, want an error at line 4", err)
	}
	for _, want := range []string{"rules.entropy", "want float64"} {
		if !strings.Contains(re.Msg, want) {
			t.Errorf("message %q lacks %q", re.Msg, want)
		}
	}
	if strings.Contains(re.Msg, "glRule") || strings.Contains(re.Msg, "struct field") {
		t.Errorf("message %q names Go types", re.Msg)
	}
}

// TestRuleErrorsNameTOMLTypes: a table or an array of tables given the
// wrong kind of value is named in TOML's words, not by keyward's Go types.
func TestRuleErrorsNameTOMLTypes(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"allowlist = \"x\"\n", "allowlist: cannot decode TOML string, want a table"},
		{"rules = \"x\"\n", "rules: cannot decode TOML string, want an array of tables"},
		{"extend = 3\n", "extend: cannot decode TOML integer, want a table"},
	} {
		_, err := ParseRules("r.toml", []byte(tc.text))
		var re *RulesFileError
		if !errors.As(err, &re) || re.Msg != tc.want {
			t.Errorf("%q: got %v, want message %q", tc.text, err, tc.want)
		}
	}
}
