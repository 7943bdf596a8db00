package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/keyward/keyward"
)

func TestLoadExample(t *testing.T) {
	c, err := Load("../examples/dharmamind/keyward.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"JWT_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "GOOGLE_CLIENT_SECRET", "SMTP_PASSWORD"}
	if strings.Join(c.Order, ",") != strings.Join(want, ",") {
		t.Fatalf("secrets %v", c.Order)
	}
	j := c.Secrets["JWT_SECRET_KEY"]
	if !j.Required || j.MinLength != 32 || j.Format != "jwt-secret" || j.Generate != "urlsafe" ||
		j.Rotation.Every != 90*24*time.Hour || j.Rotation.Grace != 24*time.Hour || j.Rotation.Method != MethodAutomated {
		t.Fatalf("JWT_SECRET_KEY spec: %+v %+v", j, j.Rotation)
	}
	if r := c.Secrets["SMTP_PASSWORD"].Rotation; r.Every != 180*24*time.Hour || r.Method != MethodProvider {
		t.Fatalf("SMTP rotation %+v", r)
	}
	if r := c.Secrets["DATABASE_URL"].Rotation; r.Every != 0 || r.Method != MethodManual {
		t.Fatalf("DATABASE_URL rotation %+v", r)
	}
	if c.Secrets["STRIPE_SECRET_KEY"].Rotation.Via != "Stripe Dashboard" {
		t.Fatal("stripe rotation via")
	}
	if c.DefaultEnvironment != "development" || c.Environments["development"].Store != "local://keyward.age" ||
		c.Environments["development"].IsProduction() || !c.Environments["production"].IsProduction() {
		t.Fatalf("environments %+v", c.Environments)
	}
	if !filepath.IsAbs(c.Dir) {
		t.Fatalf("Dir %q is not absolute", c.Dir)
	}
}

func TestOverridesAndShortForms(t *testing.T) {
	c := mustParse(t, `
version: 1
environments:
  dev: mem://dev
  prod-eu: {store: "mem://eu"}
  staging: {store: "mem://s", production: false}
  live2: {store: "mem://l", production: true}
x-defaults: &base {min_length: 3}
secrets:
  EMPTY:
  A: &a
    min_length: 8
    pattern: '[a-z]+'
    environments:
      dev: {required: false, min_length: 1, pattern: '.*'}
  B:
    <<: *a
    description: merged
`)
	if !c.Environments["prod-eu"].IsProduction() || c.Environments["staging"].IsProduction() || !c.Environments["live2"].IsProduction() || c.Environments["dev"].IsProduction() {
		t.Fatal("production detection")
	}
	a := c.Secrets["A"].For("dev")
	if a.Required || a.MinLength != 1 || a.Pattern != ".*" || !a.Regexp().MatchString("XYZ") {
		t.Fatalf("override not applied: %+v", a)
	}
	if p := c.Secrets["A"].For("prod-eu"); !p.Required || p.MinLength != 8 || p.Regexp().MatchString("XYZ") {
		t.Fatalf("override leaked into another environment: %+v", p)
	}
	b := c.Secrets["B"]
	if b.MinLength != 8 || b.Description != "merged" || b.Environments["dev"] == nil {
		t.Fatalf("merge key: %+v", b)
	}
	if e := c.Secrets["EMPTY"]; !e.Required || e.Format != "" {
		t.Fatalf("EMPTY %+v", e)
	}
}

var posRE = regexp.MustCompile(`^keyward\.yaml:\d+:\d+: `)

