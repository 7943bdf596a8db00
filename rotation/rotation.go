// Package rotation rotates secrets without downtime: it writes a new value
// and keeps the previous one valid for a grace period, on every writable
// provider, as a resumable sequence of steps that a crash cannot break.
//
// Most users want [Rotate] (what `keyward rotate` runs) and, in services,
// [keyward.Store.KeyRing] or the JWT helpers in rotation/jwtkeys:
//
//	res, err := rotation.Rotate(ctx, store, "JWT_SECRET_KEY", &rotation.Options{
//		Grace:    24 * time.Hour,
//		NewValue: rotation.Generator("urlsafe"),
//	})
//
// # The model
//
// A rotation moves a key through three steps:
//
//	pending (new value persisted, not served) → current (previous value in grace) → retired
//
// Where and how each provider keeps the pending and previous values is its
// layout (see package driver, "Rotation abilities", and docs/rotation.md).
// Each step is one atomic write, so a process killed at any point leaves the
// old value current, or the new value current with the old one in grace;
// never neither. Running Rotate again on a key whose rotation did not finish
// fails with FailedPrecondition (someone may still be running it) unless
// Options.Resume completes it or Options.Abort rolls it back.
//
// # Schedules
//
// [Evaluate] turns a policy (keyward.yaml's rotation: every, grace, method)
// and a key's [keyward.RotationState] into its age, next due date and
// whether it is overdue; `keyward status` prints it and `keyward rotate
// --due` rotates the automated secrets that are due.
package rotation

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/gen"
)

// Step names a point in a rotation; Options.Hook is called after each.
type Step string

// The steps, in order. Not every layout has every step.
const (
	StepPlanned  Step = "planned"   // state read, new value generated; nothing written
	StepStaged   Step = "staged"    // new value (or intent record) persisted as pending
	StepOldSaved Step = "old-saved" // fields layout: the current value copied to KEY_OLD
	StepPromoted Step = "promoted"  // new value current; previous in grace
	StepRecorded Step = "recorded"  // rotation record committed
	StepCleaned  Step = "cleaned"   // pending slot removed
	StepRetired  Step = "retired"   // previous value(s) retired (revoke, or grace ended)
)

// MaxPrevious bounds how many previous values a ring keeps (version
// layouts): rotating more often than that within one grace period drops the
// oldest values early.
const MaxPrevious = 64

// DefaultGrace is the grace period when neither the caller nor keyward.yaml
// gives one: the guide's 24 hours.
const DefaultGrace = 24 * time.Hour

// Options controls Rotate.
type Options struct {
	// Grace is how long the previous value stays valid; zero means DefaultGrace.
	Grace time.Duration
	// RevokePrevious ends the grace of every previous value now (breach).
	RevokePrevious bool
	// NewValue produces the new value. Required unless resuming or aborting.
	NewValue func(ctx context.Context) (keyward.Secret, error)
	// DryRun reads the state and returns the plan without writing.
	DryRun bool
	// Resume completes an unfinished rotation; Abort rolls it back (when the
	// new value is not current yet; otherwise it completes it).
	Resume, Abort bool
	// Clock replaces time.Now.
	Clock func() time.Time
	// Hook is called after each step (tests kill the process there).
	Hook func(Step)
}

// Result describes a finished (or planned) rotation. It never holds a value.
type Result struct {
	Key    string `json:"key"`
	Store  string `json:"store,omitempty"`
	Layout string `json:"layout"`
	// From is the ID of the value that was current; To the new current one.
	From string `json:"from"`
	To   string `json:"to,omitempty"`
	// NewVersion is the store's version of the new value.
	NewVersion string `json:"new_version,omitempty"`
	// PreviousExpires is when From's grace ends (zero when revoked).
	PreviousExpires time.Time `json:"previous_expires,omitzero"`
	Revoked         bool      `json:"revoked,omitempty"`
	RotatedAt       time.Time `json:"rotated_at"`
	// Steps lists the steps this call performed (or would, for a dry run).
	Steps  []Step `json:"steps"`
	DryRun bool   `json:"dry_run,omitempty"`
	// Resumed / Aborted report what happened to an unfinished rotation.
	Resumed bool `json:"resumed,omitempty"`
	Aborted bool `json:"aborted,omitempty"`
}

