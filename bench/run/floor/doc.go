// Package floor holds the three programs bench/run/run.sh times beside
// keyward to show what any Go CLI pays on this machine before doing any
// work: hello (a Go program that writes one line), cobra (a cobra root
// command answering --version, the CLI library keyward uses) and spawn (a
// Go parent that starts `true` with os/exec and waits, as `keyward run`
// must to redact its child's output and forward signals). All three are
// built with CGO_ENABLED=0, like the keyward build README.md recommends.
package floor
