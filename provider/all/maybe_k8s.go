//go:build !keyward_omit_k8s

package all

import _ "github.com/keyward/keyward/provider/k8s" // k8s://
