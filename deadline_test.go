package keyward_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
)

// outageDriver fails every call with an error its ErrorCode calls an outage,
// as a gRPC or HTTP transport does when the server ends a stream because the
// caller's deadline (sent along as grpc-timeout) passed.
type outageDriver struct{ calls int }

var errReset = errors.New("rpc error: code = Unavailable desc = stream terminated by RST_STREAM with error code: CANCEL")

func (d *outageDriver) Get(context.Context, string, string) (*driver.Value, error) {
	d.calls++
	return nil, errReset
}
func (d *outageDriver) List(context.Context) ([]driver.KeyInfo, error) {
	d.calls++
	return nil, errReset
}
func (d *outageDriver) Put(context.Context, string, []byte, *driver.PutOptions) (driver.Version, error) {
	d.calls++
	return driver.Version{}, errReset
}
func (d *outageDriver) ErrorCode(err error) driver.Code {
	if errors.Is(err, errReset) {
		return driver.Unavailable
	}
	return driver.Unknown
}
func (d *outageDriver) Close() error { return nil }

// pastDeadline is the moment after a context's deadline and before its
// timer fires: Deadline is in the past, Err is still nil.
type pastDeadline struct{ context.Context }

func (pastDeadline) Deadline() (time.Time, bool) { return time.Now().Add(-time.Millisecond), true }

// An outage-looking error that arrives once the caller's deadline has passed
// is the caller's DeadlineExceeded, and is not retried, even before the
// context's own timer has fired (gcpsm's hang test flaked on this under load).
func TestDeadlinePassedBeatsTheTransportsCode(t *testing.T) {
	ctx := pastDeadline{context.Background()}
	for _, tc := range []struct {
		name string
		call func(*keyward.Store) error
	}{
		{"list", func(s *keyward.Store) error { _, err := s.List(ctx); return err }},
		{"put", func(s *keyward.Store) error {
			_, err := s.Put(ctx, "K", keyward.NewSecretString("v"), nil)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &outageDriver{}
			s := keyward.NewStore(d, &keyward.StoreOptions{Retries: 3, RetryBase: time.Millisecond})
			err := tc.call(s)
			if got := keyward.ErrorCode(err); got != keyward.DeadlineExceeded {
				t.Fatalf("code %v (%v), want DeadlineExceeded", got, err)
			}
			if d.calls != 1 {
				t.Fatalf("%d driver calls, want 1 (no retry after the deadline)", d.calls)
			}
		})
	}
	// With the deadline ahead the same error is an outage, retried.
	d := &outageDriver{}
	s := keyward.NewStore(d, &keyward.StoreOptions{Retries: 2, RetryBase: time.Millisecond})
	if _, err := s.List(context.Background()); keyward.ErrorCode(err) != keyward.Unavailable || d.calls != 3 {
		t.Fatalf("live context: %v after %d calls, want Unavailable after 3", err, d.calls)
	}
}
