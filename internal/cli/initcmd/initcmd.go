// Package initcmd implements `keyward init`: it creates an age identity (if
// there is none) and a local store encrypted to it, and adds teammates'
// recipients to a shared store.
//
// To extend init (for example `init --from .env.example`), add the flag in
// NewCmd and append a Step to Options.Steps: steps run after the identity
// and the store exist, in order, and may open the store with
// Result.OpenStore and add lines to the summary with Result.Notes.
package initcmd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/provider/local"
)

// Options are init's inputs.
type Options struct {
	IO     *iostreams.IOStreams
	Getenv func(string) string
	// StoreURL says which store init works on and where that choice came
	// from (--store, KEYWARD_STORE, default…).
	StoreURL func() (url, source string, err error)
	// OpenURL opens a store URL (for steps that fill the new store).
	OpenURL func(ctx context.Context, rawURL string) (*keyward.Store, error)

	Force         bool
	AddRecipients []string
	JSON          bool
	// RemoveRecipients and SyncRecipients change an existing store's
	// recipients (recipients.go); ProjectRecipients reads keyward.yaml's
	// list for the store at a path.
	RemoveRecipients  []string
	SyncRecipients    bool
	ProjectRecipients func(path string) (env string, recipients []string, err error)

	// Steps run in order once the identity and the store exist.
	Steps []Step

	// storeArgs is how the printed next steps name the store again
	// (" --store URL", " --env NAME", or "" when no flag chose it).
	storeArgs string
	// shareArgs is how the teammate-onboarding hints name it: always the
	// environment when keyward.yaml chose the store, so a teammate with
	// another default adds the recipient to the right store.
	shareArgs string
}

// Step is one extra piece of init's work, run after the identity and the
// store exist. It may open the store with res.OpenStore and append lines
// for people to res.Notes.
type Step func(ctx context.Context, opts *Options, res *Result) error

// Result is what init did; it is also the --json output.
type Result struct {
	Store           string   `json:"store"`
	StorePath       string   `json:"store_path"`
	StoreCreated    bool     `json:"store_created"`
	StoreReplaced   bool     `json:"store_replaced,omitempty"`
	Identity        string   `json:"identity"`
	IdentityCreated bool     `json:"identity_created"`
	Recipient       string   `json:"recipient"`
	Recipients      []string `json:"recipients"`
	AddedRecipients []string `json:"added_recipients,omitempty"`
	// RemovedRecipients were removed (the store was re-keyed); Exposed
	// lists every secret they could read, RotateCommands what to run.
	RemovedRecipients []string `json:"removed_recipients,omitempty"`
	Exposed           []string `json:"exposed,omitempty"`
	RotateCommands    []string `json:"rotate_commands,omitempty"`
	SyncedFrom        string   `json:"synced_from,omitempty"`
	Member            bool     `json:"member"`
	Notes             []string `json:"notes,omitempty"`

	opts     *Options
	storeURL string
}

// OpenStore opens the store init worked on (for steps).
func (r *Result) OpenStore(ctx context.Context) (*keyward.Store, error) {
	return r.opts.OpenURL(ctx, r.storeURL)
}

