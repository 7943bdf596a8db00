package mem

import (
	"context"

	"github.com/keyward/keyward/driver"
)

var _ driver.ChangeStamper = (*memDriver)(nil)

// Stamps implements driver.ChangeStamper: a key's stamp is its current
// version ID. It honours SetFailure like Get (outage tests).
func (d *memDriver) Stamps(ctx context.Context, keys []string) (map[string]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.b.mu.RLock()
	defer d.b.mu.RUnlock()
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		if d.b.fail != nil {
			if err := d.b.fail(k); err != nil {
				return nil, err
			}
		}
		if vs := d.b.secrets[k]; len(vs) > 0 {
			out[k] = vs[len(vs)-1].v.ID
		}
	}
	return out, nil
}
