package cmdutil

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/keyward/keyward"
)

// CleanOnly trims the names given with --only (in place) and refuses an
// empty one ("--only A,,B"), a usage error.
func CleanOnly(only []string) error {
	for i, k := range only {
		only[i] = strings.TrimSpace(k)
		if only[i] == "" {
			return FlagErrorf("--only has an empty key name")
		}
	}
	return nil
}

// SelectKeys returns the keys a reading verb (export, run, sync, copy,
// diff) works on, and whether the user named them: only (--only), without
// repeats and in the order given; or, when only is empty, every key the
// store lists. A store that cannot list is an Unimplemented error with the
// hint to name the keys with --only.
func SelectKeys(ctx context.Context, s *keyward.Store, only []string) (keys []string, named bool, err error) {
	if len(only) > 0 {
		keys = make([]string, 0, len(only))
		for _, k := range only {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
		return keys, true, nil
	}
	infos, err := s.List(ctx)
	if err != nil {
		if keyward.ErrorCode(err) == keyward.Unimplemented {
			return nil, false, WithHint(err, "this store cannot list its keys; name them with --only K1,K2")
		}
		return nil, false, err
	}
	keys = make([]string, 0, len(infos))
	for _, in := range infos {
		keys = append(keys, in.Key)
	}
	return keys, false, nil
}

// MissingKeysHint adds "'keyward list' shows the keys in this store" to an
// error that says keys are missing: NotFound, or a MultiError of NotFound
// errors only. Other errors (and nil) are returned as they are.
func MissingKeysHint(err error) error {
	if err == nil || (keyward.ErrorCode(err) != keyward.NotFound && !AllNotFound(err)) {
		return err
	}
	return WithHint(err, "'keyward list' shows the keys in this store")
}

// AllNotFound reports whether err is a non-empty MultiError of NotFound
// errors only (keys that do not exist, nothing else wrong).
func AllNotFound(err error) bool {
	var m keyward.MultiError
	if !errors.As(err, &m) || len(m) == 0 {
		return false
	}
	for _, e := range m {
		if keyward.ErrorCode(e) != keyward.NotFound {
			return false
		}
	}
	return true
}

// ReadKeys selects keys as SelectKeys does and reads their current values
// in one GetMany (batched where the provider can). Any key that cannot be
// read fails the whole read; a missing one carries MissingKeysHint.
func ReadKeys(ctx context.Context, s *keyward.Store, only []string) ([]string, map[string]*keyward.Value, error) {
	keys, _, err := SelectKeys(ctx, s, only)
	if err != nil {
		return nil, nil, err
	}
	vals, err := s.GetMany(ctx, keys)
	if err != nil {
		return nil, nil, MissingKeysHint(err)
	}
	return keys, vals, nil
}
