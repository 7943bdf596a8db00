package dotenv

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	composedotenv "github.com/compose-spec/compose-go/v2/dotenv"
)

type parseCase struct {
	name string
	in   string
	env  map[string]string // the lookup (process environment); nil = none
	want map[string]string
	// err, when set, is the expected "file:line:col: ..." prefix.
	err string
	// notCompose marks cases where keyward deliberately differs from
	// compose-go (documented in the package doc); the others are checked
	// against compose-go's own parser too.
	notCompose bool
}

var parseCases = []parseCase{
	{name: "simple", in: "A=1\nB=two\n", want: map[string]string{"A": "1", "B": "two"}},
	{name: "no trailing newline", in: "A=1", want: map[string]string{"A": "1"}},
	{name: "export prefix", in: "export A=1\nexport\tB=2\n", want: map[string]string{"A": "1", "B": "2"}},
	{name: "key named export", in: "export=1\n", want: map[string]string{"export": "1"}},
	{name: "comment lines and blank lines", in: "# top\n\n  # indented\nA=1\n\n", want: map[string]string{"A": "1"}},
	{name: "inline comment on unquoted value", in: "A=value # comment\n", want: map[string]string{"A": "value"}},
	{name: "hash without space is part of the value", in: "A=abc#def\n", want: map[string]string{"A": "abc#def"}},
	{name: "tab before hash is not a comment", in: "A=abc\t#def\n", want: map[string]string{"A": "abc\t#def"}},
	{name: "hash inside quotes is kept", in: "A=\"x # y\" # real comment\nB='p#q'\n", want: map[string]string{"A": "x # y", "B": "p#q"}},
	{name: "unquoted values are trimmed", in: "A=   padded value   \n", want: map[string]string{"A": "padded value"}},
	{name: "spaces around equals", in: "A = 1\nB\t=\t2\n", want: map[string]string{"A": "1", "B": "2"}},
	{name: "yaml-style colon", in: "A: 1\nURL: http://h:80/x\n", want: map[string]string{"A": "1", "URL": "http://h:80/x"}},
	{name: "empty values", in: "A=\nB=\"\"\nC=''\nD= \n", want: map[string]string{"A": "", "B": "", "C": "", "D": ""}},
	{name: "single quotes are literal", in: `A='$HOME \n \t "x" ${Y}'` + "\n", env: map[string]string{"HOME": "/h", "Y": "y"}, want: map[string]string{"A": `$HOME \n \t "x" ${Y}`}},
	{name: "escaped single quote in single quotes", in: `A='it\'s'` + "\n", want: map[string]string{"A": "it's"}},
	{name: "double-quote escapes", in: `A="l1\nl2\tT\\B\"Q\$D"` + "\n", want: map[string]string{"A": "l1\nl2\tT\\B\"Q$D"}},
	{name: "unknown escapes are kept", in: `A="\x\q"` + "\n", want: map[string]string{"A": `\x\q`}},
	{name: "octal escape", in: `A="\0101"` + "\n", want: map[string]string{"A": "A"}},
	{name: "unquoted backslashes are literal", in: `A=C:\path\n` + "\n", want: map[string]string{"A": `C:\path\n`}},
	{name: "multi-line double quotes", in: "PEM=\"-----BEGIN-----\nAAAA\n  BBBB\n-----END-----\"\nNEXT=1\n", want: map[string]string{"PEM": "-----BEGIN-----\nAAAA\n  BBBB\n-----END-----", "NEXT": "1"}},
	{name: "multi-line single quotes", in: "A='one\ntwo'\n", want: map[string]string{"A": "one\ntwo"}},
	{name: "duplicate keys: last wins", in: "A=1\nA=2\n", want: map[string]string{"A": "2"}},
	{name: "CRLF file", in: "A=1\r\nB=\"x\"\r\n# c\r\nC=three # c\r\n", want: map[string]string{"A": "1", "B": "x", "C": "three"}},
	{name: "CRLF inside a quoted value is LF", in: "A=\"l1\r\nl2\"\r\n", want: map[string]string{"A": "l1\nl2"}, notCompose: true},
	{name: "UTF-8 BOM", in: "\uFEFFA=1\n", want: map[string]string{"A": "1"}},
	{name: "unicode keys and values", in: "ÜBER=größe-🔑\n", want: map[string]string{"ÜBER": "größe-🔑"}},
	{name: "key characters . - [ ]", in: "a.b=1\nc-d=2\ne[0]=3\n", want: map[string]string{"a.b": "1", "c-d": "2", "e[0]": "3"}},
	{name: "value with equals signs", in: "A=b=c==\n", want: map[string]string{"A": "b=c=="}},
	{name: "interpolation from earlier keys", in: "U=app\nDSN=pg://${U}@db/$U\n", want: map[string]string{"U": "app", "DSN": "pg://app@db/app"}},
	{name: "interpolation in double quotes", in: "U=app\nA=\"x ${U} y\"\n", want: map[string]string{"U": "app", "A": "x app y"}},
	{name: "environment wins over the file", in: "U=file\nA=${U}\n", env: map[string]string{"U": "env"}, want: map[string]string{"U": "file", "A": "env"}},
	{name: "undefined variable is empty", in: "A=x${NOPE}y\n", want: map[string]string{"A": "xy"}},
	{name: "defaults", in: "A=${NOPE:-dflt}\nE=\nB=${E:-dflt}\nC=${E-dflt}\n", want: map[string]string{"A": "dflt", "E": "", "B": "dflt", "C": ""}},
	{name: "double dollar and escaped dollar", in: "A=$$HOME\nB=\"\\$HOME\"\n", env: map[string]string{"HOME": "/h"}, want: map[string]string{"A": "$HOME", "B": "$HOME"}},
	{name: "bare KEY comes from the environment", in: "FROM_ENV\nMISSING\nA=1\n", env: map[string]string{"FROM_ENV": "e"}, want: map[string]string{"FROM_ENV": "e", "A": "1"}},
	{name: "bare KEY on the last line", in: "A=1\nFROM_ENV", env: map[string]string{"FROM_ENV": "e"}, want: map[string]string{"A": "1", "FROM_ENV": "e"}, notCompose: true},
	{name: "comment after closing quote", in: "A=\"x\"   # note\nB='y'#n\n", want: map[string]string{"A": "x", "B": "y"}},
	{name: "quote inside unquoted value", in: "A=it's \"fine\"\n", want: map[string]string{"A": `it's "fine"`}},

	// Malformed input: each names file:line:col.
	{name: "unterminated double quote", in: "A=1\nB=\"never closed\nC=3\n", err: "test.env:2:3: unterminated quoted value"},
	{name: "unterminated single quote", in: "A='x\n", err: "test.env:1:3: unterminated quoted value"},
	{name: "escaped closing quote leaves it open", in: `A="abc\"` + "\n", err: "test.env:1:3: unterminated"},
	{name: "NUL byte", in: "A=1\nB=x\x00y\n", err: "test.env:2:4: NUL byte"},
	{name: "invalid UTF-8", in: "A=1\nBB=ok\xffno\n", err: "test.env:2:6: invalid UTF-8"},
	{name: "line that is not KEY=VALUE", in: "A=1\n  !!garbage\n", err: "test.env:2:3: expected KEY=VALUE"},
	{name: "space inside key", in: "MY KEY=1\n", err: "test.env:1:3: key contains a space"},
	{name: "bad key character", in: "A$B=1\n", err: "test.env:1:2: invalid character in key"},
	{name: "missing key", in: "=value\n", err: "test.env:1:1: missing key"},
	{name: "text after closing quote", in: "A=\"x\" y\n", err: "test.env:1:7: unexpected text after the closing quote"},
	{name: "invalid interpolation", in: "\nA=${1}\n", err: "test.env:2:3: invalid ${...} interpolation"},
	{name: "required variable", in: "A=${NEEDED:?set it}\n", err: "test.env:1:3: required variable NEEDED is missing a value"},
	{name: "column counts runes", in: "Ü=\"ö", err: "test.env:1:3: unterminated"},
}

