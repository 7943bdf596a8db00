//go:build !keyward_omit_local

package all

import _ "github.com/keyward/keyward/provider/local" // local:// (the embedded default)
