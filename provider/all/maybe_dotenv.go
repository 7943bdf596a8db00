//go:build !keyward_omit_dotenv

package all

import _ "github.com/keyward/keyward/provider/dotenv" // dotenv://
