// Package all links every keyward provider into a binary. Each provider
// can be left out with a keyward_omit_<name> build tag (see maybe_*.go).
package all
