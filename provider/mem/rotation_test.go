package mem_test

import (
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/provider/mem"
	"github.com/keyward/keyward/rotation/rotationtest"
)

func TestRotation(t *testing.T) {
	rotationtest.Run(t, func(t *testing.T, clock func() time.Time) *keyward.Store {
		s := mem.NewBackend().OpenStore(&keyward.StoreOptions{TTL: -1, Clock: clock})
		t.Cleanup(func() { s.Close() })
		return s
	}, rotationtest.Caps{AtomicCAS: true})
}
