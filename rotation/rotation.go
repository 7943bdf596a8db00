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
const MaxPrevious = keyward.MaxRingPrevious

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
	if lostRace(err) {
		return opErr(key, keyward.FailedPrecondition, "%w; nothing was lost: the winner's value is current", &wrapped{ErrConflict, err})
	}
	return err
}

// lostRace reports whether a check-and-set write failed because another
// writer got there first. The Store's own refusals carry the same code —
// a closed store, an audit record that could not be written while audit is
// required — and are not races.
func lostRace(err error) bool {
	if errors.Is(err, keyward.ErrClosed) || errors.Is(err, keyward.ErrAuditRequired) {
		return false
	}
	c := keyward.ErrorCode(err)
	return c == keyward.FailedPrecondition || c == keyward.AlreadyExists
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
	r := &rotor{s: s, key: key, o: o, now: clock().UTC(), grace: o.Grace}
	if r.grace <= 0 {
		r.grace = DefaultGrace
	}
	r.res = &Result{Key: key, Store: s.URL(), RotatedAt: r.now, DryRun: o.DryRun}
	name := s.RingLayout(key)
	if name == "" {
		return nil, opErr(key, keyward.Unimplemented, "the store is read-only; rotate where the secret is written")
	}
	r.res.Layout = string(name)
	lay := layoutOf(name)
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
		if err := lay.resume(ctx, r, st); err != nil {
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
	if err := lay.prepare(ctx, r); err != nil {
		return nil, err
	}
	r.step(StepPlanned)
	if o.DryRun {
		r.res.Steps = append(r.res.Steps, lay.plan(o.RevokePrevious)...)
		return r.res, nil
	}
	if err := lay.rotate(ctx, r, st, nv); err != nil {
		return nil, err
	}
	return r.res, nil
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

// putRecord writes key's rotation record (KEY_ROTATION), check-and-set on
// ifVersion when given, and returns the record's new version.
func putRecord(ctx context.Context, s *keyward.Store, key string, rec *keyward.RotationRecord, ifVersion string) (string, error) {
	v, err := s.Put(ctx, key+driver.SuffixRotation, keyward.NewSecret(rec.Encode()), &keyward.PutOptions{IfVersion: ifVersion, BestEffortCheck: true})
	return v.ID, err
}

func (r *rotor) putRecord(ctx context.Context, rec *keyward.RotationRecord, ifVersion string) error {
	_, err := putRecord(ctx, r.s, r.key, rec, ifVersion)
	return err
}

// committed is rec without its in-flight parts.
func committed(rec *keyward.RotationRecord) keyward.RotationRecord {
	if rec == nil {
		return keyward.RotationRecord{}
	}
	c := *rec
	c.Next, c.From = nil, ""
	return c
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
