//go:build !keyward_omit_k8s

package k8s

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/export"
	"github.com/keyward/keyward/internal/k8ssync"
)

// Sync (keyward sync kubernetes) writes a Secret's whole content through
// the API — never through a manifest that kubectl would copy into the
// last-applied-configuration annotation — and rolls the workloads that use
// it by setting a pod-template annotation.

// Annotations and labels sync manages.
const (
	// GenerationAnnotation on the Secret counts the content changes sync made.
	GenerationAnnotation = "keyward.dev/generation"
	// RolloutAnnotationPrefix + the Secret's name is the pod-template
	// annotation sync sets to the Secret's generation: it changes exactly
	// when a value changes, and is derived from no value.
	RolloutAnnotationPrefix = "secret.keyward.dev/"
	// ManagedByLabel marks Secrets sync wrote.
	ManagedByLabel = "app.kubernetes.io/managed-by"
)

// Workload names a Deployment, StatefulSet or DaemonSet to roll.
type Workload = k8ssync.Workload

// ParseWorkload parses KIND/NAME as kubectl writes it (deployment/api,
// sts/db, daemonset.apps/agent).
func ParseWorkload(s string) (Workload, error) { return k8ssync.ParseWorkload(s) }

var dnsSubdomain = k8ssync.DNSSubdomain

// SyncOptions configures Sync.
type SyncOptions struct {
	Namespace string // "" is the kubeconfig's (or the pod's) namespace
	Name      string // the Secret
	Labels    map[string]string
	Rollouts  []Workload

	// Secrets and Apps, if set, are used instead of clients built from the
	// kubeconfig (tests pass a fake clientset's CoreV1() and AppsV1()).
	Secrets corev1client.SecretsGetter
	Apps    appsv1client.AppsV1Interface
	// Context and Kubeconfig select the kubeconfig as for k8s:// URLs.
	Context, Kubeconfig string
}

// SyncResult says what Sync did.
type SyncResult = k8ssync.Result

// RolloutAnnotation is the pod-template annotation for Secret name.
func RolloutAnnotation(name string) string {
	if len(name) <= 63 {
		return RolloutAnnotationPrefix + name
	}
	sum := sha256.Sum256([]byte(name))
	return RolloutAnnotationPrefix + name[:50] + "-" + hex.EncodeToString(sum[:6])
}

func (o *SyncOptions) clients() (corev1client.SecretsGetter, appsv1client.AppsV1Interface, string, error) {
	if o.Secrets != nil {
		ns := o.Namespace
		if ns == "" {
			ns = "default"
		}
		return o.Secrets, o.Apps, ns, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if o.Kubeconfig != "" {
		rules.ExplicitPath = o.Kubeconfig
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: o.Context})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, nil, "", &configError{err}
	}
	ns := o.Namespace
	if ns == "" {
		if ns, _, err = cc.Namespace(); err != nil {
			return nil, nil, "", &configError{err}
		}
	}
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		return nil, nil, "", &configError{err}
	}
	apps, err := appsv1client.NewForConfig(cfg)
	if err != nil {
		return nil, nil, "", &configError{err}
	}
	return core, apps, ns, nil
}

// Sync makes Secret o.Name hold exactly es (writing it only when its
// content checksum differs), then sets the rollout annotation on every
// workload in o.Rollouts whose pod template does not carry the Secret's
// current generation yet — so pods roll exactly when a value changed, and a
// rollout that failed last time is retried. Errors name the Secret or
// workload, never a value.
func Sync(ctx context.Context, es []export.Entry, o *SyncOptions) (*SyncResult, error) {
	if !dnsSubdomain.MatchString(o.Name) {
		return nil, keyward.Errorf(keyward.InvalidArgument, "sync kubernetes", "--secret %q is not a valid Secret name", o.Name)
	}
	data := make(map[string][]byte, len(es))
	for _, e := range es {
		if !keyRE.MatchString(e.Key) {
			return nil, keyward.Errorf(keyward.InvalidArgument, "sync kubernetes", "%q is not a valid Secret key (letters, digits, '-', '_', '.')", e.Key)
		}
		data[e.Key] = append([]byte(nil), e.Value.Reveal()...)
	}
	secrets, apps, ns, err := o.clients()
	if err != nil {
		return nil, syncErr("load the Kubernetes configuration", err)
	}
	if len(o.Rollouts) > 0 && apps == nil {
		return nil, keyward.Errorf(keyward.InvalidArgument, "sync kubernetes", "no apps/v1 client for --rollout")
	}
	sum := export.Checksum(es)
	res := &SyncResult{Namespace: ns, Secret: o.Name, Checksum: sum, RolledOut: []string{}}
	api := secrets.Secrets(ns)
	for attempt := 0; ; attempt++ {
		cur, err := api.Get(ctx, o.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			s := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: ns, Labels: map[string]string{ManagedByLabel: "keyward"},
					Annotations: map[string]string{export.ChecksumAnnotation: sum, GenerationAnnotation: "1"}},
				Type: corev1.SecretTypeOpaque, Data: data,
			}
			for k, v := range o.Labels {
				s.Labels[k] = v
			}
			if _, err = api.Create(ctx, s, metav1.CreateOptions{}); err != nil {
				if apierrors.IsAlreadyExists(err) && attempt < maxWriteAttempts {
					continue
				}
				return nil, syncErr("create Secret "+ns+"/"+o.Name, err)
			}
			res.Changed, res.Created, res.Revision = true, true, "1"
		case err != nil:
			return nil, syncErr("read Secret "+ns+"/"+o.Name, err)
		default:
			gen, _ := strconv.Atoi(cur.Annotations[GenerationAnnotation])
			if secretChecksum(cur) == sum && gen > 0 && labelsHave(cur.Labels, o.Labels) {
				res.Revision = strconv.Itoa(gen)
				break
			}
			s := cur.DeepCopy()
			if secretChecksum(cur) != sum || gen == 0 {
				gen++
				res.Changed = true
			}
			s.Data, s.StringData = data, nil
			if s.Annotations == nil {
				s.Annotations = map[string]string{}
			}
			s.Annotations[export.ChecksumAnnotation] = sum
			s.Annotations[GenerationAnnotation] = strconv.Itoa(gen)
			if s.Labels == nil {
				s.Labels = map[string]string{}
			}
			for k, v := range o.Labels {
				s.Labels[k] = v
			}
			// The resourceVersion read makes this a check-and-set.
			if _, err = api.Update(ctx, s, metav1.UpdateOptions{}); err != nil {
				if apierrors.IsConflict(err) && attempt < maxWriteAttempts {
					if jerr := jitter(ctx, attempt); jerr != nil {
						return nil, syncErr("update Secret "+ns+"/"+o.Name, jerr)
					}
					continue
				}
				return nil, syncErr("update Secret "+ns+"/"+o.Name, err)
			}
			res.Revision = strconv.Itoa(gen)
		}
		break
	}
	ann := RolloutAnnotation(o.Name)
	for _, w := range o.Rollouts {
		rolled, err := rollout(ctx, apps, ns, w, ann, res.Revision)
		if err != nil {
			return res, syncErr("roll out "+w.String(), err)
		}
		if rolled {
			res.RolledOut = append(res.RolledOut, w.String())
		}
	}
	return res, nil
}

