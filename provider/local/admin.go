package local

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/keyward/keyward/driver"
)

// Create writes an empty store at path, encrypted to recipients (age public
// keys, "age1…"). It never replaces an existing file unless force is set;
// an existing file is an AlreadyExists error. The parent directory is
// created (0700) if needed.
func Create(ctx context.Context, path string, recipients []string, force bool) error {
	if len(recipients) == 0 {
		return newErr(driver.InvalidArgument, "", "a store needs at least one recipient")
	}
	canon := make([]string, 0, len(recipients))
	for _, r := range recipients {
		c, err := ParseRecipient(r)
		if err != nil {
			return err
		}
		if !slices.Contains(canon, c) {
			canon = append(canon, c)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return wrapErr(errorCode(err), err, "", "cannot create the directory of %s: %v", path, unwrapPathErr(err))
	}
	path = resolveSymlink(path)
	unlock, err := lock(ctx, path)
	if err != nil {
		return err
	}
	defer unlock()
	removeStaleTemps(path)
	if _, err := os.Lstat(path); err == nil && !force {
		return newErr(driver.AlreadyExists, "keyward never replaces a store; pass --force to start over (its secrets are lost)",
			"store file %s already exists", path)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return wrapErr(errorCode(err), err, "", "cannot check store file %s: %v", path, unwrapPathErr(err))
	}
	out, err := encode(newPayload(canon))
	if err != nil {
		return err
	}
	return writeAtomic(path, out)
}

// Recipients returns the recipients listed in the store file's clear
// header, without decrypting it. (The list is checked against the
// encrypted copy whenever the file is decrypted.)
func Recipients(path string) ([]string, error) {
	data, err := readStoreFile(path)
	if err != nil {
		return nil, err
	}
	h, err := parseHeader(path, data)
	if err != nil {
		return nil, err
	}
	return h.recipients, nil
}

// AddRecipient adds a member: it decrypts the store with id and
// re-encrypts it to every recipient plus recipient. It reports whether the
// recipient was new (adding a present one changes nothing).
func AddRecipient(ctx context.Context, path string, id *Identity, recipient string) (added bool, err error) {
	c, err := ParseRecipient(recipient)
	if err != nil {
		return false, err
	}
	err = updateFile(ctx, path, id, false, func(p *payload) error {
		if slices.Contains(p.Recipients, c) {
			return errUnchanged
		}
		p.Recipients = append(p.Recipients, c)
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return false, nil
	}
	return err == nil, err
}

// RemoveRecipient re-encrypts the store without recipient. The removed
// member may still hold old copies of the file and every value they could
// read: rotate those secrets. Removing the last recipient is refused.
func RemoveRecipient(ctx context.Context, path string, id *Identity, recipient string) (removed bool, err error) {
	c, err := ParseRecipient(recipient)
	if err != nil {
		return false, err
	}
	err = updateFile(ctx, path, id, false, func(p *payload) error {
		i := slices.Index(p.Recipients, c)
		if i < 0 {
			return errUnchanged
		}
		if len(p.Recipients) == 1 {
			return newErr(driver.FailedPrecondition, "", "cannot remove the last recipient of %s", path)
		}
		p.Recipients = slices.Delete(p.Recipients, i, i+1)
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return false, nil
	}
	return err == nil, err
}

var errUnchanged = errors.New("unchanged")