// TestParseErrors: every bad input is a clear error at file:line:column.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string // substrings of the message
		line, col  int      // position of the first error
	}{
		{"malformed", "secrets:\n  A: [\n", []string{"malformed YAML"}, 0, 0},
		{"tab indentation", "secrets:\n\tA: {}\n", []string{"malformed YAML"}, 0, 0},
		{"top unknown field", "secret:\n  A:\n", []string{`unknown field "secret"`, `did you mean "secrets"?`}, 1, 1},
		{"secret unknown field", "secrets:\n  A:\n    min_lenght: 3\n", []string{`unknown field "min_lenght" in secret "A"`, `did you mean "min_length"?`}, 3, 5},
		{"rotation unknown field", "secrets:\n  A:\n    rotation: {evry: 90d}\n", []string{`unknown field "evry"`, `"every"`}, 3, 16},
		{"unknown format", "secrets:\n  A: {format: stripe-key}\n", []string{`unknown format (known`, "known: "}, 2, 15},
		{"format typo", "secrets:\n  A: {format: postgres-ulr}\n", []string{`did you mean "postgres-url"?`}, 2, 15},
		{"bad regex", "secrets:\n  A:\n    pattern: '[a-'\n", []string{"pattern does not compile"}, 3, 14},
		{"unknown recipe, or a size", "secrets:\n  A: {generate: urlsafe64}\n", []string{"unknown recipe, or a size", `did you mean "urlsafe"?`}, 2, 17},
		{"bad duration", "secrets:\n  A: {rotation: {every: 90 days}}\n", []string{"not a duration like 90d"}, 2, 25},
		{"bad method", "secrets:\n  A: {rotation: {method: automatic}}\n", []string{`unknown method (known`, `did you mean "automated"?`}, 2, 26},
		{"grace longer than every", "secrets:\n  A: {rotation: {every: 1d, grace: 2d}}\n", []string{"grace must be shorter"}, 2, 17},
		{"unknown scheme", "environments:\n  prod: awsm://x/y\nsecrets: {}\n", []string{`unknown store scheme (known`, `did you mean "awssm"?`}, 2, 9},
		{"password in store url", "environments:\n  prod: vault://u:hunter2hunter2@h/p\nsecrets: {}\n", []string{"carries a password"}, 2, 9},
		{"no store", "environments:\n  prod: {production: true}\nsecrets: {}\n", []string{"needs a store URL"}, 2, 9},
		{"string min_length", "secrets:\n  A: {min_length: long}\n", []string{"min_length must be a whole number"}, 2, 19},
		{"negative min_length", "secrets:\n  A: {min_length: -1}\n", []string{"min_length must be a whole number"}, 2, 19},
		{"required not bool", "secrets:\n  A: {required: yes please}\n", []string{"required must be true or false"}, 2, 17},
		{"format and pattern", "secrets:\n  A: {format: hex, pattern: '[0-9]+'}\n", []string{"both format and pattern"}, 2, 3},
		{"override unknown env", "environments: {dev: mem://d}\nsecrets:\n  A:\n    environments:\n      prd: {required: false}\n", []string{`overrides environment "prd"`}, 5, 7},
		{"override unknown field", "environments: {dev: mem://d}\nsecrets:\n  A:\n    environments:\n      dev: {rotation: {}}\n", []string{`unknown field "rotation"`}, 5, 13},
		{"default env undeclared", "default_environment: dev\nsecrets: {}\n", []string{`default_environment names an environment that is not declared`}, 1, 1},
		{"duplicate key", "secrets:\n  A: {}\n  A: {}\n", []string{`key "A" twice`}, 3, 3},
		{"bad secret name", "secrets:\n  1BAD: {}\n", []string{"not a valid name"}, 2, 3},
		{"version 2", "version: 2\nsecrets: {}\n", []string{"version 2 is not supported"}, 1, 10},
		{"unknown check", "validate: {checks: {reuses: off}}\nsecrets: {}\n", []string{`unknown check "reuses"`, `did you mean "reuse"?`}, 1, 21},
		{"bad severity", "validate: {checks: {reuse: fatal}}\nsecrets: {}\n", []string{"must be error, warning or off"}, 1, 28},
		{"secrets a list", "secrets:\n  - A\n", []string{"secrets must be a mapping, not a list"}, 2, 3},
		{"empty file", "", []string{"file is empty"}, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "keyward.yaml")
			if err == nil {
				t.Fatal("no error")
			}
			if keyward.ErrorCode(err) != keyward.InvalidArgument {
				t.Errorf("code %v, want invalid argument", keyward.ErrorCode(err))
			}
			var l ErrorList
			if !errors.As(err, &l) || len(l) == 0 {
				t.Fatalf("not an ErrorList: %v", err)
			}
			if !posRE.MatchString(l[0].Error()) {
				t.Errorf("error has no file:line:column: %q", l[0].Error())
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if tc.line > 0 && (l[0].Pos.Line != tc.line || l[0].Pos.Column != tc.col) {
				t.Errorf("first error at %d:%d, want %d:%d (%v)", l[0].Pos.Line, l[0].Pos.Column, tc.line, tc.col, l[0])
			}
			if strings.Contains(err.Error(), "hunter2hunter2") {
				t.Error("the error repeats a password from the store URL")
			}
		})
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	_, err := Parse([]byte("secrets:\n  A: {min_lenght: 1}\n  B: {format: nope}\n  C: {pattern: '('}\n"), "")
	var l ErrorList
	if !errors.As(err, &l) || len(l) != 3 {
		t.Fatalf("want 3 errors at once, got %v", err)
	}
	if l[0].Pos.Line != 2 || l[1].Pos.Line != 3 || l[2].Pos.Line != 4 {
		t.Fatalf("errors out of file order: %v", l)
	}
}

