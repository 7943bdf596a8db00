package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/keyward/keyward/driver"
)

var _ driver.ChangeStamper = (*localDriver)(nil)

// Stamps implements driver.ChangeStamper without decrypting anything: every
// write replaces the store file (a new inode, through a rename), so the
// file's identity, size and modification time (statFile, the state read
// caches its snapshot by) change with any key; each requested key gets
// that one stamp. A missing file has no keys.
func (d *localDriver) Stamps(ctx context.Context, keys []string) (map[string]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	state, err := statFile(d.path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	st := fmt.Sprintf("%d/%d/%s", state.mtime, state.size, state.sys)
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		out[k] = st
	}
	return out, nil
}