// Generator returns a NewValue that generates a value with a gen recipe
// spec ("urlsafe", "hex:32").
func Generator(spec string) func(context.Context) (keyward.Secret, error) {
	return func(context.Context) (keyward.Secret, error) { return gen.GenerateSpec(spec) }
}

// Fixed returns a NewValue that yields v (a value read from stdin).
func Fixed(v keyward.Secret) func(context.Context) (keyward.Secret, error) {
	return func(context.Context) (keyward.Secret, error) { return v, nil }
}

type rotor struct {
	s     *keyward.Store
	d     driver.Store
	key   string
	o     Options
	now   time.Time
	res   *Result
	grace time.Duration

	recVer string // versions layout: the record's version when the state was read
}

func (r *rotor) step(s Step) {
	r.res.Steps = append(r.res.Steps, s)
	if r.o.Hook != nil && !r.o.DryRun {
		r.o.Hook(s)
	}
}

func opErr(key string, code keyward.Code, format string, args ...any) error {
	return keyward.Errorf(code, "rotate "+strconv.Quote(key), format, args...)
}

// ErrInProgress is wrapped by the error Rotate returns when the key has an
// unfinished rotation and neither Resume nor Abort was asked for.
var ErrInProgress = errors.New("another rotation of this key is in progress or was interrupted")

// ErrConflict is wrapped when a concurrent writer changed the key first.
var ErrConflict = errors.New("another writer changed the key during the rotation (check-and-set conflict)")

// wrapped is ErrConflict with the provider's error kept for errors.As, but
// only ErrConflict's text (the provider's says the same in its own words).
type wrapped struct{ head, cause error }

func (w *wrapped) Error() string   { return w.head.Error() }
func (w *wrapped) Unwrap() []error { return []error{w.head, w.cause} }

func conflict(key string, err error) error {
	if keyward.ErrorCode(err) == keyward.FailedPrecondition || keyward.ErrorCode(err) == keyward.AlreadyExists {
		return opErr(key, keyward.FailedPrecondition, "%w; nothing was lost: the winner's value is current", &wrapped{ErrConflict, err})
	}
	return err
}

// Rotate rotates key in s: see the package documentation.
func Rotate(ctx context.Context, s *keyward.Store, key string, opts *Options) (*Result, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	clock := o.Clock
	if clock == nil {
		clock = time.Now
	}
	r := &rotor{s: s, d: s.Driver(), key: key, o: o, now: clock().UTC(), grace: o.Grace}
	if r.grace <= 0 {
		r.grace = DefaultGrace
	}
	r.res = &Result{Key: key, Store: s.URL(), RotatedAt: r.now, DryRun: o.DryRun}
	layout := driver.LayoutOf(r.d, key)
	if layout == "" {
		return nil, opErr(key, keyward.Unimplemented, "the store is read-only; rotate where the secret is written")
	}
	r.res.Layout = string(layout)
	st, err := s.RotationState(ctx, key)
	if err != nil {
		return nil, err
	}
	r.res.From = st.Current.ID
	if st.InFlight() {
		if !o.Resume && !o.Abort {
			return nil, opErr(key, keyward.FailedPrecondition, "%w (rerun with --resume to complete it or --abort to roll it back)", ErrInProgress)
		}
		if o.DryRun {
			r.res.Resumed, r.res.Aborted = o.Resume, o.Abort
			return r.res, nil
		}
		switch layout {
		case driver.LayoutFields:
			err = r.resumeFields(ctx, st)
		case driver.LayoutVersions:
			err = r.resumeVersions(ctx, st)
		case driver.LayoutNative:
			err = r.resumeNative(ctx, st)
		}
		if err != nil {
			return nil, err
		}
		return r.res, nil
	}
	if o.Resume || o.Abort {
		return nil, opErr(key, keyward.FailedPrecondition, "there is no unfinished rotation to %s", map[bool]string{true: "resume", false: "abort"}[o.Resume])
	}
	if o.NewValue == nil {
		return nil, opErr(key, keyward.InvalidArgument, "no new value: give a recipe or a value")
	}
	nv, err := o.NewValue(ctx)
	if err != nil {
		return nil, err
	}
	if nv.IsZero() {
		return nil, opErr(key, keyward.InvalidArgument, "the new value is empty")
	}
	if nv.Equal(st.Current.Secret) {
		return nil, opErr(key, keyward.InvalidArgument, "the new value is the same as the current one")
	}
	if !o.RevokePrevious {
		r.res.PreviousExpires = r.now.Add(r.grace)
	}
	r.res.Revoked = o.RevokePrevious
	if layout == driver.LayoutVersions {
		// The record's version now, for the check-and-set of the intent:
		// read before anything can race with us.
		if r.recVer, err = r.recordVersion(ctx); err != nil {
			return nil, err
		}
	}
	r.step(StepPlanned)
	if o.DryRun {
		r.res.Steps = append(r.res.Steps, planSteps(layout, o.RevokePrevious)...)
		return r.res, nil
	}
	switch layout {
	case driver.LayoutVersionMeta:
		err = r.versionMeta(ctx, st, nv)
	case driver.LayoutVersions:
		err = r.versions(ctx, st, nv)
	case driver.LayoutNative:
		err = r.native(ctx, st, nv)
	default:
		err = r.fields(ctx, st, nv)
	}
	if err != nil {
		return nil, err
	}
	return r.res, nil
}

