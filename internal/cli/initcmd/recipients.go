package initcmd

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/provider/local"
	"github.com/keyward/keyward/schema"
)

// recipientChanges applies --remove-recipient and --sync-recipients to an
// existing store, in one write each, and records what changed in res.
func recipientChanges(ctx context.Context, opts *Options, path string, id *local.Identity, res *Result) error {
	if len(opts.RemoveRecipients) == 0 && !opts.SyncRecipients {
		return nil
	}
	current, err := local.Recipients(path)
	if err != nil {
		return localErr(err)
	}
	want := slices.Clone(current)
	if opts.SyncRecipients {
		if opts.ProjectRecipients == nil {
			return keyward.Errorf(keyward.InvalidArgument, "init", "--sync-recipients needs a keyward.yaml")
		}
		env, list, err := opts.ProjectRecipients(path)
		if err != nil {
			return err
		}
		if len(list) == 0 {
			return cmdutil.WithHint(keyward.Errorf(keyward.InvalidArgument, "init", "keyward.yaml lists no recipients for environment %q", env),
				"add them under environments."+env+".recipients, or use --add-recipient / --remove-recipient")
		}
		want = want[:0]
		for _, r := range list {
			c, err := local.ParseRecipient(r)
			if err != nil {
				return cmdutil.WithHint(keyward.Errorf(keyward.InvalidArgument, "init", "keyward.yaml environment %q: %v", env, err), local.Hint(err))
			}
			want = append(want, c)
		}
		res.SyncedFrom = env
	}
	for _, r := range opts.RemoveRecipients {
		c, err := local.ParseRecipient(r)
		if err != nil {
			return cmdutil.WithHint(keyward.NewError(keyward.InvalidArgument, "init", err), local.Hint(err))
		}
		if !slices.Contains(current, c) {
			res.Notes = append(res.Notes, fmt.Sprintf("%s is not a recipient of %s; nothing to remove", c, path))
		}
		want = slices.DeleteFunc(want, func(x string) bool { return x == c })
	}
	mine := false
	for _, r := range id.Recipients {
		mine = mine || slices.Contains(want, r)
	}
	if !mine && !opts.Force {
		return cmdutil.WithHint(keyward.Errorf(keyward.FailedPrecondition, "init",
			"the new recipient list does not include your own recipient: you would lose access to %s; nothing was changed", path),
			"keep yourself in the list, or pass --force if another member will keep the store")
	}
	if len(want) == 0 {
		return keyward.Errorf(keyward.FailedPrecondition, "init", "cannot remove every recipient of %s", path)
	}
	added, removed, exposed, err := local.SetRecipients(ctx, path, id, want)
	if err != nil {
		return localErr(err)
	}
	res.AddedRecipients = append(res.AddedRecipients, added...)
	res.RemovedRecipients = removed
	res.Exposed = exposed
	sort.Strings(res.Exposed)
	store := ""
	if res.Store != "local://keyward.age" {
		store = " --store " + res.Store
	}
	for _, k := range res.Exposed {
		res.RotateCommands = append(res.RotateCommands, "keyward rotate "+k+store)
	}
	return nil
}

// projectRecipients finds the keyward.yaml environment for the store at
// path (--env if given, else the environment whose local store is path)
// and returns its recipients.
func projectRecipients(project func() (*schema.Config, error), envName string) func(path string) (string, []string, error) {
	return func(path string) (string, []string, error) {
		c, err := project()
		if err != nil {
			return "", nil, err
		}
		if c == nil {
			return "", nil, keyward.Errorf(keyward.InvalidArgument, "init", "--sync-recipients needs a keyward.yaml, and there is none here or in any parent directory")
		}
		if envName != "" {
			e, err := c.Environment(envName)
			if err != nil {
				return "", nil, err
			}
			return e.Name, e.Recipients, nil
		}
		abs, _ := filepath.Abs(path)
		for _, name := range c.EnvOrder {
			raw, err := c.StoreURL(name)
			if err != nil {
				continue
			}
			u, err := keyward.ParseStoreURL(raw)
			if err != nil || u.Scheme != local.Scheme {
				continue
			}
			p, _, err := local.PathFromURL(u)
			if err != nil {
				continue
			}
			if pa, _ := filepath.Abs(p); pa == abs {
				return name, c.Environments[name].Recipients, nil
			}
		}
		return "", nil, cmdutil.WithHint(keyward.Errorf(keyward.InvalidArgument, "init", "no keyward.yaml environment uses the store %s", path),
			"name the environment with --env NAME")
	}
}

func printRemoved(b *strings.Builder, res *Result) {
	if res.SyncedFrom != "" {
		fmt.Fprintf(b, "Recipients synced from keyward.yaml environment %q\n", res.SyncedFrom)
	}
	for _, r := range res.RemovedRecipients {
		fmt.Fprintf(b, "Removed recipient %s; the store was re-keyed\n", r)
	}
	if len(res.RemovedRecipients) == 0 {
		return
	}
	if len(res.Exposed) == 0 {
		fmt.Fprintf(b, "The store held no secrets they could have read.\n")
		return
	}
	fmt.Fprintf(b, "They could read these %d secret(s) (and may keep old copies of the file); rotate them:\n", len(res.Exposed))
	for _, c := range res.RotateCommands {
		fmt.Fprintf(b, "  %s\n", c)
	}
}
