package driver_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyward/keyward/driver"
)

// deadlineOnly reports a deadline in the past while Err is still nil: the
// moment between the deadline passing and the context's timer firing.
type deadlineOnly struct {
	context.Context
	dl time.Time
}

func (c deadlineOnly) Deadline() (time.Time, bool) { return c.dl, true }

func TestContextErr(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"live, no deadline", context.Background(), nil},
		{"live, deadline ahead", deadlineOnly{context.Background(), time.Now().Add(time.Hour)}, nil},
		{"deadline passed, timer not yet fired", deadlineOnly{context.Background(), time.Now().Add(-time.Millisecond)}, context.DeadlineExceeded},
		{"canceled", canceled, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := driver.ContextErr(tc.ctx); !errors.Is(got, tc.want) || (tc.want == nil) != (got == nil) {
				t.Fatalf("ContextErr = %v, want %v", got, tc.want)
			}
		})
	}
}
