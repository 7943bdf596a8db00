package dotenv

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

const boundsCanary = "KWCANARYbomb0123"

// bombs are .env inputs that, without limits, expand to gigabytes or keep
// Compose's template engine busy for minutes.
func bombs() []struct {
	name, in string
	lookup   map[string]string
	// want are substrings of the error: position, key, variable, limit.
	want []string
} {
	// 1. Exponential: each line references the previous ten times; about
	// 500 bytes that would expand to 10^8 × 100 bytes.
	var exp strings.Builder
	exp.WriteString("V0=" + boundsCanary + strings.Repeat("x", 100-len(boundsCanary)) + "\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&exp, "V%d=%s\n", i, strings.Repeat(fmt.Sprintf("${V%d}", i-1), 10))
	}
	// 2. Deep nesting: ${A:-${A:-…x…}} 20000 levels in one line.
	const d = 20000
	nest := "N=" + strings.Repeat("${A:-", d) + boundsCanary + strings.Repeat("}", d) + "\n"
	// 3. Work: thousands of ${A:-x} in one value (quadratic in Compose).
	work := "A=" + boundsCanary + "\nW=" + strings.Repeat("${A:-x}", 6000) + "\n"
	// 4. File expansion: a 1 MiB-sized value copied into many keys.
	var fileExp strings.Builder
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&fileExp, "C%d=${BIG}\n", i)
	}
	// 5. Substitutions: $A 40000 times per line, a few lines.
	subs := strings.Repeat("S="+strings.Repeat("$A", 40000)+"\n", 3)
	return []struct {
		name, in string
		lookup   map[string]string
		want     []string
	}{
		{"exponential", exp.String(), nil, []string{".env:6:4: value of V5: expanding ${V4} would make the value larger than the 1 MiB limit"}},
		{"deep nesting", nest, nil, []string{".env:1:3: value of N: ${...} nests 20000 deep; the limit is 16"}},
		{"work", work, nil, []string{".env:2:3: value of W: too much interpolation work (6000 references"}},
		{"file expansion", fileExp.String(), map[string]string{"BIG": strings.Repeat("b", MaxValueExpansion-10)},
			[]string{".env:17:5: value of C16: expanding ${BIG} would exceed the 16 MiB limit on what interpolation may add to one file"}},
		{"substitutions", subs, map[string]string{"A": "a"}, []string{".env:1:3: value of S: more than 20000 variable substitutions in one file (at ${A})"}},
	}
}

// TestInterpolationBombs: each bomb is refused with an error naming the
// file:line:col, the key being defined and the variable — never a value.
func TestInterpolationBombs(t *testing.T) {
	for _, tc := range bombs() {
		t.Run(tc.name, func(t *testing.T) {
			var lookup func(string) (string, bool)
			if tc.lookup != nil {
				lookup = lookupFrom(tc.lookup)
			}
			_, err := Parse([]byte(tc.in), &Options{Lookup: lookup})
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse of the %d-byte bomb: err = %v; want a *SyntaxError", len(tc.in), err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), boundsCanary) || strings.Contains(err.Error(), "bbbb") {
				t.Fatalf("error carries a value")
			}
			// NoInterpolate reads the same bytes without expanding.
			if _, err := Parse([]byte(tc.in), &Options{NoInterpolate: true}); err != nil {
				t.Fatalf("NoInterpolate: %v", err)
			}
		})
	}
}

// TestInterpolationWithinLimits: values just inside each limit still
// expand, exactly as Compose would.
func TestInterpolationWithinLimits(t *testing.T) {
	big := strings.Repeat("b", MaxValueExpansion)
	m, err := ParseMap([]byte("A=${BIG}\n"), &Options{Lookup: lookupFrom(map[string]string{"BIG": big})})
	if err != nil || m["A"] != big {
		t.Fatalf("a value expanded to exactly the limit: len %d, %v", len(m["A"]), err)
	}
	_, err = ParseMap([]byte("A=x${BIG}${C}\n"), &Options{Lookup: lookupFrom(map[string]string{"BIG": big, "C": "c"})})
	if err == nil || !strings.Contains(err.Error(), "expanding ${C} would make the value larger") {
		t.Fatalf("one byte over the value limit: %v", err)
	}
	nested := strings.Repeat("${A:-", MaxNesting) + "deep" + strings.Repeat("}", MaxNesting)
	m, err = ParseMap([]byte("N="+nested+"\n"), nil)
	if err != nil || m["N"] != "deep" {
		t.Fatalf("nesting at the limit: %q, %v", m["N"], err)
	}
	if _, err = ParseMap([]byte("N=${A:-"+nested+"}\n"), nil); err == nil || !strings.Contains(err.Error(), "nests 17 deep") {
		t.Fatalf("nesting one over the limit: %v", err)
	}
	// A realistic file: many keys with defaults and references.
	var b strings.Builder
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&b, "K%d=${HOST:-localhost}:${PORT:-5432}/${DB%d:-db}?${OPT:+x}\n", i, i)
	}
	if _, err := Parse([]byte(b.String()), nil); err != nil {
		t.Fatalf("a 2000-line file of ordinary references: %v", err)
	}
}

func TestShape(t *testing.T) {
	for _, tc := range []struct {
		in            string
		depth, opRefs int
	}{
		{"plain", 0, 0},
		{"$A ${A} $$ $${A:-x}", 1, 0},
		{"${A:-x}", 1, 1},
		{"${A-x}${B+y}${C:?m}${D?m}${E:+z}", 1, 5},
		{"${A:-${B:-${C}}}", 3, 2},
		{"{json: {}} ${A}", 1, 0},
		{"${A:-x", 1, 1},
	} {
		d, o := shape(tc.in)
		if d != tc.depth || o != tc.opRefs {
			t.Errorf("shape(%q) = %d, %d; want %d, %d", tc.in, d, o, tc.depth, tc.opRefs)
		}
	}
}
