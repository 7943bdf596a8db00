// Package k8ssync is the wire form of `keyward sync kubernetes`: what the
// CLI asks the Kubernetes plugin program to do (the "kubernetes.sync"
// plugin action) and what it answers. It holds no Kubernetes client, so the
// CLI can build the request without linking client-go.
package k8ssync

import (
	"fmt"
	"strings"

	"github.com/keyward/keyward/internal/lazyre"
)

// Action is the plugin action name keyward-provider-k8s serves.
const Action = "kubernetes.sync"

// Entry is one key of the Secret. Data is a value: it travels only inside
// plugin protocol messages.
type Entry struct {
	Key  string `json:"key"`
	Data []byte `json:"data"`
}

// Request asks the plugin to make Secret Name hold exactly Entries and to
// roll Rollouts when it changed.
type Request struct {
	Entries    []Entry           `json:"entries"`
	Namespace  string            `json:"namespace,omitempty"`
	Name       string            `json:"name"`
	Labels     map[string]string `json:"labels,omitempty"`
	Rollouts   []Workload        `json:"rollouts,omitempty"`
	Context    string            `json:"context,omitempty"`
	Kubeconfig string            `json:"kubeconfig,omitempty"`
}

// Result says what the sync did. It never holds a value.
type Result struct {
	Namespace string   `json:"namespace"`
	Secret    string   `json:"secret"`
	Checksum  string   `json:"checksum"`
	Changed   bool     `json:"changed"` // the Secret was written
	Created   bool     `json:"created,omitempty"`
	Revision  string   `json:"generation"` // the pod-template annotation's value
	RolledOut []string `json:"rolled_out"` // workloads whose annotation changed
}

// Workload names a Deployment, StatefulSet or DaemonSet to roll.
type Workload struct {
	Kind string `json:"kind"` // deployment, statefulset or daemonset
	Name string `json:"name"`
}

func (w Workload) String() string { return w.Kind + "/" + w.Name }

var workloadKinds = map[string]string{
	"deployment": "deployment", "deployments": "deployment", "deploy": "deployment",
	"statefulset": "statefulset", "statefulsets": "statefulset", "sts": "statefulset",
	"daemonset": "daemonset", "daemonsets": "daemonset", "ds": "daemonset",
}

// DNSSubdomain matches a valid Kubernetes object name.
var DNSSubdomain = lazyre.New(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// ParseWorkload parses KIND/NAME as kubectl writes it (deployment/api,
// sts/db, daemonset.apps/agent).
func ParseWorkload(s string) (Workload, error) {
	kind, name, ok := strings.Cut(s, "/")
	kind, _, _ = strings.Cut(strings.ToLower(kind), ".")
	k, known := workloadKinds[kind]
	if !ok || !known || name == "" || strings.Contains(name, "/") {
		return Workload{}, fmt.Errorf("%q: want deployment/NAME, statefulset/NAME or daemonset/NAME", s)
	}
	if !DNSSubdomain.MatchString(name) {
		return Workload{}, fmt.Errorf("%q: %q is not a valid Kubernetes name", s, name)
	}
	return Workload{Kind: k, Name: name}, nil
}
