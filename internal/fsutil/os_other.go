//go:build !unix

package fsutil

import (
	"io/fs"

	"github.com/keyward/keyward/driver"
)

// alive cannot ask about another process here; only TempMaxAge makes a file
// stale.
func alive(int) bool { return true }

func ownedByMe(fs.FileInfo) bool { return true }

// syncUnsupported: a directory cannot be fsynced here.
func syncUnsupported(error) bool { return true }

// errnoCode: only io/fs's sentinels are classified here.
func errnoCode(error) driver.Code { return driver.Unknown }
