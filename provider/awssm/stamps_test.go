//go:build !keyward_omit_awssm

package awssm_test

import (
	"context"
	"testing"

	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/internal/testing/awsserver"
	"github.com/keyward/keyward/provider/awssm"
)

// TestStamps: DescribeSecret stamps change with a write (a bundle's with
// any key's, mode=keys only with that key's) and not without one.
func TestStamps(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []awssm.Mode{awssm.ModeBundle, awssm.ModeKeys} {
		t.Run(string(mode), func(t *testing.T) {
			srv := awsserver.New(t)
			d, err := awssm.NewDriver("dharmamind/production", &awssm.Options{Mode: mode, Client: testClient(srv.URL)})
			if err != nil {
				t.Fatal(err)
			}
			cs := d.(driver.ChangeStamper)
			put := func(k string) {
				if _, err := d.(driver.Writer).Put(ctx, k, []byte("stamps-canary-"+k), nil); err != nil {
					t.Fatal(err)
				}
			}
			stamps := func() map[string]string {
				st, err := cs.Stamps(ctx, []string{"A", "B", "MISSING"})
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := st["MISSING"]; ok && mode == awssm.ModeKeys {
					t.Fatal("a missing key has a stamp")
				}
				return st
			}
			if st := stamps(); len(st) != 0 {
				t.Fatalf("no secret yet: %d stamps", len(st))
			}
			put("A")
			put("B")
			s1 := stamps()
			put("B")
			s2 := stamps()
			if s1["B"] == s2["B"] {
				t.Fatal("B's stamp did not change with a write to B")
			}
			if (s1["A"] == s2["A"]) != (mode == awssm.ModeKeys) {
				t.Fatalf("%s: A's stamp changed = %v with a write to B", mode, s1["A"] != s2["A"])
			}
			if s3 := stamps(); s3["A"] != s2["A"] || s3["B"] != s2["B"] {
				t.Fatal("stamps changed without a write")
			}
		})
	}
}
