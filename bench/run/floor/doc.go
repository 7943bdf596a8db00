// Package floor holds the programs bench/run/run.sh times beside keyward
// to show what any Go CLI pays on this machine before doing keyward's
// work: hello (a Go program that writes one line), cobra (a cobra root
// command answering --version, the CLI library keyward uses), libs (that
// root with every third-party library the default keyward binary links, so
// their package init runs: what --version would cost with no keyward code),
// spawn (a Go parent that starts `true` with os/exec and waits, as
// `keyward run` must to redact its child's output and forward signals) and
// essential (the work every `run` of this design must do, with cobra and
// age alone: decrypt an age file of NAME=value lines, append one audit
// record fsynced while the child starts, run the child). All are built
// with CGO_ENABLED=0, like the keyward build README.md recommends, and
// with cmd/keyward's //go:debug lines, so that a floor pays no runtime
// work keyward does not.
package floor