func TestBombs(t *testing.T) {
	// The billion laughs: each level refers to the previous one nine times.
	var b strings.Builder
	// Here with merge keys: each mapping merges the previous one nine times.
	b.WriteString("x-a0: &a0 {description: x}\n")
	for i := 1; i < 9; i++ {
		b.WriteString("x-a" + itoa(i) + ": &a" + itoa(i) + " {<<: [")
		for j := 0; j < 9; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + itoa(i-1))
		}
		b.WriteString("]}\n")
	}
	b.WriteString("secrets:\n  A:\n    <<: *a8\n")
	_, err := Parse([]byte(b.String()), "keyward.yaml")
	if err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("alias bomb: %v", err)
	}

	big := "secrets:\n" + strings.Repeat("  # padding padding padding padding padding\n", MaxFileSize/40)
	if _, err := Parse([]byte(big), "keyward.yaml"); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("oversized file: %v", err)
	}

	var many strings.Builder
	many.WriteString("x-x: &x a\nsecrets:\n  A:\n    description: [")
	for i := 0; i < maxAliases+5; i++ {
		many.WriteString("*x, ")
	}
	many.WriteString("]\n")
	if _, err := Parse([]byte(many.String()), "keyward.yaml"); err == nil || !strings.Contains(err.Error(), "aliases") {
		t.Fatalf("too many aliases: %v", err)
	}
}

func TestFind(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "a", "b")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if p, err := Find(sub); err != nil || p != "" {
		// a keyward.yaml above the temp dir would be a broken test machine
		t.Skipf("a keyward.yaml exists above %s: %q", dir, p)
	}
	write(t, dir, FileName, "secrets: {}\n", 0o644)
	if p, err := Find(sub); err != nil || p != filepath.Join(dir, FileName) {
		t.Fatalf("Find = %q, %v", p, err)
	}
	if _, err := Load(filepath.Join(dir, "nope.yaml")); keyward.ErrorCode(err) != keyward.NotFound {
		t.Fatalf("missing file: %v", err)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"90d": 90 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "24h": 24 * time.Hour, "1h30m": 90 * time.Minute} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v", in, got, err)
		}
		if got, _ := ParseDuration(FormatDuration(want)); got != want {
			t.Errorf("FormatDuration(%v) does not round-trip", want)
		}
	}
	for _, in := range []string{"", "d", "0d", "-1d", "90 days", "1y", "abc", "-5m"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) accepted", in)
		}
	}
}

