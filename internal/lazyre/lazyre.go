// Package lazyre is a regular expression compiled on first use. A
// package-level regexp.MustCompile runs in the package's init, so every
// keyward command — `keyward --version` included — paid for the scanner's,
// the schema's and the dotenv parser's expressions; a lazyre.Regexp is
// compiled by the first call that needs it (once, safely across goroutines).
package lazyre

import (
	"errors"
	"regexp"
	"regexp/syntax"
	"sync"
)

// Regexp is a regexp compiled on first use. The zero value is not usable;
// make one with New.
type Regexp struct {
	expr string
	once sync.Once
	re   *regexp.Regexp
}

// New returns a Regexp for expr. expr is compiled (and, like
// regexp.MustCompile, panics when invalid) at its first use.
func New(expr string) *Regexp { return &Regexp{expr: expr} }

// Regexp returns the compiled expression.
func (l *Regexp) Regexp() *regexp.Regexp {
	l.once.Do(func() { l.re = regexp.MustCompile(l.expr) })
	return l.re
}

// String returns the source text.
func (l *Regexp) String() string { return l.expr }

// Match is regexp.Regexp.Match.
func (l *Regexp) Match(b []byte) bool { return l.Regexp().Match(b) }

// MatchString is regexp.Regexp.MatchString.
func (l *Regexp) MatchString(s string) bool { return l.Regexp().MatchString(s) }

// FindStringSubmatch is regexp.Regexp.FindStringSubmatch.
func (l *Regexp) FindStringSubmatch(s string) []string { return l.Regexp().FindStringSubmatch(s) }

// FindAllIndex is regexp.Regexp.FindAllIndex.
func (l *Regexp) FindAllIndex(b []byte, n int) [][]int { return l.Regexp().FindAllIndex(b, n) }

// ReplaceAllStringFunc is regexp.Regexp.ReplaceAllStringFunc.
func (l *Regexp) ReplaceAllStringFunc(src string, repl func(string) string) string {
	return l.Regexp().ReplaceAllStringFunc(src, repl)
}

// Problem is what a regexp compile error says is wrong ("missing closing
// )"), without the piece of the pattern the error quotes: patterns come
// from repository files, and messages never repeat what a file holds.
func Problem(err error) string {
	var se *syntax.Error
	if errors.As(err, &se) {
		return string(se.Code)
	}
	return "invalid pattern"
}