func lookupFrom(env map[string]string) func(string) (string, bool) {
	if env == nil {
		return nil
	}
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestParseCases(t *testing.T) {
	if len(parseCases) < 25 {
		t.Fatalf("only %d cases", len(parseCases))
	}
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMap([]byte(tc.in), &Options{Name: "test.env", Lookup: lookupFrom(tc.env)})
			if tc.err != "" {
				if err == nil {
					t.Fatalf("no error, want %q", tc.err)
				}
				if !strings.HasPrefix(err.Error(), tc.err) {
					t.Fatalf("error %q, want prefix %q", err, tc.err)
				}
				var se *SyntaxError
				if !errors.As(err, &se) {
					t.Fatalf("error is %T, want *SyntaxError", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !maps.Equal(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if tc.notCompose {
				return
			}
			// The same input through Docker Compose's own parser must agree.
			lk := lookupFrom(tc.env)
			if lk == nil {
				lk = func(string) (string, bool) { return "", false }
			}
			cm, err := composedotenv.ParseWithLookup(strings.NewReader(tc.in), lk)
			if err != nil {
				t.Fatalf("compose-go rejects a case keyward accepts: %v", err)
			}
			if !maps.Equal(got, cm) {
				t.Fatalf("keyward %q differs from compose-go %q", got, cm)
			}
		})
	}
}

func TestParseOrderAndPositions(t *testing.T) {
	es, err := Parse([]byte("# c\nB=1\n  export A=\"x\ny\"\nB=2\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Key)
	}
	if !slices.Equal(got, []string{"B", "A", "B"}) {
		t.Fatalf("keys in order = %v", got)
	}
	if es[1].Line != 3 || es[1].Col != 10 || es[2].Line != 5 {
		t.Fatalf("positions = %d:%d and %d", es[1].Line, es[1].Col, es[2].Line)
	}
}

func TestLongLine(t *testing.T) {
	in := "A=1\nB=" + strings.Repeat("x", 1<<20) + "\n"
	_, err := Parse([]byte(in), &Options{Name: "big.env"})
	if err == nil || !strings.HasPrefix(err.Error(), "big.env:2:") || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("1 MiB line: %v", err)
	}
	if len(err.Error()) > 200 {
		t.Fatalf("error repeats input (%d bytes)", len(err.Error()))
	}
}

func TestNoInterpolate(t *testing.T) {
	m, err := ParseMap([]byte("A=${HOME}\nB=\"$X\"\n"), &Options{NoInterpolate: true, Lookup: lookupFrom(map[string]string{"HOME": "/h"})})
	if err != nil {
		t.Fatal(err)
	}
	if m["A"] != "${HOME}" || m["B"] != "$X" {
		t.Fatalf("got %q", m)
	}
}

// Errors must never repeat file content: plant a canary in each kind of
// malformed statement and check every error.
func TestErrorsCarryNoValues(t *testing.T) {
	const c = "KWCANARYdotenv0123"
	for _, in := range []string{
		"A=\"" + c + "\n",
		"A='" + c,
		"A=\"x\"" + c + "\n",
		c + " " + c + "=1\n",
		"A=" + c + "\x00\n",
		"A=" + c + "\xff\n",
		"A=${" + c + ":?" + c + "}\n",
		"A=${" + c + "/x}\n",
		"A=\"${1" + c + "}\"\n",
		"A=" + strings.Repeat(c, MaxLineBytes/len(c)+1) + "\n",
	} {
		_, err := Parse([]byte(in), nil)
		if err == nil {
			t.Fatalf("malformed input of %d bytes parsed", len(in))
		}
		if strings.Contains(err.Error(), c) && !strings.Contains(err.Error(), "required variable "+c) {
			t.Fatalf("error for input of %d bytes carries file content", len(in))
		}
	}
}
