//go:build !keyward_omit_vault

package vault

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/keyward/keyward/driver"
)

var _ driver.ChangeStamper = (*kvDriver)(nil)

// Stamps implements driver.ChangeStamper on KV v2 from metadata, never
// data: in the bundle layout one metadata read gives the secret's current
// version, the stamp of every key in it; in the keys layout each key's
// secret has its own current version (one metadata read per key). KV v1
// keeps no versions: Unimplemented, and watchers compare values instead.
func (d *kvDriver) Stamps(ctx context.Context, keys []string) (map[string]string, error) {
	t, err := d.resolve(ctx)
	if err != nil {
		return nil, err
	}
	if t.version != 2 {
		return nil, &Error{Op: "stamps", Path: d.o.Path, code: driver.Unimplemented}
	}
	out := make(map[string]string, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	if d.o.Layout != LayoutKeys {
		n, live, err := d.currentVersion(ctx, t)
		if err != nil {
			if d.ErrorCode(err) == driver.NotFound {
				return out, nil
			}
			return nil, err
		}
		st := stamp(n, live)
		for _, k := range keys {
			out[k] = st
		}
		return out, nil
	}
	for _, k := range keys {
		st, err := d.keyStamp(ctx, t, t.join(k))
		if err != nil && d.ErrorCode(err) == driver.NotFound && strings.ToLower(k) != k {
			st, err = d.keyStamp(ctx, t, t.join(strings.ToLower(k)))
		}
		if err != nil {
			if d.ErrorCode(err) == driver.NotFound {
				continue
			}
			return nil, err
		}
		out[k] = st
	}
	return out, nil
}

func stamp(n int, live bool) string {
	s := "v" + strconv.Itoa(n)
	if !live {
		s += "-deleted"
	}
	return s
}

func (d *kvDriver) keyStamp(ctx context.Context, t *target, p string) (string, error) {
	sec, err := d.call(ctx, http.MethodGet, t.metadataPath(p), nil, nil, nil)
	if err != nil {
		return "", err
	}
	if sec == nil || sec.Data == nil {
		return "", &Error{Op: "read", Path: t.metadataPath(p), code: driver.NotFound}
	}
	num, _ := sec.Data["current_version"].(json.Number)
	return "v" + num.String() + "/" + stringOf(sec.Data["updated_time"]), nil
}

func stringOf(v any) string {
	s, _ := v.(string)
	return s
}
