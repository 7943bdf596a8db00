//go:build !keyward_omit_azurekv

package all

import _ "github.com/keyward/keyward/provider/azurekv" // azurekv://