var keyRE = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)

func labelsHave(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// secretChecksum is export.Checksum over a Secret's data (stringData is
// write-only: the API server folds it into data).
func secretChecksum(s *corev1.Secret) string {
	es := make([]export.Entry, 0, len(s.Data))
	for k, v := range s.Data {
		es = append(es, export.Entry{Key: k, Value: keyward.NewSecret(append([]byte(nil), v...))})
	}
	return export.Checksum(es)
}

// rollout sets ann=rev on w's pod template unless it is already set.
func rollout(ctx context.Context, apps appsv1client.AppsV1Interface, ns string, w Workload, ann, rev string) (bool, error) {
	switch w.Kind {
	case "deployment":
		return annotate(ctx, apps.Deployments(ns), w.Name, ann, rev, func(x *appsv1.Deployment) map[string]string { return x.Spec.Template.Annotations })
	case "statefulset":
		return annotate(ctx, apps.StatefulSets(ns), w.Name, ann, rev, func(x *appsv1.StatefulSet) map[string]string { return x.Spec.Template.Annotations })
	case "daemonset":
		return annotate(ctx, apps.DaemonSets(ns), w.Name, ann, rev, func(x *appsv1.DaemonSet) map[string]string { return x.Spec.Template.Annotations })
	}
	return false, fmt.Errorf("unknown workload kind %q", w.Kind)
}

// workloads is what the Deployments, StatefulSets and DaemonSets clients
// share that rollout uses.
type workloads[T any] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*T, error)
	Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (*T, error)
}

// annotate reads workload name and, unless its pod template (template)
// already carries ann=rev, merge-patches that annotation onto it.
func annotate[T any](ctx context.Context, api workloads[T], name, ann, rev string, template func(*T) map[string]string) (bool, error) {
	x, err := api.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false, err
	}
	if template(x)[ann] == rev {
		return false, nil
	}
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{ann: rev}}}}})
	if _, err := api.Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return false, err
	}
	return true, nil
}

// syncErr classifies a Kubernetes API error like the store's errors.
func syncErr(op string, err error) error {
	d := &k8sDriver{}
	return keyward.NewError(d.ErrorCode(err), op, err)
}

// SyncAction is the "kubernetes.sync" plugin action keyward-provider-k8s
// serves: it decodes a k8ssync.Request and runs Sync with the kubeconfig.
func SyncAction(ctx context.Context, input json.RawMessage) (any, error) {
	var req k8ssync.Request
	if err := json.Unmarshal(input, &req); err != nil {
		return nil, keyward.Errorf(keyward.InvalidArgument, "sync kubernetes", "malformed request")
	}
	return SyncRequest(ctx, &req, nil, nil)
}

// SyncRequest runs Sync for a wire request; secrets and apps, when set,
// replace the kubeconfig's clients (tests).
func SyncRequest(ctx context.Context, req *k8ssync.Request, secrets corev1client.SecretsGetter, apps appsv1client.AppsV1Interface) (*SyncResult, error) {
	es := make([]export.Entry, len(req.Entries))
	for i, e := range req.Entries {
		es[i] = export.Entry{Key: e.Key, Value: keyward.NewSecret(e.Data)}
	}
	return Sync(ctx, es, &SyncOptions{Namespace: req.Namespace, Name: req.Name, Labels: req.Labels, Rollouts: req.Rollouts,
		Secrets: secrets, Apps: apps, Context: req.Context, Kubeconfig: req.Kubeconfig})
}