// TestJSONSchemaMatches keeps keyward.schema.json in step with the parser:
// the same fields, formats, checks and rotation methods.
func TestJSONSchemaMatches(t *testing.T) {
	var s map[string]any
	if err := json.Unmarshal(JSONSchema, &s); err != nil {
		t.Fatal(err)
	}
	keys := func(m any) []string {
		var out []string
		for k := range m.(map[string]any) {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	get := func(path ...string) any {
		var cur any = s
		for _, p := range path {
			cur = cur.(map[string]any)[p]
		}
		return cur
	}
	sorted := func(l []string) string {
		c := append([]string(nil), l...)
		sort.Strings(c)
		return strings.Join(c, ",")
	}
	strs := func(v any) []string {
		var out []string
		for _, x := range v.([]any) {
			out = append(out, x.(string))
		}
		return out
	}
	for _, c := range []struct {
		got  []string
		want []string
		what string
	}{
		{keys(get("properties")), topFields, "top-level fields"},
		{keys(get("$defs", "secret", "properties")), secretFields, "secret fields"},
		{keys(get("$defs", "override", "properties")), overrideFields, "override fields"},
		{keys(get("$defs", "rotation", "properties")), rotationFields, "rotation fields"},
		{keys(get("properties", "validate", "properties")), validateFields, "validate fields"},
		{strs(get("$defs", "secret", "properties", "format", "enum")), FormatNames(), "formats"},
		{strs(get("$defs", "rotation", "properties", "method", "enum")), rotationMethods, "rotation methods"},
		{strs(get("properties", "validate", "properties", "checks", "propertyNames", "enum")), CheckNames(), "checks"},
	} {
		if sorted(c.got) != sorted(c.want) {
			t.Errorf("keyward.schema.json %s = %v, parser has %v", c.what, c.got, c.want)
		}
	}
	for _, r := range recipeNames() {
		if !strings.Contains(string(JSONSchema), r) {
			t.Errorf("keyward.schema.json does not mention recipe %s", r)
		}
	}
}

// TestDocsMentionEverything keeps docs/schema.md complete.
func TestDocsMentionEverything(t *testing.T) {
	b, err := os.ReadFile("../docs/schema.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	var all []string
	all = append(all, topFields...)
	all = append(all, secretFields...)
	all = append(all, rotationFields...)
	all = append(all, envFields...)
	all = append(all, validateFields...)
	all = append(all, deliveryFields...)
	all = append(all, FormatNames()...)
	all = append(all, CheckNames()...)
	all = append(all, rotationMethods...)
	for _, w := range all {
		if !strings.Contains(doc, "`"+w+"`") {
			t.Errorf("docs/schema.md does not document `%s`", w)
		}
	}
}

func TestStoreURLRelativeToProject(t *testing.T) {
	c := mustParse(t, `
environments:
  dev: dotenv://.env
  sub: dotenv://./config/app.env?interpolate=false
  abs: dotenv:///etc/app.env
  loc: secrets/dev.age
  prod: awssm://dharmamind/production?region=us-east-1
secrets: {}
`)
	c.Dir = "/proj"
	for env, want := range map[string]string{
		"dev":  "dotenv:///proj/.env",
		"sub":  "dotenv:///proj/config/app.env?interpolate=false",
		"abs":  "dotenv:///etc/app.env",
		"loc":  "/proj/secrets/dev.age",
		"prod": "awssm://dharmamind/production?region=us-east-1",
	} {
		if got, err := c.StoreURL(env); err != nil || got != want {
			t.Errorf("StoreURL(%s) = %q, %v; want %q", env, got, err, want)
		}
	}
	if _, err := c.StoreURL("staging"); keyward.ErrorCode(err) != keyward.InvalidArgument {
		t.Errorf("unknown environment: %v", err)
	}
}

// TestExampleCopyInScript keeps the testscript's copy of the example equal
// to examples/dharmamind/keyward.yaml.
func TestExampleCopyInScript(t *testing.T) {
	ar, err := txtar.ParseFile("../cmd/keyward/testdata/script/validate.txtar")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../examples/dharmamind/keyward.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range ar.Files {
		if f.Name == "keyward.yaml" {
			if string(f.Data) != string(want) {
				t.Fatal("validate.txtar's keyward.yaml differs from examples/dharmamind/keyward.yaml; copy it over")
			}
			return
		}
	}
	t.Fatal("validate.txtar has no keyward.yaml")
}

func TestDeliverySettings(t *testing.T) {
	c := mustParse(t, "delivery:\n  old_suffix: _PREVIOUS\n  numbered_ring: true\n")
	if c.Delivery.OldSuffix == nil || *c.Delivery.OldSuffix != "_PREVIOUS" || !c.Delivery.NumberedRing {
		t.Fatalf("delivery = %+v", c.Delivery)
	}
	c = mustParse(t, "delivery:\n  old_suffix: \"\"\n")
	if c.Delivery.OldSuffix == nil || *c.Delivery.OldSuffix != "" {
		t.Fatalf("empty old_suffix not kept: %+v", c.Delivery)
	}
	if c := mustParse(t, "version: 1\n"); c.Delivery.OldSuffix != nil || c.Delivery.NumberedRing {
		t.Fatalf("defaults = %+v", c.Delivery)
	}
	for _, tc := range []struct{ src, want string }{
		{"delivery:\n  old_suffix: \"-old\"\n", "keyward.yaml:2:15"},
		{"delivery:\n  numbered: true\n", "keyward.yaml:2:3"},
		{"delivery:\n  numbered_ring: maybe\n", "keyward.yaml:2:18"},
	} {
		_, err := Parse([]byte(tc.src), "keyward.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want position %s", tc.src, err, tc.want)
		}
	}
}

// TestSecurityNoValueInSchemaErrors: keyward.yaml errors name the file,
// line, column and field, never the value written there (a pasted secret
// in the wrong field must not be printed back).
func TestSecurityNoValueInSchemaErrors(t *testing.T) {
	const c = "kwcanary4f2e"
	for _, tc := range []struct {
		name, yaml string
		line, col  int
	}{
		{"format", "secrets:\n  A: {format: " + c + "}\n", 2, 15},
		{"method", "secrets:\n  A: {rotation: {method: " + c + "}}\n", 2, 26},
		{"every", "secrets:\n  A: {rotation: {every: " + c + "}}\n", 2, 25},
		{"grace", "secrets:\n  A: {rotation: {every: 30d, grace: " + c + "d}}\n", 2, 37},
		{"generate", "secrets:\n  A: {generate: " + c + "}\n", 2, 17},
		{"generate size", "secrets:\n  A: {generate: \"hex:" + c + "\"}\n", 2, 17},
		{"pattern", "secrets:\n  A: {pattern: \"(" + c + "\"}\n", 2, 16},
		{"pattern class", "secrets:\n  A: {pattern: \"[" + c + "\"}\n", 2, 16},
		{"scheme", "environments:\n  prod: " + c + "://x/y\nsecrets: {}\n", 2, 9},
		{"store password", "environments:\n  prod: vault://u:" + c + "@h/p\nsecrets: {}\n", 2, 9},
		{"store malformed", "environments:\n  prod: \"vault://h:" + c + "/p\"\nsecrets: {}\n", 2, 9},
		{"default_environment", "default_environment: " + c + "\nsecrets: {}\n", 1, 1},
		{"severity", "secrets: {}\nvalidate:\n  checks:\n    format: " + c + "\n", 4, 13},
		{"version", "version: \"" + c + "\"\nsecrets: {}\n", 1, 10},
		{"bool", "secrets:\n  A: {required: " + c + "}\n", 2, 17},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "keyward.yaml")
			if err == nil {
				t.Fatal("parsed")
			}
			msg := err.Error()
			if strings.Contains(msg, c) {
				t.Errorf("error repeats the value: %s", strings.ReplaceAll(msg, c, "[CANARY]"))
			}
			if want := fmt.Sprintf("keyward.yaml:%d:%d:", tc.line, tc.col); !strings.Contains(msg, want) {
				t.Errorf("error %q lacks %s", strings.ReplaceAll(msg, c, "[CANARY]"), want)
			}
		})
	}
}
