package keyward

import (
	"context"
	"errors"
)

// write is one provider write, run the way the Store runs every write (Put,
// Delete and the rotation steps of rotationbridge.go):
//
//   - the closed check, then an empty key refused when needKey;
//   - Unimplemented, audited, when the provider lacks the ability (!able);
//   - with AuditRequired, the intent record (action+".begin") written
//     before the call, failing closed;
//   - the call bounded by the store's Timeout (never retried: a write may
//     have landed before its error);
//   - key's cache entries invalidated whatever the outcome;
//   - the error wrapped once (settled against the call's own deadline) and
//     audited with its code, or the success audited with the version and
//     the value written (a Secret: the audit sink only derives an HMAC).
type write struct {
	op      string // Error.Op: "put", "delete", "rotate", "retire"
	action  string // the audit action; "" is op
	key     string
	needKey bool
	able    bool
	value   Secret // what is written, for the audit record (zero if nothing)
}

func (s *Store) write(ctx context.Context, w write, call func(context.Context) (Version, error)) (Version, error) {
	action := w.action
	if action == "" {
		action = w.op
	}
	if err := s.checkOpen(w.op, w.key); err != nil {
		return Version{}, err
	}
	if w.needKey && w.key == "" {
		return Version{}, s.failAs(ctx, w.op, action, w.key, "", &Error{Code: InvalidArgument, Op: w.op, Store: s.opts.URL, err: errors.New("empty key")})
	}
	if !w.able {
		return Version{}, s.failAs(ctx, w.op, action, w.key, "", &Error{Code: Unimplemented, Op: w.op, Key: w.key, Store: s.opts.URL,
			err: errors.New("this provider cannot " + w.op)})
	}
	// Fail closed before the write, not after it.
	if s.opts.AuditRequired {
		if err := s.audit(ctx, &Event{Action: action + ".begin", Key: w.key}); err != nil {
			return Version{}, err
		}
	}
	cctx, cancel := s.withTimeout(ctx)
	defer cancel()
	ver, err := call(cctx)
	s.invalidate(w.key)
	if err != nil {
		return Version{}, s.failAs(ctx, w.op, action, w.key, "", s.settle(cctx, err))
	}
	_ = s.audit(ctx, &Event{Action: action, Key: w.key, Version: ver.ID, Value: w.value})
	return ver, nil
}

// failAs is fail with an audit action other than the operation's name.
func (s *Store) failAs(ctx context.Context, op, action, key, version string, err error) error {
	err = s.wrap(op, key, err)
	_ = s.audit(ctx, &Event{Action: action, Key: key, Version: version, Code: ErrorCode(err)})
	return err
}
