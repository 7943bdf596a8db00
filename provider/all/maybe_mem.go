//go:build !keyward_omit_mem

package all

import _ "github.com/keyward/keyward/provider/mem" // mem://
