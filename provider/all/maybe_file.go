//go:build !keyward_omit_file

package all

import _ "github.com/keyward/keyward/provider/file" // file://
