//go:build !keyward_omit_vault

package all

import _ "github.com/keyward/keyward/provider/vault" // vault://
