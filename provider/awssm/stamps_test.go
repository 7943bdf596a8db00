//go:build !keyward_omit_awssm

package awssm_test

import (
	"testing"

	"github.com/keyward/keyward/internal/testing/awsserver"
	"github.com/keyward/keyward/internal/testing/providertest"
	"github.com/keyward/keyward/provider/awssm"
)

// TestStamps: DescribeSecret stamps change with a write (a bundle's with
// any key's, mode=keys only with that key's) and not without one.
func TestStamps(t *testing.T) {
	for _, mode := range []awssm.Mode{awssm.ModeBundle, awssm.ModeKeys} {
		t.Run(string(mode), func(t *testing.T) {
			srv := awsserver.New(t)
			d, err := awssm.NewDriver("dharmamind/production", &awssm.Options{Mode: mode, Client: testClient(srv.URL)})
			if err != nil {
				t.Fatal(err)
			}
			providertest.Stamps(t, d, mode == awssm.ModeKeys)
		})
	}
}