func planSteps(l driver.RotationLayout, revoke bool) []Step {
	var out []Step
	switch l {
	case driver.LayoutVersionMeta:
		out = []Step{StepPromoted}
	case driver.LayoutVersions:
		out = []Step{StepStaged, StepPromoted, StepRecorded}
	case driver.LayoutNative:
		out = []Step{StepStaged, StepPromoted}
	default:
		out = []Step{StepStaged, StepOldSaved, StepPromoted, StepRecorded, StepCleaned}
	}
	if revoke && l != driver.LayoutVersionMeta && l != driver.LayoutFields {
		out = append(out, StepRetired)
	}
	return out
}

// keptRefs are the previous refs the new current keeps: the old current
// (until now+grace) and older values still in grace; none when revoking.
func (r *rotor) keptRefs(st *keyward.RotationState) []driver.RingRef {
	if r.o.RevokePrevious {
		return nil
	}
	refs := []driver.RingRef{{ID: st.Current.ID, Expires: r.res.PreviousExpires}}
	for _, p := range st.Previous {
		if p.ID == st.Current.ID {
			continue
		}
		if len(refs) >= MaxPrevious {
			break // the oldest values leave the ring early
		}
		if p.Expires.IsZero() || r.now.Before(p.Expires) {
			refs = append(refs, driver.RingRef{ID: p.ID, Expires: p.Expires})
		}
	}
	return refs
}

// ---- version-meta layout (local, mem): one atomic write ----

func (r *rotor) versionMeta(ctx context.Context, st *keyward.RotationState, nv keyward.Secret) error {
	meta := map[string]string{driver.MetaRotated: r.now.Format(time.RFC3339Nano)}
	if refs := r.keptRefs(st); len(refs) > 0 {
		meta[driver.MetaRing] = driver.EncodeRing(refs)
	}
	v, err := r.s.Put(ctx, r.key, nv, &keyward.PutOptions{IfVersion: st.Current.Version.ID, Meta: meta, BestEffortCheck: true})
	if err != nil {
		return conflict(r.key, err)
	}
	r.res.To, r.res.NewVersion = v.ID, v.ID
	r.step(StepPromoted)
	return nil
}

// ---- versions layout (GCP, Azure, Vault keys): record + version ----

func (r *rotor) putRecord(ctx context.Context, rec *driver.RotationRecord, ifVersion string) error {
	_, err := r.putRecordV(ctx, rec, ifVersion)
	return err
}

func (r *rotor) putRecordV(ctx context.Context, rec *driver.RotationRecord, ifVersion string) (string, error) {
	v, err := r.s.Put(ctx, r.key+driver.SuffixRotation, keyward.NewSecret(rec.Encode()), &keyward.PutOptions{IfVersion: ifVersion, BestEffortCheck: true})
	return v.ID, err
}

