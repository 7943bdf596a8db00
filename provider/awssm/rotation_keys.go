//go:build !keyward_omit_awssm

package awssm

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keyward/keyward/driver"
)

// Rotation of per-key secrets (?mode=keys) uses the service's own staging
// labels, as a Secrets Manager rotation Lambda does:
//
//  1. Stage: PutSecretValue with AWSPENDING, a keyward-grace-UNIX-TAG label
//     recording when the current value's grace will end, and a
//     keyward-from-TAG-VERSIONID label naming the version it replaces.
//     GetSecretValue keeps returning AWSCURRENT.
//  2. Promote: UpdateSecretVersionStage moves AWSCURRENT to the pending
//     version, naming the version read as current in RemoveFromVersionId
//     (the service refuses if it moved: a concurrent rotation loses); the
//     service moves AWSPREVIOUS to the old current version.
//  3. Retire: AWSPREVIOUS is removed from the old version (revoke, or
//     rotate --retire after the grace), which leaves the key ring.
//
// A crash after 1 leaves AWSPENDING on a version that is not current:
// `keyward rotate --resume` promotes it, --abort removes the label.

const (
	stageCurrent  = "AWSCURRENT"
	stagePrevious = "AWSPREVIOUS"
	stagePending  = "AWSPENDING"
	// graceLabelPrefix + UNIX seconds: when the previous value's grace ends,
	// attached to the version that replaced it.
	graceLabelPrefix = "keyward-grace-"
	// revokeLabel: the previous value was revoked by this rotation.
	revokeLabel = "keyward-revoked"
	// fromLabelPrefix + VersionId, on a staged version: the version that
	// was current when it was staged. Promote moves AWSCURRENT only from
	// that version, so a rotation staged against a value that another
	// rotation has since replaced loses instead of overwriting it.
	fromLabelPrefix = "keyward-from-"
)

var _ driver.Rotator = (*keysDriver)(nil)

// A staging label belongs to one version of a secret at a time (attaching
// it elsewhere moves it), so keyward's labels carry the first 8 characters
// of their own version's token: two rotations racing can never take each
// other's labels.
func graceFrom(stages []string) (expires time.Time, revoked, ok bool) {
	for _, s := range stages {
		if strings.HasPrefix(s, revokeLabel) {
			return time.Time{}, true, true
		}
		if rest, found := strings.CutPrefix(s, graceLabelPrefix); found {
			unix, _, _ := strings.Cut(rest, "-")
			if n, err := strconv.ParseInt(unix, 10, 64); err == nil {
				return time.Unix(n, 0).UTC(), false, true
			}
		}
	}
	return time.Time{}, false, false
}

// fromOf returns the version a staged version was staged against.
func fromOf(stages []string) string {
	for _, s := range stages {
		if rest, found := strings.CutPrefix(s, fromLabelPrefix); found && len(rest) > 9 {
			return rest[9:]
		}
	}
	return ""
}

func isKeywardLabel(s string) bool { return strings.HasPrefix(s, "keyward-") }

func (d *keysDriver) entry(ctx context.Context, name, id string) (*driver.RingEntry, error) {
	sv, err := d.getSecret(ctx, name, "id:"+id)
	if err != nil {
		return nil, err
	}
	return &driver.RingEntry{ID: sv.ver.ID, Data: sv.data, Version: sv.ver}, nil
}

// RotationState implements driver.Rotator.
func (d *keysDriver) RotationState(ctx context.Context, key string) (*driver.RotationState, error) {
	name := d.secretName(key)
	m, err := d.stages(ctx, name)
	if err != nil {
		return nil, err
	}
	curID := m.holder(stageCurrent)
	if curID == "" {
		return nil, &keyError{err: errNotFound, secret: name, key: key}
	}
	st := &driver.RotationState{}
	if st.Current, err = d.entry(ctx, name, curID); err != nil {
		return nil, err
	}
	st.RotatedAt = st.Current.Version.Created
	if p := m.holder(stagePending); p != "" && p != curID {
		if st.Pending, err = d.entry(ctx, name, p); err != nil && errorCode(err) != driver.NotFound {
			return nil, err
		}
	}
	// Only a rotation grants grace: a version that became AWSPREVIOUS
	// through a plain write (keyward set) is not in the ring.
	expires, revoked, granted := graceFrom(m[curID])
	if prev := m.holder(stagePrevious); prev != "" && prev != curID && granted && !revoked {
		e, err := d.entry(ctx, name, prev)
		switch {
		case err == nil:
			e.Expires = expires
			st.Previous = append(st.Previous, *e)
		case errorCode(err) != driver.NotFound:
			return nil, err
		}
	}
	return st, nil
}

