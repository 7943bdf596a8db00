package jwtkeys_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/provider/mem"
	"github.com/keyward/keyward/rotation"
	"github.com/keyward/keyward/rotation/jwtkeys"
)

func seeded(t *testing.T, opts *keyward.StoreOptions) *keyward.Store {
	t.Helper()
	s := mem.NewBackend().OpenStore(opts)
	t.Cleanup(func() { s.Close() })
	if _, err := s.Put(context.Background(), "JWT_SECRET_KEY", keyward.NewSecretString("initial-key-0123456789abcdef0123456789"), nil); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestChaos: signers and verifiers, each with its own Keys (as separate
// service instances would have), sign and verify tokens at random moments
// while a rotation runs every few milliseconds. Inside the grace window no
// verification may fail.
func TestChaos(t *testing.T) {
	s := seeded(t, &keyward.StoreOptions{TTL: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	var rotations atomic.Int64
	var signed, verified, failed atomic.Int64
	// Run until enough has happened (not for a fixed time: the machine may be slow).
	go func() {
		for ctx.Err() == nil {
			if rotations.Load() >= 100 && verified.Load() >= 500 {
				cancel()
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the rotator
		defer wg.Done()
		for ctx.Err() == nil {
			_, err := rotation.Rotate(context.Background(), s, "JWT_SECRET_KEY", &rotation.Options{
				Grace: time.Minute, NewValue: rotation.Generator("urlsafe"),
			})
			if err != nil {
				t.Errorf("rotate: %v", err)
				return
			}
			rotations.Add(1)
			time.Sleep(time.Duration(1+rand.IntN(3)) * time.Millisecond)
		}
	}()

	tokens := make(chan string, 256)
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func(i int) { // a signing instance with a short ring TTL
			defer wg.Done()
			keys := jwtkeys.New(s, "JWT_SECRET_KEY", &jwtkeys.Options{TTL: time.Duration(1+i) * time.Millisecond})
			for n := 0; ctx.Err() == nil; n++ {
				tok, err := keys.Sign(jwt.MapClaims{"sub": fmt.Sprintf("signer-%d-%d", i, n)})
				if err != nil {
					t.Errorf("sign: %v", err)
					return
				}
				signed.Add(1)
				select {
				case tokens <- tok:
				case <-ctx.Done():
					return
				}
				time.Sleep(time.Duration(rand.IntN(500)) * time.Microsecond)
			}
		}(i)
	}
	var vwg sync.WaitGroup
	for i := 0; i < 3; i++ {
		vwg.Add(1)
		go func(i int) { // a verifying instance with a longer ring TTL: often stale
			defer vwg.Done()
			keys := jwtkeys.New(s, "JWT_SECRET_KEY", &jwtkeys.Options{TTL: time.Duration(5+10*i) * time.Millisecond, MinRefresh: -1})
			for tok := range tokens {
				if _, err := keys.Parse(tok); err != nil {
					failed.Add(1)
					t.Errorf("verification failed inside the grace window: %v", err)
					continue
				}
				verified.Add(1)
			}
		}(i)
	}
	wg.Wait()
	close(tokens)
	vwg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d verifications failed", failed.Load(), signed.Load())
	}
	if rotations.Load() < 100 || verified.Load() < 500 {
		t.Fatalf("too little happened to mean anything: %d rotations, %d verified", rotations.Load(), verified.Load())
	}
	t.Logf("%d rotations, %d tokens signed, %d verified, 0 failures", rotations.Load(), signed.Load(), verified.Load())
}

func TestRetiredKeyFailsAfterGrace(t *testing.T) {
	clock := rotation.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := seeded(t, &keyward.StoreOptions{TTL: -1, Clock: clock.Now})
	keys := jwtkeys.New(s, "JWT_SECRET_KEY", &jwtkeys.Options{Clock: clock.Now, TTL: time.Hour})
	old, err := keys.Sign(jwt.MapClaims{"sub": "a"})
	if err != nil {
		t.Fatal(err)
	}
	noKid := signWithoutKid(t, s)
	if _, err := rotation.Rotate(context.Background(), s, "JWT_SECRET_KEY", &rotation.Options{
		Grace: 24 * time.Hour, NewValue: rotation.Generator("urlsafe"), Clock: clock.Now,
	}); err != nil {
		t.Fatal(err)
	}
	// A verifier that has never seen the new key: the old token verifies.
	fresh := jwtkeys.New(s, "JWT_SECRET_KEY", &jwtkeys.Options{Clock: clock.Now, TTL: time.Hour})
	for name, tok := range map[string]string{"kid": old, "no kid": noKid} {
		if _, err := fresh.Parse(tok); err != nil {
			t.Fatalf("%s: old token inside the grace window: %v", name, err)
		}
	}
	// The stale Keys (ring cached before the rotation) verifies a token
	// signed with the new key by refreshing on the unknown kid.
	newTok, err := fresh.Sign(jwt.MapClaims{"sub": "b"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Parse(newTok); err != nil {
		t.Fatalf("stale verifier rejected the new key: %v", err)
	}
	// 24h later the old key is out, even for a verifier whose cached ring
	// still lists it.
	clock.Advance(24*time.Hour + time.Second)
	for name, k := range map[string]*jwtkeys.Keys{"cached": fresh, "stale": keys} {
		if _, err := k.Parse(old); !errors.Is(err, jwtkeys.ErrUnknownKey) {
			t.Fatalf("%s verifier: token signed with the retired key: %v, want ErrUnknownKey", name, err)
		}
		if _, err := k.Parse(noKid); err == nil {
			t.Fatalf("%s verifier: kid-less token signed with the retired key verified", name)
		}
		if _, err := k.Parse(newTok); err != nil {
			t.Fatalf("%s verifier: current token: %v", name, err)
		}
	}
}

func TestRevokedKeyFailsAtOnce(t *testing.T) {
	s := seeded(t, &keyward.StoreOptions{TTL: -1})
	keys := jwtkeys.New(s, "JWT_SECRET_KEY", &jwtkeys.Options{TTL: time.Nanosecond})
	old, err := keys.Sign(jwt.MapClaims{"sub": "a"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rotation.Rotate(context.Background(), s, "JWT_SECRET_KEY", &rotation.Options{
		RevokePrevious: true, NewValue: rotation.Generator("urlsafe"),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Parse(old); err == nil {
		t.Fatal("a token signed with a revoked key verified")
	}
}

func TestRejectsOtherAlgorithmsAndForgedKid(t *testing.T) {
	s := seeded(t, &keyward.StoreOptions{TTL: -1})
	keys := jwtkeys.New(s, "JWT_SECRET_KEY", nil)
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if _, err := jwt.Parse(none, keys.Keyfunc); err == nil {
		t.Fatal("alg none accepted")
	}
	forged := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{})
	forged.Header["kid"] = "999"
	tok, _ := forged.SignedString([]byte("attacker-key"))
	if _, err := keys.Parse(tok); !errors.Is(err, jwtkeys.ErrUnknownKey) {
		t.Fatalf("unknown kid: %v, want ErrUnknownKey", err)
	}
	// A second made-up kid right away does not reach the store again.
	forged.Header["kid"] = "998"
	tok, _ = forged.SignedString([]byte("attacker-key"))
	if _, err := keys.Parse(tok); !errors.Is(err, jwtkeys.ErrUnknownKey) {
		t.Fatalf("second unknown kid: %v", err)
	}
}

func signWithoutKid(t *testing.T, s *keyward.Store) string {
	t.Helper()
	v, err := s.Get(context.Background(), "JWT_SECRET_KEY")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "x"}).SignedString(v.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