// NewCmd builds the command; runF replaces the run function in tests.
func NewCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := new(Options)
	*opts = Options{
		IO:     f.IO,
		Getenv: f.Getenv,
		StoreURL: func() (string, string, error) {
			u, env, src, err := f.ResolveStoreURL()
			switch src {
			case "--store":
				opts.storeArgs = " --store " + f.StoreURL
			case "--env":
				opts.storeArgs = " --env " + env
			case "KEYWARD_STORE", "SECRET_PROVIDER":
				opts.storeArgs = " --store " + u
			}
			opts.shareArgs = opts.storeArgs
			if src == "keyward.yaml" {
				opts.shareArgs = " --env " + env
			}
			return u, src, err
		},
		OpenURL: func(ctx context.Context, u string) (*keyward.Store, error) { return f.OpenURL(ctx, u, "") },
	}
	opts.ProjectRecipients = func(path string) (string, []string, error) {
		return projectRecipients(f.Project, f.EnvName)(path)
	}
	var from *fromMode // --from .env.example (from.go)
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create your identity and an encrypted local store",
		Long: `Create an age identity (your private key) if you have none, and a local
store file encrypted to it: keyward.age in the current directory, or the
local://FILE given with --store.

The identity is written to $XDG_CONFIG_HOME/keyward/identity.txt (else
~/.config/keyward/identity.txt) with mode 0600, or to the file named by
KEYWARD_AGE_IDENTITY_FILE or the store URL's ?identity=FILE. An existing
identity is always reused, never replaced. When KEYWARD_AGE_IDENTITY holds an
identity, init uses it and writes no file.

init never replaces an existing store: run it in a clone that already has
keyward.age and it only makes sure you have an identity, then tells you
whether the store is encrypted to you. --force starts a new, empty store in
place of an existing one (its secrets are lost).

--remove-recipient R takes a member out: the store is re-keyed (a new file
key) without them, and init prints every secret they could read with the
'keyward rotate' command for each: they may keep old copies of the file, so
rotating is what makes their copies worthless. --sync-recipients makes the
recipients exactly the list in keyward.yaml (environments.NAME.recipients)
for this store, printing what it adds and removes; that list comes from the
repository, so review changes to it like code.

A team shares one store file in git. Each member runs 'keyward init' and
sends their public recipient (age1…, printed by init); a member who can
already read the store adds them with --add-recipient, which re-encrypts the
file to everyone. Commit keyward.age; never commit an identity.`,
		Example: `  keyward init
  keyward init --store local://./secrets/production.age
  keyward init --add-recipient age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq
  keyward init --remove-recipient age1m36ea75k8trekc5ar4fntms99h0v5urjfeh5yu03xe90s9p5mftq6a5lch
  keyward init --sync-recipients --env production
  keyward init --force --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if from.active() && runF == nil {
				return from.run(cmd.Context(), opts)
			}
			return cmdutil.Run(cmd, opts, runF, run)
		},
	}
	cmd.Flags().BoolVar(&opts.Force, "force", false, "Replace an existing store with a new, empty one (its secrets are lost)")
	cmd.Flags().StringArrayVar(&opts.AddRecipients, "add-recipient", nil, "Also encrypt the store to this age public key (age1…); repeatable")
	cmd.Flags().StringArrayVar(&opts.RemoveRecipients, "remove-recipient", nil, "Remove this recipient and re-key the store; prints the secrets they could read and the rotate commands; repeatable")
	cmd.Flags().BoolVar(&opts.SyncRecipients, "sync-recipients", false, "Make the store's recipients exactly keyward.yaml's recipients: list for this environment (review that list: it comes from the repository)")
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	from = addFromFlags(cmd, f)
	return cmd
}

func run(ctx context.Context, opts *Options) error {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	rawURL, source, err := opts.StoreURL()
	if err != nil {
		return err
	}
	u, err := keyward.ParseStoreURL(rawURL)
	if err != nil {
		return err
	}
	if u.Scheme != local.Scheme {
		return cmdutil.WithHint(keyward.Errorf(keyward.InvalidArgument, "init",
			"the store chosen by %s is %s://…; init creates local stores only", source, u.Scheme),
			"pass --store local://FILE, or unset "+sourceVar(source))
	}
	path, idOverride, err := local.PathFromURL(u)
	if err != nil {
		return withLocalHint(keyward.NewError(local.ErrorCode(err), "init", err))
	}
	// Check every input before changing anything.
	var adds []string
	for _, r := range opts.AddRecipients {
		c, err := local.ParseRecipient(r)
		if err != nil {
			return cmdutil.WithHint(keyward.NewError(keyward.InvalidArgument, "init", err), local.Hint(err))
		}
		if !slices.Contains(adds, c) {
			adds = append(adds, c)
		}
	}
	res := &Result{Store: keyward.RedactURL(u), StorePath: path, opts: opts, storeURL: rawURL}

	id, err := ensureIdentity(getenv, idOverride, res)
	if err != nil {
		return err
	}
	if len(id.Recipients) == 0 {
		return cmdutil.WithHint(keyward.Errorf(keyward.FailedPrecondition, "init", "the identity from %s has no recipient keyward can derive (an age plugin identity)", id.Source),
			"create the store with your plugin's recipient: keyward init --add-recipient age1…; or use an age or SSH identity")
	}
	res.Recipient = id.Recipients[0]

	_, statErr := os.Lstat(path)
	exists := statErr == nil
	if statErr != nil && !errors.Is(statErr, fs.ErrNotExist) {
		return keyward.Errorf(keyward.ErrorCode(statErr), "init", "cannot check store file %s: %v", path, statErr)
	}
	switch {
	case !exists || opts.Force:
		recipients := append(slices.Clone(id.Recipients), adds...)
		if err := local.Create(ctx, path, recipients, opts.Force); err != nil {
			return localErr(err)
		}
		res.StoreCreated, res.StoreReplaced = true, exists
		for _, a := range adds {
			if !slices.Contains(id.Recipients, a) {
				res.AddedRecipients = append(res.AddedRecipients, a)
			}
		}
	default:
		for _, a := range adds {
			added, err := local.AddRecipient(ctx, path, id, a)
			if err != nil {
				return localErr(err)
			}
			if added {
				res.AddedRecipients = append(res.AddedRecipients, a)
			}
		}
		if err := recipientChanges(ctx, opts, path, id, res); err != nil {
			return err
		}
	}
	if res.Recipients, err = local.Recipients(path); err != nil {
		return localErr(err)
	}
	for _, r := range id.Recipients {
		res.Member = res.Member || slices.Contains(res.Recipients, r)
	}
	for _, s := range opts.Steps {
		if err := s(ctx, opts, res); err != nil {
			return err
		}
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, res)
	}
	return printSummary(opts, res)
}

// ensureIdentity loads the identity init should use, creating the file when
// there is none.
func ensureIdentity(getenv func(string) string, override string, res *Result) (*local.Identity, error) {
	idPath, err := local.IdentityPath(getenv, override)
	if err != nil {
		return nil, localErr(err)
	}
	if idPath == "" { // KEYWARD_AGE_IDENTITY holds the identity
		id, err := local.LoadIdentity(getenv)
		if err != nil {
			return nil, localErr(err)
		}
		res.Identity = local.EnvIdentity
		return id, nil
	}
	res.Identity = idPath
	if _, err := os.Stat(idPath); err == nil {
		id, err := local.LoadIdentityFile(idPath)
		if err != nil {
			return nil, localErr(err)
		}
		return id, nil
	}
	gen, err := local.GenerateIdentity()
	if err != nil {
		return nil, keyward.Errorf(keyward.Unknown, "init", "cannot generate an identity: %v", err)
	}
	if err := local.WriteIdentityFile(idPath, gen); err != nil {
		return nil, localErr(err)
	}
	res.IdentityCreated = true
	return local.LoadIdentityFile(idPath)
}

// localErr turns an error from provider/local into a keyward error with its hint.
func localErr(err error) error {
	return withLocalHint(keyward.NewError(local.ErrorCode(err), "init", err))
}

func withLocalHint(err error) error {
	if h := local.Hint(err); h != "" {
		return cmdutil.WithHint(err, h)
	}
	return err
}

func sourceVar(source string) string {
	switch source {
	case "KEYWARD_STORE", "SECRET_PROVIDER":
		return source
	}
	return "the setting that chose it"
}

func printSummary(opts *Options, res *Result) error {
	var b strings.Builder
	if res.IdentityCreated {
		fmt.Fprintf(&b, "Created identity %s\n  It is your private key: keep it private and back it up; never commit it.\n", res.Identity)
	} else {
		fmt.Fprintf(&b, "Using identity %s\n", res.Identity)
	}
	n := len(res.Recipients)
	plural := "s"
	if n == 1 {
		plural = ""
	}
	switch {
	case res.StoreReplaced:
		fmt.Fprintf(&b, "Replaced store %s with a new, empty store encrypted to %d recipient%s\n", res.StorePath, n, plural)
	case res.StoreCreated:
		fmt.Fprintf(&b, "Created store %s, encrypted to %d recipient%s\n", res.StorePath, n, plural)
	default:
		fmt.Fprintf(&b, "Store %s already exists (%d recipient%s); it was not replaced\n", res.StorePath, n, plural)
	}
	for _, a := range res.AddedRecipients {
		fmt.Fprintf(&b, "Added recipient %s\n", a)
	}
	printRemoved(&b, res)
	fmt.Fprintf(&b, "Your public recipient: %s\n", res.Recipient)
	for _, note := range res.Notes {
		fmt.Fprintln(&b, note)
	}
	if !res.Member {
		fmt.Fprintf(&b, "\nThe store is not encrypted to you. Ask a member to run:\n  keyward init --add-recipient %s%s\n", res.Recipient, opts.shareArgs)
		_, err := fmt.Fprint(opts.IO.Out, b.String())
		return err
	}
	store := opts.storeArgs
	fmt.Fprintf(&b, "\nNext steps:\n")
	fmt.Fprintf(&b, "  keyward set JWT_SECRET_KEY --generate urlsafe%s\n", store)
	fmt.Fprintf(&b, "  keyward run%s -- ./your-app\n", store)
	fmt.Fprintf(&b, "  git add %s   (it is encrypted; commit it, never an identity)\n", res.StorePath)
	fmt.Fprintf(&b, "  echo '%s' >> .gitignore   (writers' lock file; never commit it)\n", filepath.Base(local.LockPath(res.StorePath)))
	fmt.Fprintf(&b, "To share it, a teammate runs 'keyward init' and sends you their recipient; then:\n")
	fmt.Fprintf(&b, "  keyward init --add-recipient age1…%s\n", opts.shareArgs)
	_, err := fmt.Fprint(opts.IO.Out, b.String())
	return err
}
