package fsutil_test

import (
	"testing"

	"github.com/keyward/keyward/internal/dotenv"
	"github.com/keyward/keyward/internal/fsutil"
	"github.com/keyward/keyward/provider/env"
	"github.com/keyward/keyward/provider/file"
	"github.com/keyward/keyward/provider/local"
	"github.com/keyward/keyward/scan"
	"github.com/keyward/keyward/schema"
)

// TestLimitsAgree: the limits docs/security-bounds.md lists once are the
// ones the packages enforce.
func TestLimitsAgree(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want int64
	}{
		{"schema.MaxFileSize", schema.MaxFileSize, fsutil.MaxProjectFile},
		{"dotenv.MaxFileBytes", dotenv.MaxFileBytes, fsutil.MaxDotenvFile},
		{"scan.DefaultMaxFileSize", scan.DefaultMaxFileSize, fsutil.MaxScanFile},
		{"local.MaxFileSize", local.MaxFileSize, fsutil.MaxStoreFile},
		{"env.DefaultMaxFileSize", env.DefaultMaxFileSize, fsutil.MaxSecretFile},
		{"file.DefaultMaxSize", file.DefaultMaxSize, fsutil.MaxSecretFile},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d; fsutil says %d", c.name, c.got, c.want)
		}
	}
}
