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
	if err := refuseSymlinks(path); err != nil {
		return err
	}
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
	t, err := emptyTxn(path, canon)
	if err != nil {
		return err
	}
	return writeAtomic(path, t.encode())
}

// Recipients returns the recipients listed in the store file's clear
// header, without decrypting it. (The list is authenticated — v1: checked
// against the encrypted copy; v2: by the header MAC — whenever the file is
// read with an identity.)
func Recipients(path string) ([]string, error) {
	data, err := readStoreFile(path)
	if err != nil {
		return nil, err
	}
	return recipientsOf(path, data)
}

// recipientsOf reads the recipients from a store file's clear header (v1
// or v2); name is used in errors.
func recipientsOf(name string, data []byte) ([]string, error) {
	if isV2(data) {
		f, err := parseV2(name, data)
		if err != nil {
			return nil, err
		}
		return f.recipients, nil
	}
	h, err := parseHeader(name, data)
	if err != nil {
		return nil, err
	}
	return h.recipients, nil
}

func adminParams(id *Identity) *writeParams { return &writeParams{id: id} }

// AddRecipient adds a member: it wraps the store's file key to every
// recipient plus recipient (a v1 store is converted to v2). It reports
// whether the recipient was new (adding a present one changes nothing).
func AddRecipient(ctx context.Context, path string, id *Identity, recipient string) (added bool, err error) {
	c, err := ParseRecipient(recipient)
	if err != nil {
		return false, err
	}
	err = updateFile(ctx, path, adminParams(id), false, func(t *txn) error {
		if slices.Contains(t.recipients, c) {
			return errUnchanged
		}
		return t.setRecipients(append(slices.Clone(t.recipients), c))
	})
	if errors.Is(err, errUnchanged) {
		return false, nil
	}
	return err == nil, err
}

// RemoveRecipient re-encrypts the store without recipient, under a new
// file key (the removed member knows the old one). The removed member may
// still hold old copies of the file and every value they could read:
// rotate those secrets. Removing the last recipient is refused.
func RemoveRecipient(ctx context.Context, path string, id *Identity, recipient string) (removed bool, err error) {
	c, err := ParseRecipient(recipient)
	if err != nil {
		return false, err
	}
	err = updateFile(ctx, path, adminParams(id), false, func(t *txn) error {
		i := slices.Index(t.recipients, c)
		if i < 0 {
			return errUnchanged
		}
		if len(t.recipients) == 1 {
			return newErr(driver.FailedPrecondition, "", "cannot remove the last recipient of %s", path)
		}
		return t.rekey(slices.Delete(slices.Clone(t.recipients), i, i+1))
	})
	if errors.Is(err, errUnchanged) {
		return false, nil
	}
	return err == nil, err
}

var errUnchanged = errors.New("unchanged")

// SetRecipients makes the store's recipient list exactly want (in that
// order), in one atomic write: when a recipient is removed the store is
// re-keyed (a new file key, so the removed member's knowledge of the old
// one opens nothing written from now on); otherwise the file key is only
// wrapped to the new list. It returns what was added and removed and, when
// anyone was removed, the names of every secret in the store — each one
// was readable by the removed member and should be rotated.
func SetRecipients(ctx context.Context, path string, id *Identity, want []string) (added, removed, exposed []string, err error) {
	var canon []string
	for _, r := range want {
		c, err := ParseRecipient(r)
		if err != nil {
			return nil, nil, nil, err
		}
		if !slices.Contains(canon, c) {
			canon = append(canon, c)
		}
	}
	if len(canon) == 0 {
		return nil, nil, nil, newErr(driver.InvalidArgument, "", "a store needs at least one recipient")
	}
	err = updateFile(ctx, path, adminParams(id), false, func(t *txn) error {
		added, removed = without(canon, t.recipients), without(t.recipients, canon)
		if len(added) == 0 && len(removed) == 0 {
			return errUnchanged
		}
		if len(removed) > 0 {
			names, err := t.keys()
			if err != nil {
				return err
			}
			exposed = names
			return t.rekey(canon)
		}
		return t.setRecipients(canon)
	})
	if errors.Is(err, errUnchanged) {
		return nil, nil, nil, nil
	}
	if err != nil {
		return nil, nil, nil, err
	}
	return added, removed, exposed, nil
}
