package local

import (
	"fmt"
	"io"

	"github.com/keyward/keyward/driver"
)

// MergeFiles is `keyward merge-driver BASE OURS THEIRS`: git's merge
// driver protocol. It merges the three files (see Merge) and replaces OURS
// with the result atomically (a temporary file and a rename, so a killed
// merge leaves OURS as it was and git reports a conflict); notes go to
// stderr. On any error OURS is left untouched and the error is returned
// (the caller exits non-zero, which git reports as a conflict).
func MergeFiles(basePath, oursPath, theirsPath string, id *Identity, stderr io.Writer) (*MergeResult, error) {
	read := func(p string, optional bool) ([]byte, error) {
		data, err := readStoreFile(p)
		if err != nil && optional && errorCode(err) == driver.NotFound {
			return nil, nil
		}
		return data, err
	}
	base, err := read(basePath, true)
	if err != nil {
		return nil, err
	}
	if len(base) == 0 {
		base = nil
	}
	ours, err := read(oursPath, false)
	if err != nil {
		return nil, err
	}
	theirs, err := read(theirsPath, false)
	if err != nil {
		return nil, err
	}
	out, res, err := Merge(base, ours, theirs, id)
	if err != nil {
		return nil, err
	}
	step("merged")
	if len(out) > maxFileSize {
		return nil, newErr(driver.FailedPrecondition, "", "the merged store would be %d bytes, over the %d-byte read limit: refused", len(out), maxFileSize)
	}
	if err := writeAtomic(oursPath, out); err != nil {
		return nil, err
	}
	for _, n := range res.Notes {
		fmt.Fprintf(stderr, "keyward merge-driver: %s\n", n)
	}
	return res, nil
}
