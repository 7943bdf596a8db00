// Package set implements `keyward set`.
//
// The value never comes from a flag or an argument: command lines are
// visible to every user of the machine (ps, /proc/PID/cmdline) and are kept
// in shell history. It comes from stdin (a hidden prompt on a terminal), a
// file, or a generator.
package set

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/gen"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/internal/dotenv"
	"github.com/keyward/keyward/internal/fsutil"
)

// Options are set's inputs.
type Options struct {
	IO        *iostreams.IOStreams
	OpenStore func(context.Context) (*keyward.Store, error)
	// Sources says which rule chose the store (its --json store_source).
	Sources *cmdutil.SourceBook
	// ReadHidden reads one line from the terminal without echo. nil means
	// golang.org/x/term on stdin.
	ReadHidden func() ([]byte, error)

	// Check, if set, returns keyward.yaml's findings for a value about to be
	// stored as key in env (never containing the value); set warns with them.
	Check func(key, env string, v keyward.Secret) []string

	Key        string
	FromFile   string
	Generate   string
	NoTrim     bool
	AllowEmpty bool
	IfVersion  string
	JSON       bool
}

// NewCmd builds the command; runF replaces the run function in tests.
func NewCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, OpenStore: f.OpenStore, Sources: f.Sources(), Check: func(key, env string, v keyward.Secret) []string {
		if f.CheckValue == nil {
			return nil
		}
		return f.CheckValue(key, env, v)
	}}
	cmd := &cobra.Command{
		Use:   "set KEY",
		Short: "Store a new version of a secret",
		Long: `Store a new version of KEY. Earlier versions are kept (see 'keyward history').

The value comes from exactly one of:
  stdin            typed at a hidden prompt on a terminal, or piped in;
  --from-file F    the contents of file F ("-" is stdin);
  --generate R     a fresh random value from recipe R[:SIZE] (see 'keyward generate --list').

There is no flag that takes the value itself, on purpose: command lines are
visible to other users of the machine (ps, /proc) and end up in shell history.

One trailing newline (\n or \r\n) is removed from piped or file input, so
'echo VALUE | keyward set KEY' stores VALUE; --no-trim keeps it. An empty
value is refused unless --allow-empty.

--if-version V makes the write conditional: it fails with exit code 6 unless
the current version is V ("0" means the key must not exist yet).

set prints the new version on stderr, never the value; --json prints the
version metadata on stdout.`,
		Example: `  keyward set JWT_SECRET_KEY --generate urlsafe
  keyward set SESSION_KEY --generate hex:32
  keyward set DATABASE_URL                      # prompts without echo
  printf '%s' "$DATABASE_URL" | keyward set DATABASE_URL
  keyward set TLS_KEY --from-file server.key --no-trim
  keyward set API_KEY --if-version 3 < new-key.txt`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Key = args[0]
			if opts.Key == "" {
				return cmdutil.FlagErrorf("KEY must not be empty")
			}
			if err := dotenv.ValidKey(opts.Key); err != nil {
				// The portable name set: what a .env file, an environment
				// variable (run), a Kubernetes Secret and a Docker secret file
				// can all carry. A key outside it could never be delivered.
				return cmdutil.FlagErrorf("KEY %q cannot be carried by export (dotenv, shell, kubernetes, docker) or run: use letters, digits and _ . -", opts.Key)
			}
			if opts.FromFile != "" && opts.Generate != "" {
				return cmdutil.FlagErrorf("--from-file and --generate cannot be used together")
			}
			if opts.Generate != "" {
				if _, err := gen.Parse(opts.Generate); err != nil {
					return cmdutil.FlagErrorf("--generate: %s", trimKeyward(err))
				}
			}
			return cmdutil.Run(cmd, opts, runF, run)
		},
	}
	cmd.Flags().StringVar(&opts.FromFile, "from-file", "", "Read the value from this file (\"-\" for stdin)")
	cmd.Flags().StringVar(&opts.Generate, "generate", "", "Generate the value with RECIPE[:SIZE] (urlsafe, base64, hex, uuid, alnum, passphrase…)")
	cmd.Flags().BoolVar(&opts.NoTrim, "no-trim", false, "Keep a trailing newline of piped or file input")
	cmd.Flags().BoolVar(&opts.AllowEmpty, "allow-empty", false, "Allow storing an empty value")
	cmd.Flags().StringVar(&opts.IfVersion, "if-version", "", "Only write if the current version is this one (\"0\": only if the key does not exist)")
	cmdutil.AddJSONFlag(cmd, &opts.JSON)
	return cmd
}

