package driver

import (
	"context"
	"time"
)

// ContextErr is ctx.Err(), except that it already answers
// context.DeadlineExceeded once ctx's deadline has passed by the clock, even
// before the context's own timer has fired and set ctx.Err(). A transport
// often learns of the deadline first: gRPC sends it to the server as
// grpc-timeout and the server ends the stream (RST_STREAM CANCEL, or an
// UNAVAILABLE/INTERNAL status) a moment before ctx.Done() closes on the
// client. A driver classifying an RPC error asks ContextErr first so such an
// error is the caller's DeadlineExceeded, not a server outage.
func ContextErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}
