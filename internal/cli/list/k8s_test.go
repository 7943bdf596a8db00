package list

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/provider/k8s"
)

// list on a Kubernetes Secret that does not exist says so, instead of
// showing an empty store; an existing empty Secret gets no such note.
func TestListMissingKubernetesSecret(t *testing.T) {
	api := fake.NewClientset(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "empty"}})
	for _, tc := range []struct {
		name string
		note bool
	}{{"absent", true}, {"empty", false}} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := k8s.OpenStore("prod", tc.name, &k8s.Options{Client: api.CoreV1()}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ios, out, _, errOut := iostreams.Test()
			err = run(context.Background(), &Options{StoreDeps: cmdutil.StoreDeps{IO: ios, OpenStore: func(context.Context) (*keyward.Store, error) { return s, nil }}})
			if err != nil {
				t.Fatal(err)
			}
			if out.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", out.String())
			}
			want := "keyward: note: " + s.URL() + " does not exist (yet); 'keyward set KEY' creates it\n"
			if got := errOut.String(); tc.note && got != want || !tc.note && got != "" {
				t.Errorf("stderr = %q", got)
			}
		})
	}
}