func trimKeyward(err error) string {
	const p = "keyward: failed to generate: invalid argument: "
	s := err.Error()
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

// Output is set's --json shape. It never holds the value.
type Output struct {
	Key         string     `json:"key"`
	Store       string     `json:"store"`
	StoreSource string     `json:"store_source,omitempty"`
	Version     string     `json:"version"`
	Created     *time.Time `json:"created,omitempty"`
	Length      int        `json:"length"`
	Generated   string     `json:"generated,omitempty"` // the recipe, when --generate was used
}

func run(ctx context.Context, opts *Options) error {
	value, err := readValue(ctx, opts)
	if err != nil {
		return err
	}
	if value.IsZero() && !opts.AllowEmpty {
		return cmdutil.WithHint(keyward.Errorf(keyward.InvalidArgument, "set", "the value for %q is empty", opts.Key),
			"pipe or type a value, or pass --allow-empty to store an empty one")
	}
	s, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	if opts.Check != nil {
		// A value that breaks keyward.yaml's rules is stored anyway (a
		// development value may be rough), with a warning per rule.
		for _, msg := range opts.Check(opts.Key, s.Environment(), value) {
			fmt.Fprintf(opts.IO.ErrOut, "keyward: warning: %s %s\n", opts.Key, msg)
		}
	}
	ver, err := s.Put(ctx, opts.Key, value, &keyward.PutOptions{IfVersion: opts.IfVersion})
	if err != nil {
		switch keyward.ErrorCode(err) {
		case keyward.FailedPrecondition:
			if opts.IfVersion != "" {
				return cmdutil.WithHint(err, fmt.Sprintf("the current version of %s is not %s; 'keyward history %s' shows it", opts.Key, opts.IfVersion, opts.Key))
			}
		case keyward.Unimplemented:
			if opts.IfVersion != "" && s.Can("put") {
				return cmdutil.WithHint(err, "this store cannot check-and-set atomically; write without --if-version, or keep the key where check-and-set is atomic",
					cmdutil.ProvidersHint("check-and-set atomically"))
			}
			return cmdutil.WithHint(err, "this store is read-only; pick a writable one with --store", cmdutil.ProvidersHint("write secrets"))
		}
		return err
	}
	if opts.JSON {
		out := Output{Key: opts.Key, Store: s.URL(), StoreSource: opts.Sources.Of(s), Version: ver.ID, Length: value.Len()}
		if !ver.Created.IsZero() {
			c := ver.Created.UTC()
			out.Created = &c
		}
		if opts.Generate != "" {
			sp, _ := gen.Parse(opts.Generate)
			out.Generated = sp.String()
		}
		return cmdutil.WriteJSON(opts.IO.Out, out)
	}
	how := ""
	if opts.Generate != "" {
		how = " (generated)"
	}
	_, err = fmt.Fprintf(opts.IO.ErrOut, "Set %s version %s in %s%s\n", opts.Key, ver.ID, s.URL(), how)
	return err
}

func readValue(ctx context.Context, opts *Options) (keyward.Secret, error) {
	if opts.Generate != "" {
		return gen.GenerateSpec(opts.Generate)
	}
	trim := !opts.NoTrim
	if opts.FromFile != "" && opts.FromFile != "-" {
		// The user's own flag: a FIFO or /dev/stdin is allowed (<(cmd)),
		// a directory or socket is not; reading is bounded and gives up on
		// SIGINT/SIGTERM, even while the open waits for a FIFO's writer.
		b, err := fsutil.ReadUserFile(ctx, opts.FromFile, cmdutil.MaxSecretSize)
		if err != nil {
			return keyward.Secret{}, fileErr(opts.FromFile, err)
		}
		if trim {
			b = fsutil.TrimNewline(b)
		}
		return keyward.NewSecret(b), nil
	}
	if opts.IO.IsStdinTTY() && opts.FromFile == "" {
		fmt.Fprintf(opts.IO.ErrOut, "Value for %s (input is hidden): ", opts.Key)
		read := opts.ReadHidden
		if read == nil {
			read = func() ([]byte, error) { return readTerminal(opts.IO.In) }
		}
		b, err := read()
		fmt.Fprintln(opts.IO.ErrOut)
		if err != nil {
			return keyward.Secret{}, keyward.NewError(keyward.Unknown, "read the value from the terminal", err)
		}
		return keyward.NewSecret(b), nil
	}
	b, err := cmdutil.ReadSecretInput(ctx, opts.IO.In, cmdutil.MaxSecretSize, trim)
	if err != nil {
		return keyward.Secret{}, cmdutil.InputError("read the value from stdin", err)
	}
	return keyward.NewSecret(b), nil
}

func readTerminal(in io.Reader) ([]byte, error) {
	f, ok := in.(interface{ Fd() uintptr })
	if !ok {
		return nil, errors.New("stdin is not a terminal")
	}
	return term.ReadPassword(int(f.Fd()))
}

// fileErr names the file and classifies the error without repeating the
// path twice.
func fileErr(path string, err error) error {
	if errors.Is(err, context.Canceled) {
		return cmdutil.InputError("read "+path, err)
	}
	return keyward.NewError(fsutil.Code(err), "read "+path, fsutil.StripPath(err))
}
