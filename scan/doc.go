// Package scan finds leaked secrets: the values keyward manages, in clear
// or encoded, and well-known credential formats, in files, in what is staged
// for a commit, and in every commit of a git repository.
//
// Most users want the CLI (`keyward scan`, see docs/scan.md). In Go:
//
//	s, err := scan.New(scan.Options{Managed: values}) // nil Rules: built-in rules
//	rep, err := s.ScanTree(ctx, []string{"."}, scan.SourceOptions{})
//	scan.WriteText(os.Stdout, rep.Findings)
//
// # How it is fast
//
// Every encoded form of every managed value (raw, hex in both cases,
// standard and URL-safe base64 at all three byte alignments, percent-,
// JSON- and Go-escaped) and every rule keyword go into one Aho–Corasick
// automaton (github.com/coregx/ahocorasick, a compiled DFA), which passes
// over each file once (over an ASCII-lowercased copy, so case-insensitive
// keywords need no per-rune folding; case-sensitive hits are confirmed
// against the original bytes). A rule's regular expression then runs only on a
// small window anchored at each keyword hit, never over a whole file, and its
// result per window is cached by the window's bytes. In history each
// distinct blob is scanned once. Built-in rules skip well-known example
// values and placeholders (allow.go).
//
// # Findings never hold secrets
//
// A [Finding] names the managed key and environment, or the rule, and a
// 12-hex-digit HMAC-SHA256 fingerprint of the secret; never the value.
package scan
