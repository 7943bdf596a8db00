package scan

import (
	"bytes"

	"github.com/keyward/keyward/internal/lazyre"
)

// Allow-lists of the built-in rules, modelled on the ones that keep
// gitleaks' default configuration quiet: well-known example values from
// vendor documentation, placeholders that stand for a value rather than
// being one, and files that define scanner rules or pin dependency hashes.
// They apply to the built-in rules only (a rules file brings its own); a
// managed value is found wherever it is.

// exampleValues are credentials published as examples in vendor
// documentation (AWS' IAM examples, jwt.io's default token); they are in
// countless READMEs and tests and grant nothing.
var exampleValues = map[string]bool{
	"AKIAIOSFODNN7EXAMPLE":                     true,
	"AKIAI44QH8DHBEXAMPLE":                     true,
	"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY": true,
	"je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY": true,
	"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." +
		"eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ." +
		"SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c": true,
}

// placeholderRE matches a whole secret that is a stand-in: a shell or
// template variable, a format verb, a path, a keyword literal.
var placeholderRE = lazyre.New(`^(?:` +
	`\$[A-Za-z_][A-Za-z0-9_]*|\$\{[^{}]+\}|\$\(\([^()]*\)\)|\{\{[^{}]*\}\}|\$\{\{[^{}]*\}\}|` + // $VAR ${VAR} {{ .X }} ${{ secrets.X }}
	`%[A-Za-z_][A-Za-z0-9_]*%|@[A-Za-z_][A-Za-z0-9_]*@|<[^<>]+>|` + // %VAR% @VAR@ <your-key>
	`(?i:true|false|null|nil|none|undefined)|` +
	`/(?:bin|dev|etc|home|opt|proc|tmp|usr|var|Users)/[\w ./-]*` +
	`)$`)

// exampleStopwords are runs no generated secret contains: alphabets typed
// in order, the example marker AWS uses.
var exampleStopwords = []string{"abcdefghijklmnop", "0123456789abcdef", "1234567890abcdef", "example"}

// exampleAllowed reports whether a built-in rule's secret is a well-known
// example or a placeholder.
func exampleAllowed(secret []byte) bool {
	if exampleValues[string(secret)] || placeholderRE.Match(secret) || oneByte(secret) {
		return true
	}
	l := lowerASCII(nil, secret)
	for _, sw := range exampleStopwords {
		if bytes.Contains(l, []byte(sw)) {
			return true
		}
	}
	return false
}

// oneByte reports whether s repeats one byte (xxxxxxxx, ********).
func oneByte(s []byte) bool {
	for _, c := range s {
		if c != s[0] {
			return false
		}
	}
	return len(s) > 0
}

// noisePaths are files the built-in format rules skip: scanner rule and
// ignore files (full of sample secrets by design), and lock files and
// checksum databases (integrity hashes that look like keys).
var noisePaths = lazyre.New(`(?:^|/)(?:\.?gitleaks\.toml|\.gitleaksignore|` +
	`go\.sum|go\.work\.sum|package-lock\.json|npm-shrinkwrap\.json|yarn\.lock|pnpm-lock\.yaml|deno\.lock|` +
	`Cargo\.lock|poetry\.lock|Pipfile\.lock|composer\.lock|Gemfile\.lock|gradle\.lockfile|verification-metadata\.xml)$`)

// genericNotSecret rejects values of the generic password=/secret= rule
// that are references to something else: a URL (the url-credentials rule
// judges those), a file name, a YAML key (value ending in ':'), a
// package coordinate ending in a version, a key:value reference.
var genericNotSecret = lazyre.New(`://|` +
	`^[\w.-]+\.(?i:cer|crt|pem|key|pub|p12|pfx|jks|json|ya?ml|toml|ini|cfg|conf|env|txt|xml|properties|sh|py|go|js|ts|rb)$|` +
	`:$|[-_@]v?\d+\.\d+\.\d+$`)
