package hook

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/fsutil"
)

// The git configuration `hook install` writes into the clone's own
// .git/config, and the .gitattributes line that selects it for the store.
const (
	MergeDriverCmd = "keyward merge-driver %O %A %B %P"
	DiffTextconv   = "keyward diff-driver"
	// AttributesLine marks keyward.age (anywhere in the tree) for both.
	AttributesLine = "keyward.age merge=keyward diff=keyward"
)

// InstallStoreDrivers configures keyward's merge driver and diff driver
// for local store files in the repository at dir: git config
// merge.keyward.{name,driver} and diff.keyward.textconv (in the clone's
// .git/config, never a committed file), and the .gitattributes line at the
// top of the work tree (added once). A store under another name needs its
// own line: "secrets/*.age merge=keyward diff=keyward".
func InstallStoreDrivers(ctx context.Context, o *Options) error {
	for _, kv := range [][2]string{
		{"merge.keyward.name", "keyward store merge (union of versions)"},
		{"merge.keyward.driver", MergeDriverCmd},
		{"diff.keyward.textconv", DiffTextconv},
	} {
		if _, err := gitOut(ctx, o.Git, o.Dir, "config", "--local", kv[0], kv[1]); err != nil {
			return fmt.Errorf("keyward: failed to configure the store's git drivers: %w", err)
		}
	}
	top, err := gitOut(ctx, o.Git, o.Dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return fmt.Errorf("keyward: failed to find the work tree: %w", err)
	}
	p := filepath.Join(strings.TrimSpace(top), ".gitattributes")
	perm := os.FileMode(0o644)
	if fi, err := os.Lstat(p); err == nil {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("keyward: %s is not a regular file; add %q to your attributes yourself", p, AttributesLine)
		}
		perm = fi.Mode().Perm() // keep the mode of the user's file
	}
	old, err := fsutil.ReadFile(p, fsutil.MaxSmallFile)
	if err != nil && !os.IsNotExist(err) {
		return keyward.NewError(fsutil.Code(err), "install hook", err)
	}
	for _, l := range strings.Split(string(old), "\n") {
		if strings.TrimSpace(l) == AttributesLine {
			fmt.Fprintf(o.IO.ErrOut, "keyward: store merge and diff drivers configured (%s already lists keyward.age)\n", p)
			return nil
		}
	}
	var b bytes.Buffer
	b.Write(old)
	if len(old) > 0 && !bytes.HasSuffix(old, []byte("\n")) {
		b.WriteByte('\n')
	}
	b.WriteString("# keyward: merge and diff the local store by secret, never as ciphertext (keyward hook install)\n")
	b.WriteString(AttributesLine + "\n")
	if err := fsutil.WriteFile(p, b.Bytes(), &fsutil.WriteOptions{Perm: perm}); err != nil {
		return keyward.NewError(fsutil.Code(err), "install hook", err)
	}
	fmt.Fprintf(o.IO.ErrOut, "keyward: configured the store merge and diff drivers (git config merge.keyward, diff.keyward) and added %q to %s; commit it\n", AttributesLine, p)
	return nil
}
