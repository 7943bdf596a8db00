package local

import (
	"context"
	"fmt"
	"strings"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/policy"
)

func init() { policy.Register(Scheme, Policy) }

// Policy reports who holds access to a local store today: the age
// recipients in its clear header (the file is not decrypted). A local store
// has no per-key or read-only access: every recipient reads and writes every
// key, at every version. The document lists them with the command that
// removes one.
func Policy(_ context.Context, r *policy.Request) (*policy.Document, error) {
	path, idFile, err := PathFromURL(r.URL)
	if err != nil {
		return nil, err
	}
	recips, err := Recipients(path)
	if err != nil {
		return nil, err
	}
	notes := []string{
		"A local store has no per-key or read-only access: each recipient can decrypt it, so reads and writes every key at every version.",
		"Removing a recipient re-encrypts the store without them; they may keep old copies (git history), so rotate what they could read.",
	}
	store := keyward.RedactURL(r.URL)
	var b strings.Builder
	b.WriteString(policy.Comment("# ", policy.Header(r)...))
	b.WriteString(policy.Comment("# ", notes...))
	fmt.Fprintf(&b, "\n# %d recipient(s) hold access to %s today:\n", len(recips), path)
	mine := map[string]bool{}
	if id, err := loadIdentity(r.Getenv, idFile); err == nil {
		for _, rc := range id.Recipients {
			mine[rc] = true
		}
	}
	for _, rc := range recips {
		b.WriteString(rc)
		if mine[rc] {
			b.WriteString("  # your identity")
		}
		b.WriteString("\n")
	}
	b.WriteString("\n# To remove one:\n")
	for _, rc := range recips {
		fmt.Fprintf(&b, "#   keyward init --remove-recipient %s --store %s\n", rc, store)
	}
	return &policy.Document{Language: "text", Native: b.String(), Holders: recips, Notes: notes,
		Document: map[string]any{"recipients": recips, "remove": "keyward init --remove-recipient KEY --store " + store}}, nil
}
