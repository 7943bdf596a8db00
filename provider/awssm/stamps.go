//go:build !keyward_omit_awssm

package awssm

import (
	"context"
	"slices"
	"sort"
	"strings"

	"github.com/keyward/keyward/driver"
)

// Stamps implements driver.ChangeStamper with DescribeSecret (metadata, no
// value; IAM secretsmanager:DescribeSecret): the stamp is the secret's
// version → staging labels map, which changes with every write and every
// rotation step. A bundle is one call whose stamp every key shares.
func (d *bundleDriver) Stamps(ctx context.Context, keys []string) (map[string]string, error) {
	out := make(map[string]string, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	st, err := d.stages(ctx, d.name)
	if err != nil {
		if errorCode(err) == driver.NotFound {
			return out, nil
		}
		return nil, err
	}
	s := encodeStages(st)
	for _, k := range keys {
		out[k] = s
	}
	return out, nil
}

// Stamps implements driver.ChangeStamper: in mode=keys each key's secret
// is one DescribeSecret call.
func (d *keysDriver) Stamps(ctx context.Context, keys []string) (map[string]string, error) {
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		st, err := d.stages(ctx, d.secretName(k))
		if err != nil {
			if errorCode(err) == driver.NotFound {
				continue
			}
			return nil, err
		}
		out[k] = encodeStages(st)
	}
	return out, nil
}

func encodeStages(st stageMap) string {
	ids := make([]string, 0, len(st))
	for id := range st {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var b strings.Builder
	for _, id := range ids {
		labels := slices.Clone(st[id])
		sort.Strings(labels)
		b.WriteString(id + "=" + strings.Join(labels, ",") + ";")
	}
	return b.String()
}