func (d *keysDriver) moveStage(ctx context.Context, name, stage, to, from string) error {
	c, err := d.api(ctx)
	if err != nil {
		return err
	}
	in := &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String(name), VersionStage: aws.String(stage)}
	if to != "" {
		in.MoveToVersionId = aws.String(to)
	}
	if from != "" {
		in.RemoveFromVersionId = aws.String(from)
	}
	_, err = c.UpdateSecretVersionStage(ctx, in, oneAttempt)
	return err
}

// Stage implements driver.Rotator.
func (d *keysDriver) Stage(ctx context.Context, key string, data []byte, r *driver.StageRequest) (driver.Version, error) {
	name := d.secretName(key)
	m, err := d.stages(ctx, name)
	if err != nil {
		return driver.Version{}, err
	}
	cur := m.holder(stageCurrent)
	if r.IfCurrent != "" && cur != r.IfCurrent {
		return driver.Version{}, &keyError{err: errConflict, secret: name, key: key}
	}
	if p := m.holder(stagePending); p != "" && p != cur {
		return driver.Version{}, &keyError{err: errConflict, secret: name, key: key}
	}
	c, err := d.api(ctx)
	if err != nil {
		return driver.Version{}, err
	}
	token := newToken()
	tag := token[:8]
	label := revokeLabel + "-" + tag
	if !r.PreviousExpires.IsZero() {
		label = graceLabelPrefix + strconv.FormatInt(r.PreviousExpires.Unix(), 10) + "-" + tag
	}
	str, bin := secretInput(data)
	labels := []string{stagePending, label, fromLabelPrefix + tag + "-" + cur}
	if _, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(name), ClientRequestToken: aws.String(token),
		SecretString: str, SecretBinary: bin, VersionStages: labels,
	}, oneAttempt); err != nil {
		return driver.Version{}, wrapSDK(err)
	}
	return driver.Version{ID: token, Created: time.Now().UTC(), Labels: labels}, nil
}

// Promote implements driver.Rotator.
func (d *keysDriver) Promote(ctx context.Context, key, pending string) (driver.Version, error) {
	name := d.secretName(key)
	m, err := d.stages(ctx, name)
	if err != nil {
		return driver.Version{}, err
	}
	cur := m.holder(stageCurrent)
	from := fromOf(m[pending])
	if from == "" {
		from = cur
	}
	if cur != pending {
		if m.holder(stagePending) != pending || from != cur {
			// Staged against a value another rotation has replaced: take
			// our labels back so the key is not left in flight.
			for _, s := range m[pending] {
				if s == stagePending || isKeywardLabel(s) {
					_ = d.moveStage(context.WithoutCancel(ctx), name, s, "", pending)
				}
			}
			return driver.Version{}, &keyError{err: errConflict, secret: name, key: key}
		}
		if err := d.moveStage(ctx, name, stageCurrent, pending, from); err != nil {
			if code := apiCode(err); code == "InvalidParameterException" || code == "InvalidRequestException" {
				// AWSCURRENT moved since it was read: a concurrent rotation
				// won. Take our pending label back so the key is not left
				// in flight.
				_ = d.moveStage(context.WithoutCancel(ctx), name, stagePending, "", pending)
				return driver.Version{}, &keyError{err: errConflict, secret: name, key: key}
			}
			return driver.Version{}, wrapSDK(err)
		}
	}
	// Tidy: AWSPENDING has done its job, and the old current's grace label
	// described a rotation that is over. Best effort: the state reads the
	// same without it.
	_ = d.moveStage(ctx, name, stagePending, "", pending)
	for _, s := range m[pending] {
		if strings.HasPrefix(s, fromLabelPrefix) {
			_ = d.moveStage(ctx, name, s, "", pending)
		}
	}
	if cur != "" && cur != pending {
		for _, s := range m[cur] {
			if isKeywardLabel(s) {
				_ = d.moveStage(ctx, name, s, "", cur)
			}
		}
	}
	return driver.Version{ID: pending, Labels: []string{stageCurrent}}, nil
}

// Discard implements driver.Rotator.
func (d *keysDriver) Discard(ctx context.Context, key, pending string) error {
	name := d.secretName(key)
	m, err := d.stages(ctx, name)
	if err != nil {
		return err
	}
	if m.holder(stageCurrent) == pending {
		return &keyError{err: errConflict, secret: name, key: key}
	}
	for _, s := range m[pending] {
		if err := d.moveStage(ctx, name, s, "", pending); err != nil {
			return wrapSDK(err)
		}
	}
	return nil
}

// Retire implements driver.Rotator: AWSPREVIOUS leaves the version.
func (d *keysDriver) Retire(ctx context.Context, key, version string) error {
	name := d.secretName(key)
	m, err := d.stages(ctx, name)
	if err != nil {
		return err
	}
	if m.holder(stagePrevious) != version {
		return nil // already retired
	}
	return wrapSDK(d.moveStage(ctx, name, stagePrevious, "", version))
}
