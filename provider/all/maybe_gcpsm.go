//go:build !keyward_omit_gcpsm

package all

import _ "github.com/keyward/keyward/provider/gcpsm" // gcpsm://