func (r *rotor) recordVersion(ctx context.Context) (string, error) {
	v, err := r.s.GetValue(ctx, r.key+driver.SuffixRotation, &keyward.GetOptions{NoCache: true})
	if keyward.ErrorCode(err) == keyward.NotFound {
		return "0", nil
	}
	if err != nil {
		return "", err
	}
	return v.Version.ID, nil
}

func committed(rec *driver.RotationRecord) driver.RotationRecord {
	if rec == nil {
		return driver.RotationRecord{}
	}
	c := *rec
	c.Next, c.From = nil, ""
	return c
}

func (r *rotor) versions(ctx context.Context, st *keyward.RotationState, nv keyward.Secret) error {
	rec := committed(st.Record)
	rec.From = st.Current.Version.ID
	rec.Next = &driver.RotationRecord{RotatedAt: r.now, Previous: r.keptRefs(st)}
	// The intent, check-and-set on the record we read: of two concurrent
	// rotations only one records its intent.
	intent, err := r.putRecordV(ctx, &rec, r.recVer)
	if err != nil {
		return conflict(r.key, err)
	}
	r.step(StepStaged)
	v, err := r.s.Put(ctx, r.key, nv, &keyward.PutOptions{IfVersion: st.Current.Version.ID, BestEffortCheck: true})
	if err != nil {
		// Take our intent back (only if it is still ours) so the key is not
		// left in flight.
		if keyward.ErrorCode(err) == keyward.FailedPrecondition {
			c := committed(st.Record)
			_ = r.putRecord(context.WithoutCancel(ctx), &c, intent)
		}
		return conflict(r.key, err)
	}
	r.res.To, r.res.NewVersion = v.ID, v.ID
	r.step(StepPromoted)
	next := *rec.Next
	next.ID = v.ID
	if err := r.putRecord(ctx, &next, intent); err != nil {
		return err
	}
	r.step(StepRecorded)
	if r.o.RevokePrevious {
		return r.disableAll(ctx, st.Previous, st.Current)
	}
	return nil
}

func (r *rotor) disableAll(ctx context.Context, prev []keyward.RingKey, cur keyward.RingKey) error {
	dis, ok := r.d.(driver.VersionDisabler)
	if !ok || !driver.Has(r.d, driver.AbilityDisableVersion) {
		return nil
	}
	for _, p := range append([]keyward.RingKey{cur}, prev...) {
		if err := dis.DisableVersion(ctx, r.key, p.Version.ID); err != nil && r.code(err) != keyward.NotFound {
			return err
		}
	}
	r.step(StepRetired)
	return nil
}

func (r *rotor) code(err error) keyward.Code {
	if c := keyward.ErrorCode(err); c != keyward.Unknown {
		return c
	}
	return r.d.ErrorCode(err)
}

func (r *rotor) resumeVersions(ctx context.Context, st *keyward.RotationState) error {
	r.res.Resumed = true
	if st.Promoted {
		next := *st.Record.Next
		next.ID = st.Current.Version.ID
		r.res.To, r.res.NewVersion = next.ID, next.ID
		r.res.RotatedAt = next.RotatedAt
		if len(next.Previous) > 0 {
			r.res.PreviousExpires = next.Previous[0].Expires
		}
		if err := r.putRecord(ctx, &next, ""); err != nil {
			return err
		}
		r.step(StepRecorded)
		return nil
	}
	// The new value was never written: there is nothing to complete.
	r.res.Resumed, r.res.Aborted = false, true
	c := committed(st.Record)
	if err := r.putRecord(ctx, &c, ""); err != nil {
		return err
	}
	r.step(StepCleaned)
	return nil
}

// ---- fields layout (bundles, Kubernetes): KEY_PENDING, KEY_OLD, KEY_ROTATION ----

func nextCounter(id string) string {
	n, err := strconv.Atoi(id)
	if err != nil {
		return "1"
	}
	return strconv.Itoa(n + 1)
}

