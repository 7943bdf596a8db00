package dotenv

import (
	"strings"
	"testing"
)

// Every reference to an undefined variable without a default is reported
// with file:line:col and the variable's name, never a value; defaults, $$
// and set variables are not.
func TestWarnUndefined(t *testing.T) {
	src := "A=abc$def123XYZ\n" + // Compose: "abc"; python-dotenv: as written
		"B=\"x ${MISSING} y\"\n" +
		"C=${UNSET:-fallback}\n" +
		"D=$$literal\n" +
		"E=${A}-$SET_IN_ENV\n" +
		"F='single $quoted'\n" +
		"G=\"multi\nline $LATER\"\n" +
		"H=ok-Secret-Canary ${X}${Y}\n"
	var got []string
	es, err := Parse([]byte(src), &Options{
		Name:   "app.env",
		Lookup: func(k string) (string, bool) { return "v", k == "SET_IN_ENV" },
		Warn: func(w Warning) {
			got = append(got, w.String())
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"app.env:1:6: variable def123XYZ is not set: $def123XYZ reads as an empty string",
		"app.env:2:6: variable MISSING is not set: ${MISSING} reads as an empty string",
		"app.env:8:6: variable LATER is not set: $LATER",
		"app.env:9:20: variable X is not set: ${X}",
		"app.env:9:24: variable Y is not set: ${Y}",
	}
	// A failure message shows the warnings with the values blanked out.
	redact := strings.NewReplacer("Canary", "[VALUE]", "abc", "[VALUE]", "fallback", "[VALUE]").Replace
	if len(got) != len(want) {
		t.Fatalf("got %d warnings, want %d:\n%s", len(got), len(want), redact(strings.Join(got, "\n")))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("warning %d = %q, want prefix %q", i, redact(got[i]), want[i])
		}
		if strings.Contains(got[i], "Canary") || strings.Contains(got[i], "abc") || strings.Contains(got[i], "fallback") {
			t.Errorf("warning %d carries a value: %q", i, redact(got[i]))
		}
	}
	if m := Map(es); m["A"] != "abc" || m["C"] != "fallback" || m["D"] != "$literal" || m["E"] != "abc-v" {
		t.Errorf("values changed by Warn: A=%q C=%q D=%q E=%q", m["A"], m["C"], m["D"], m["E"])
	}
	// NoInterpolate reads literally and warns about nothing.
	got = nil
	es, err = Parse([]byte(src), &Options{NoInterpolate: true, Warn: func(w Warning) { got = append(got, w.String()) }})
	if err != nil || len(got) != 0 || Map(es)["A"] != "abc$def123XYZ" {
		t.Fatalf("NoInterpolate: err=%v warnings=%d", err, len(got))
	}
}
