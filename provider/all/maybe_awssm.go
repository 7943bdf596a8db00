//go:build !keyward_omit_awssm

package all

import _ "github.com/keyward/keyward/provider/awssm" // awssm://