func (r *rotor) fields(ctx context.Context, st *keyward.RotationState, nv keyward.Secret) error {
	if _, err := r.s.Put(ctx, r.key+driver.SuffixPending, nv, &keyward.PutOptions{IfVersion: "0", BestEffortCheck: true}); err != nil {
		if keyward.ErrorCode(err) == keyward.FailedPrecondition || keyward.ErrorCode(err) == keyward.AlreadyExists {
			// There was no pending value when we read the state: another
			// rotation started in between.
			return opErr(r.key, keyward.FailedPrecondition, "%w; nothing was lost: the other rotation's value is current or about to be", ErrConflict)
		}
		return err
	}
	// The pending slot is ours. Check that nobody rotated the key between
	// our read and taking the slot, or the old value we would keep is stale.
	now, err := r.s.RotationState(ctx, r.key)
	if err == nil && (!now.Current.Secret.Equal(st.Current.Secret) || now.Current.ID != st.Current.ID) {
		err = opErr(r.key, keyward.FailedPrecondition, "%w", ErrConflict)
	}
	if err != nil {
		if derr := r.s.Delete(context.WithoutCancel(ctx), r.key+driver.SuffixPending); derr != nil {
			err = errors.Join(err, derr)
		}
		return err
	}
	r.step(StepStaged)
	rec := committed(st.Record)
	if rec.ID == "" {
		rec.ID = st.Current.ID
	}
	var prev []driver.RingRef
	if !r.o.RevokePrevious {
		prev = []driver.RingRef{{ID: st.Current.ID, Expires: r.res.PreviousExpires}}
	}
	rec.Next = &driver.RotationRecord{ID: nextCounter(st.Current.ID), RotatedAt: r.now, Previous: prev}
	return r.finishFields(ctx, st, &rec, false)
}

// finishFields runs the fields steps after staging: record the intent,
// save the old value, promote, commit, clean up. Each step is idempotent.
func (r *rotor) finishFields(ctx context.Context, st *keyward.RotationState, rec *driver.RotationRecord, promoted bool) error {
	next := rec.Next
	r.res.To = next.ID
	r.res.RotatedAt = next.RotatedAt
	if len(next.Previous) > 0 {
		r.res.PreviousExpires = next.Previous[0].Expires
	} else {
		r.res.Revoked = true
	}
	if !promoted {
		if err := r.putRecord(ctx, rec, ""); err != nil {
			return err
		}
		if len(next.Previous) > 0 {
			if _, err := r.s.Put(ctx, r.key+driver.SuffixOld, st.Current.Secret, nil); err != nil {
				return err
			}
		} else if err := r.s.Delete(ctx, r.key+driver.SuffixOld); err != nil && keyward.ErrorCode(err) != keyward.NotFound {
			return err
		}
		r.step(StepOldSaved)
		pend, err := r.s.GetValue(ctx, r.key+driver.SuffixPending, &keyward.GetOptions{NoCache: true})
		if err != nil {
			return err
		}
		v, err := r.s.Put(ctx, r.key, pend.Secret, nil)
		if err != nil {
			return err
		}
		r.res.NewVersion = v.ID
		r.step(StepPromoted)
	}
	c := *next
	if err := r.putRecord(ctx, &c, ""); err != nil {
		return err
	}
	r.step(StepRecorded)
	if err := r.s.Delete(ctx, r.key+driver.SuffixPending); err != nil && keyward.ErrorCode(err) != keyward.NotFound {
		return err
	}
	r.step(StepCleaned)
	return nil
}

func (r *rotor) resumeFields(ctx context.Context, st *keyward.RotationState) error {
	if st.Promoted {
		// The new value is current: the rotation can only be completed.
		r.res.Resumed = true
		if st.Record != nil && st.Record.Next != nil {
			rec := committed(st.Record)
			rec.Next = st.Record.Next
			return r.finishFields(ctx, st, &rec, true)
		}
		// The record is committed too: only the cleanup is left.
		if st.Record != nil {
			r.res.To, r.res.RotatedAt = st.Record.ID, st.Record.RotatedAt
			if len(st.Record.Previous) > 0 {
				r.res.PreviousExpires = st.Record.Previous[0].Expires
			}
		}
		if err := r.s.Delete(ctx, r.key+driver.SuffixPending); err != nil && keyward.ErrorCode(err) != keyward.NotFound {
			return err
		}
		r.step(StepCleaned)
		return nil
	}
	if r.o.Resume {
		r.res.Resumed = true
		rec := committed(st.Record)
		if st.Record != nil && st.Record.Next != nil {
			rec.Next = st.Record.Next
		} else {
			// Staged, but the intent was not recorded: grant the grace from now.
			if rec.ID == "" {
				rec.ID = st.Current.ID
			}
			rec.Next = &driver.RotationRecord{ID: nextCounter(st.Current.ID), RotatedAt: r.now,
				Previous: []driver.RingRef{{ID: st.Current.ID, Expires: r.now.Add(r.grace)}}}
		}
		return r.finishFields(ctx, st, &rec, false)
	}
	// Abort: the new value never became current.
	r.res.Aborted = true
	if st.Record != nil && st.Record.Next != nil {
		c := committed(st.Record)
		if err := r.putRecord(ctx, &c, ""); err != nil {
			return err
		}
	}
	if err := r.s.Delete(ctx, r.key+driver.SuffixPending); err != nil && keyward.ErrorCode(err) != keyward.NotFound {
		return err
	}
	r.step(StepCleaned)
	return nil
}

