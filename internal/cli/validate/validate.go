// Package validate implements `keyward validate`.
package validate

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/schema"
)

// Options are validate's inputs.
type Options struct {
	IO *iostreams.IOStreams
	// LoadConfig returns the project's keyward.yaml (nil when there is none).
	LoadConfig func() (*schema.Config, error)
	// ResolveStore says which store and environment the command works on.
	ResolveStore func() (url, env string, err error)
	// StoreSource, if set, says which rule chose it (after ResolveStore).
	StoreSource func() string
	// EnvFlag is --env (validate keeps the environment's rules even when
	// --store picks another store).
	EnvFlag func() string
	// OpenURL opens a store URL for an environment.
	OpenURL func(ctx context.Context, url, env string) (*keyward.Store, error)
	// CheckURL vets a store URL from keyward.yaml before it is opened
	// (nil: none); see keyward.TrustPolicy.
	CheckURL func(url string) error

	Format     string
	Strict     bool
	Production bool
	NoCompare  bool
	Compare    []string
	NoFiles    bool
}

// compareTimeout bounds reading another environment for the reuse check.
const compareTimeout = 20 * time.Second

// NewCmd builds the command; runF replaces the run function in tests.
func NewCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	var source string
	opts := &Options{
		IO: f.IO,
		LoadConfig: func() (*schema.Config, error) {
			return f.Project()
		},
		ResolveStore: func() (string, string, error) {
			u, env, src, err := f.ResolveStoreURL()
			source = src
			if err == nil {
				f.NoteSource(u, src, env)
			}
			return u, env, err
		},
		StoreSource: func() string { return source },
		EnvFlag:     func() string { return f.EnvName },
		OpenURL:     f.OpenURL,
		CheckURL:    func(u string) error { return f.CheckURL(u, keyward.OriginProject) },
	}
	var jsonFlag bool
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check an environment's secrets against keyward.yaml before a deploy",
		Long: `Check every secret declared in keyward.yaml against the environment's store:
required secrets are present, long enough and in the right format; in
production there are no placeholder, example or test-mode values; generated
secrets have enough entropy; no value is shared with another environment
(compared by keyed fingerprints, never by value); and .env files are not
tracked by git, are ignored by .gitignore and are not readable by others.

The report names each secret and the reason, never a value, in every
format. The exit status is 0 when the store is valid, 1 when it is not, and
2 for usage or keyward.yaml errors. Warnings fail only with --strict (or
validate.strict in keyward.yaml). See docs/schema.md for every check.`,
		Example: `  keyward validate --env production
  keyward validate --env production --store dotenv://prod.env
  keyward validate --format sarif > keyward.sarif
  keyward validate --env staging --strict --no-compare`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if jsonFlag {
				if cmd.Flags().Changed("format") && opts.Format != "json" {
					return cmdutil.FlagErrorf("--json and --format %s disagree", opts.Format)
				}
				opts.Format = "json"
			}
			switch opts.Format {
			case "table", "json", "sarif":
			default:
				return cmdutil.FlagErrorf("--format must be table, json or sarif, not %q", opts.Format)
			}
			if opts.NoCompare && len(opts.Compare) > 0 {
				return cmdutil.FlagErrorf("--compare and --no-compare cannot be used together")
			}
			return cmdutil.Run(cmd, opts, runF, run)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Format, "format", "table", "Output format: table, json or sarif")
	fl.BoolVar(&jsonFlag, "json", false, "Same as --format json (never includes values)")
	fl.BoolVar(&opts.Strict, "strict", false, "Warnings fail validation too")
	fl.BoolVar(&opts.Production, "production", false, "Apply production rules whatever the environment")
	fl.StringSliceVar(&opts.Compare, "compare", nil, "Compare values only with these environments (reuse check)")
	fl.BoolVar(&opts.NoCompare, "no-compare", false, "Skip the reuse check across environments")
	fl.BoolVar(&opts.NoFiles, "no-files", false, "Skip the .env file checks (git tracking, .gitignore, permissions)")
	return cmd
}

func run(ctx context.Context, opts *Options) error {
	cfg, err := opts.LoadConfig()
	if err != nil {
		return configError(err)
	}
	if cfg == nil {
		return cmdutil.WithHint(keyward.Errorf(keyward.InvalidArgument, "validate", "no keyward.yaml here or in any parent directory"),
			"create one that declares your secrets (see docs/schema.md), or pass --config PATH")
	}
	url, env, err := opts.ResolveStore()
	if err != nil {
		return err
	}
	if env == "" && opts.EnvFlag != nil {
		env = opts.EnvFlag() // --store with --env: that store under the environment's rules
	}
	if env != "" {
		if _, err := cfg.Environment(env); err != nil {
			return err
		}
	}
	for _, c := range opts.Compare {
		if _, err := cfg.Environment(c); err != nil {
			return err
		}
	}
	store, err := opts.OpenURL(ctx, url, env)
	if err != nil {
		return err
	}
	vo := &schema.ValidateOptions{Strict: opts.Strict, NoFiles: opts.NoFiles, Compare: opts.Compare, CompareTimeout: compareTimeout}
	if opts.Production {
		t := true
		vo.Production = &t
	}
	if !opts.NoCompare {
		vo.OpenEnv = func(ctx context.Context, name string) (*keyward.Store, error) {
			u, err := cfg.StoreURL(name)
			if err != nil {
				return nil, err
			}
			if u == url {
				return nil, keyward.Errorf(keyward.FailedPrecondition, "validate", "environment %q is the store being checked", name)
			}
			if opts.CheckURL != nil {
				if err := opts.CheckURL(u); err != nil {
					return nil, err
				}
			}
			return opts.OpenURL(ctx, u, name)
		}
	}
	rep, err := cfg.Validate(ctx, store, env, vo)
	if err != nil {
		return err
	}
	if opts.StoreSource != nil {
		rep.StoreSource = opts.StoreSource()
	}
	switch opts.Format {
	case "json":
		err = rep.WriteJSON(opts.IO.Out)
	case "sarif":
		err = rep.WriteSARIF(opts.IO.Out)
	default:
		err = rep.WriteTable(opts.IO.Out)
	}
	if err != nil {
		return err
	}
	if !rep.Valid {
		return &cmdutil.SilentError{Code: cmdutil.ExitError}
	}
	return nil
}

// configError makes a keyward.yaml problem exit 2 with its hint.
func configError(err error) error {
	if keyward.ErrorCode(err) == keyward.InvalidArgument {
		return cmdutil.WithHint(err, "fix keyward.yaml (docs/schema.md documents every field)")
	}
	return err
}
