//go:build !keyward_omit_awssm

package awssm_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/testing/awsserver"
	"github.com/keyward/keyward/provider/awssm"
	"github.com/keyward/keyward/rotation"
	"github.com/keyward/keyward/rotation/rotationtest"
)

func awsRotationStore(mode awssm.Mode) rotationtest.NewStore {
	return func(t *testing.T, clock func() time.Time) *keyward.Store {
		srv := awsserver.New(t)
		s, err := awssm.OpenStore("dharmamind/production", &awssm.Options{Mode: mode, Client: testClient(srv.URL)},
			&keyward.StoreOptions{TTL: -1, Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

// TestRotation: bundles keep the guide's <key>_old field; per-key secrets
// use the staging labels. The kill -9 crash test for both is
// rotation.TestRotateKilledAtEveryStep.
func TestRotation(t *testing.T) {
	t.Run("bundle", func(t *testing.T) {
		rotationtest.Run(t, awsRotationStore(awssm.ModeBundle), rotationtest.Caps{AtomicCAS: true})
	})
	t.Run("keys", func(t *testing.T) {
		rotationtest.Run(t, awsRotationStore(awssm.ModeKeys), rotationtest.Caps{AtomicCAS: true})
	})
}

// TestRotationStagingLabels: AWSPENDING while staged, then AWSCURRENT on
// the new version and AWSPREVIOUS on the old, as a rotation Lambda leaves
// them; --revoke-previous takes AWSPREVIOUS away.
func TestRotationStagingLabels(t *testing.T) {
	ctx := context.Background()
	srv := awsserver.New(t)
	s, err := awssm.OpenStore("dharmamind/production", &awssm.Options{Mode: awssm.ModeKeys, Client: testClient(srv.URL)}, &keyward.StoreOptions{TTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const name = "dharmamind/production/JWT_SECRET_KEY"
	if _, err := s.Put(ctx, "JWT_SECRET_KEY", keyward.NewSecretString("aws-labels-canary-old-000000000000000"), nil); err != nil {
		t.Fatal(err)
	}
	oldID := srv.Stages(name)["AWSCURRENT"]
	var staged map[string]string
	res, err := rotation.Rotate(ctx, s, "JWT_SECRET_KEY", &rotation.Options{Grace: time.Hour, NewValue: rotation.Generator("urlsafe"),
		Hook: func(st rotation.Step) {
			if st == rotation.StepStaged {
				staged = srv.Stages(name)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if staged["AWSCURRENT"] != oldID || staged["AWSPENDING"] == "" || staged["AWSPENDING"] == oldID {
		t.Fatalf("while staged: labels %v, want AWSPENDING on a new version and AWSCURRENT still on %s", staged, oldID)
	}
	after := srv.Stages(name)
	if after["AWSCURRENT"] != res.NewVersion || after["AWSPREVIOUS"] != oldID {
		t.Fatalf("after promotion: labels %v, want AWSCURRENT=%s AWSPREVIOUS=%s", after, res.NewVersion, oldID)
	}
	if _, ok := after["AWSPENDING"]; ok {
		t.Fatalf("AWSPENDING left behind: %v", after)
	}
	if cur, _ := srv.GetCurrent(name); cur == "aws-labels-canary-old-000000000000000" {
		t.Fatal("GetSecretValue still returns the old value")
	}
	if _, err := rotation.Rotate(ctx, s, "JWT_SECRET_KEY", &rotation.Options{RevokePrevious: true, NewValue: rotation.Generator("urlsafe")}); err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.Stages(name)["AWSPREVIOUS"]; ok {
		t.Fatalf("revoke left AWSPREVIOUS: %v", srv.Stages(name))
	}
}

// TestRotationGuideBundle: a bundle written by the guide's
// rotate_jwt_secret (jwt_secret_key + jwt_secret_key_old, nothing else) is
// read as a ring; keyward's own rotation writes the guide's fields plus
// jwt_secret_key_rotation, and the previous value survives later writes of
// other keys in the bundle.
func TestRotationGuideBundle(t *testing.T) {
	ctx := context.Background()
	srv := awsserver.New(t)
	const (
		guideOld = "guide-script-canary-old-0000000000000"
		guideNew = "guide-script-canary-new-1111111111111"
	)
	srv.PutString("dharmamind/production", `{"jwt_secret_key":"`+guideNew+`","jwt_secret_key_old":"`+guideOld+`","database_url":"postgresql://db"}`)
	s := bundleStore(t, srv, &keyward.StoreOptions{TTL: -1})
	r, err := s.KeyRing(ctx, "JWT_SECRET_KEY")
	if err != nil {
		t.Fatal(err)
	}
	if r.Current.Secret.RevealString() != guideNew || len(r.Previous) != 1 || r.Previous[0].Secret.RevealString() != guideOld {
		t.Fatalf("guide bundle ring: %d previous", len(r.Previous))
	}
	if want := r.Previous[0].Version.Created.Add(keyward.DefaultGuideGrace); !r.Previous[0].Expires.Equal(want) {
		t.Fatalf("guide _old expiry = %v, want the bundle version's time + 24h (%v)", r.Previous[0].Expires, want)
	}

	res, err := rotation.Rotate(ctx, s, "JWT_SECRET_KEY", &rotation.Options{Grace: 24 * time.Hour, NewValue: rotation.Generator("urlsafe")})
	if err != nil {
		t.Fatal(err)
	}
	// Later writes of other keys keep the ring.
	for i := 0; i < 3; i++ {
		if _, err := s.Put(ctx, "DATABASE_URL", keyward.NewSecretString("postgresql://db/"+string(rune('a'+i))), nil); err != nil {
			t.Fatal(err)
		}
	}
	raw, _ := srv.GetCurrent("dharmamind/production")
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &fields); err != nil {
		t.Fatal("bundle is not JSON")
	}
	for _, f := range []string{"jwt_secret_key", "jwt_secret_key_old", "jwt_secret_key_rotation", "database_url"} {
		if _, ok := fields[f]; !ok {
			t.Errorf("bundle has no field %s", f)
		}
	}
	if _, ok := fields["jwt_secret_key_pending"]; ok {
		t.Error("bundle kept jwt_secret_key_pending")
	}
	r, err = s.KeyRing(ctx, "JWT_SECRET_KEY")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Previous) != 1 || r.Previous[0].Secret.RevealString() != guideNew || !r.Previous[0].Expires.Equal(res.PreviousExpires) {
		t.Fatalf("after rotation and other writes: %d previous, want the guide value expiring at %v", len(r.Previous), res.PreviousExpires)
	}
}