// ---- native layout (AWS per-key staging labels) ----

func (r *rotor) native(ctx context.Context, st *keyward.RotationState, nv keyward.Secret) error {
	rot := r.d.(driver.Rotator)
	v, err := rot.Stage(ctx, r.key, nv.Reveal(), &driver.StageRequest{IfCurrent: st.Current.Version.ID, PreviousExpires: r.res.PreviousExpires, RotatedAt: r.now})
	r.s.Purge()
	if err != nil {
		return conflict(r.key, wrapDriver(r.d, r.key, err))
	}
	r.step(StepStaged)
	return r.promoteNative(ctx, v.ID, st.Current.Version.ID)
}

func (r *rotor) promoteNative(ctx context.Context, pending, old string) error {
	rot := r.d.(driver.Rotator)
	v, err := rot.Promote(ctx, r.key, pending)
	r.s.Purge()
	if err != nil {
		return conflict(r.key, wrapDriver(r.d, r.key, err))
	}
	r.res.To, r.res.NewVersion = v.ID, v.ID
	r.step(StepPromoted)
	if r.o.RevokePrevious && old != "" {
		if err := rot.Retire(ctx, r.key, old); err != nil {
			return wrapDriver(r.d, r.key, err)
		}
		r.step(StepRetired)
	}
	return nil
}

func (r *rotor) resumeNative(ctx context.Context, st *keyward.RotationState) error {
	rot := r.d.(driver.Rotator)
	if r.o.Abort {
		r.res.Aborted = true
		err := rot.Discard(ctx, r.key, st.Pending.Version.ID)
		r.s.Purge()
		if err != nil {
			return wrapDriver(r.d, r.key, err)
		}
		r.step(StepCleaned)
		return nil
	}
	r.res.Resumed = true
	return r.promoteNative(ctx, st.Pending.Version.ID, st.Current.Version.ID)
}

// wrapDriver turns a raw driver error into a keyward error with its code.
func wrapDriver(d driver.Store, key string, err error) error {
	if err == nil {
		return nil
	}
	var ke *keyward.Error
	if errors.As(err, &ke) {
		return err
	}
	code := d.ErrorCode(err)
	if code == keyward.OK {
		code = keyward.Unknown
	}
	return keyward.NewError(code, "rotate "+strconv.Quote(key), err)
}

// Describe renders a one-line summary of a result for people. It never
// includes a value.
func Describe(r *Result) string {
	switch {
	case r.Aborted:
		return fmt.Sprintf("rolled back the unfinished rotation of %s; %s stays current", r.Key, r.From)
	case r.DryRun:
		if r.Revoked {
			return fmt.Sprintf("would rotate %s (%s layout): %s would be revoked now", r.Key, r.Layout, r.From)
		}
		return fmt.Sprintf("would rotate %s (%s layout): %s would stay valid until %s", r.Key, r.Layout, r.From, r.PreviousExpires.UTC().Format(time.RFC3339))
	}
	verb := "rotated"
	if r.Resumed {
		verb = "completed the rotation of"
	}
	s := fmt.Sprintf("%s %s: new version %s", verb, r.Key, firstNonEmpty(r.NewVersion, r.To))
	if r.Revoked {
		return s + "; previous values revoked now"
	}
	return s + fmt.Sprintf("; %s valid until %s", r.From, r.PreviousExpires.UTC().Format(time.RFC3339))
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
