//go:build !keyward_omit_env

package all

import _ "github.com/keyward/keyward/provider/env" // env://
