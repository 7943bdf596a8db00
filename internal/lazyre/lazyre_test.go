package lazyre

import (
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// TestLazy: nothing is compiled until the first use; then every method
// answers as the compiled regexp does, also from many goroutines at once.
func TestLazy(t *testing.T) {
	re := New(`^a(b+)c$`)
	if re.re != nil {
		t.Fatal("compiled by New")
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !re.MatchString("abbc") || re.Match([]byte("ac")) {
				t.Error("MatchString/Match")
			}
		}()
	}
	wg.Wait()
	if m := re.FindStringSubmatch("abbbc"); len(m) != 2 || m[1] != "bbb" {
		t.Fatalf("FindStringSubmatch = %q", m)
	}
	if got := New(`b`).ReplaceAllStringFunc("abcb", func(string) string { return "x" }); got != "axcx" {
		t.Fatalf("ReplaceAllStringFunc = %q", got)
	}
	if got := New(`b`).FindAllIndex([]byte("abcb"), -1); len(got) != 2 || got[1][0] != 3 {
		t.Fatalf("FindAllIndex = %v", got)
	}
	if re.String() != `^a(b+)c$` || re.Regexp().String() != re.String() {
		t.Fatal("String")
	}
}

func TestInvalidPanicsAtFirstUse(t *testing.T) {
	re := New(`(`)
	defer func() {
		if recover() == nil {
			t.Fatal("an invalid expression did not panic at first use")
		}
	}()
	re.MatchString("x")
}

// TestProblem: a compile error is reduced to its code, never the pattern
// text it quotes.
func TestProblem(t *testing.T) {
	const canary = "CANARYpattern"
	//lint:ignore SA1000 the test compiles an invalid pattern on purpose
	_, err := regexp.Compile(canary + `(`)
	if got := Problem(err); got != "missing closing )" {
		t.Fatalf("Problem = %q, want the error code", got)
	}
	if got := Problem(errors.New(canary)); got != "invalid pattern" || strings.Contains(got, canary) {
		t.Fatalf("Problem of a non-syntax error = %q", got)
	}
}
