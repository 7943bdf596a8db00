// Package export implements `keyward export`, and shares with template,
// diff, copy and run how references and named stores are opened.
package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/export"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/internal/dotenv"
	"github.com/keyward/keyward/internal/fsutil"
)

// Options are export's inputs.
type Options struct {
	IO        *iostreams.IOStreams
	OpenStore func(context.Context) (*keyward.Store, error)
	Resolver  func() *keyward.Resolver

	Format    string
	Only      []string
	Output    string
	Force     bool
	NoResolve bool
	JSON      bool

	// kubernetes
	Name, Namespace       string
	Labels                map[string]string
	DeploymentSnippet     bool
	Deployment, Container string

	// docker, compose
	MountDir   string
	Service    string
	SecretsDir string
	External   bool

	// Ring says how key rings in grace are delivered (KEY_OLD, numbered).
	Ring         export.RingOptions
	NumberedRing bool
}

var formatFlags = map[string][]string{
	"name": {export.FormatKubernetes}, "namespace": {export.FormatKubernetes}, "label": {export.FormatKubernetes},
	"with-deployment-snippet": {export.FormatKubernetes}, "deployment": {export.FormatKubernetes}, "container": {export.FormatKubernetes},
	"force": {export.FormatDocker}, "json": {export.FormatDocker},
	"mount":   {export.FormatDocker, export.FormatCompose},
	"service": {export.FormatCompose}, "secrets-dir": {export.FormatCompose}, "external": {export.FormatCompose},
}

// NewCmd builds the command; runF replaces the run function in tests.
func NewCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, OpenStore: f.OpenStore, Resolver: f.Resolver}
	var labels []string
	cmd := &cobra.Command{
		Use:   "export [--format FORMAT] [--only K1,K2] [-o PATH]",
		Short: "Render the store's secrets as .env, JSON, shell, a Kubernetes Secret, Docker secret files or compose stanzas",
		Long: `Render the store's secrets (or the keys given with --only) for where they are
delivered. The output goes to stdout, or to the file named with -o (written
0600, atomically). export writes plaintext only where you ask it to.

Formats:
  dotenv      KEY=value lines, quoted so that keyward, Docker Compose and
              python-dotenv (interpolation on) read back the exact bytes:
              newlines, quotes, backticks, $, backslashes, Unicode. The few
              values python-dotenv cannot read back in any quoting (${...},
              or $ with a CR, \\ or \') get a warning naming the key
  json        one JSON object, key → value
  shell       export KEY='value' lines for eval "$(keyward export --format shell)"
  kubernetes  a v1 Secret (readable values under stringData, the rest base64
              under data, so kubectl apply --server-side takes every value)
              named --name, with --namespace and
              --label k=v, and a keyward.dev/checksum annotation over the
              content; --with-deployment-snippet adds (as comments) the
              Deployment's envFrom: secretRef and the same checksum on the pod
              template, so pods roll when a value changes
  docker      one file per secret in the directory -o DIR (created 0700; files
              0400, named by the key in lower case); prints the KEY_FILE=
              /run/secrets/key mapping for the application. A non-empty DIR
              needs --force; a symlinked or world-writable DIR is refused
  compose     the secrets: stanzas of a compose file for service --service:
              the service's secrets list, KEY_FILE environment variables, and
              top-level secrets (file: --secrets-dir/key, or external: true
              with --external). No values.

While a key has a previous value in its rotation grace period, every format
also carries KEY_OLD holding it (the docker format: a key_old file), and
with --numbered-ring KEY_0 (current), KEY_1, …; a bundle's stored
KEY_OLD/KEY_ROTATION/KEY_PENDING fields are not exported as such.

Values that are references (ref+SCHEME://…#/KEY, keyward://ENV/KEY) are
resolved through their stores first, unless --no-resolve. A stored
reference may name only this store, or stores you allow with --allow-ref
(see docs/delivery.md); env:// and file:// references always need one. A value a format
cannot hold (a NUL byte in dotenv or shell, invalid UTF-8 in dotenv or
JSON) is an error that names the key.`,
		Example: `  keyward export --format dotenv -o .env.production --env production
  eval "$(keyward export --format shell --only DATABASE_URL)"
  keyward export --format kubernetes --name dharmamind-secrets --namespace prod | kubectl apply --server-side -f -
  keyward export --format docker -o ./secrets
  keyward export --format compose --service backend --external`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = strings.ToLower(opts.Format)
			if !slices.Contains(export.Formats, opts.Format) {
				return cmdutil.FlagErrorf("--format must be one of %s", strings.Join(export.Formats, ", "))
			}
			for name, formats := range formatFlags {
				if cmd.Flags().Changed(name) && !slices.Contains(formats, opts.Format) {
					return cmdutil.FlagErrorf("--%s only applies to --format %s", name, strings.Join(formats, " or "))
				}
			}
			if err := cmdutil.CleanOnly(opts.Only); err != nil {
				return err
			}
			if opts.Format == export.FormatDocker && opts.Output == "" {
				return cmdutil.FlagErrorf("--format docker needs the directory to write into: -o DIR")
			}
			labelMap, err := cmdutil.ParseLabels(labels)
			if err != nil {
				return err
			}
			opts.Labels = labelMap
			ro, err := RingOptions(f, opts.NumberedRing)
			if err != nil {
				return err
			}
			opts.Ring = ro
			return cmdutil.Run(cmd, opts, runF, run)
		},
	}
	AddRingFlags(cmd, &opts.NumberedRing)
	fl := cmd.Flags()
	fl.StringVarP(&opts.Format, "format", "f", export.FormatDotenv, "Output format: "+strings.Join(export.Formats, ", "))
	fl.StringSliceVar(&opts.Only, "only", nil, "Only these keys (comma-separated or repeated)")
	fl.StringVarP(&opts.Output, "output", "o", "", "Write to this file (0600) instead of stdout; for docker, the directory")
	fl.BoolVar(&opts.NoResolve, "no-resolve", false, "Export references as they are instead of resolving them")
	fl.StringVar(&opts.Name, "name", "app-secrets", "kubernetes: the Secret's name")
	fl.StringVar(&opts.Namespace, "namespace", "", "kubernetes: the Secret's namespace")
	fl.StringArrayVar(&labels, "label", nil, "kubernetes: a label KEY=VALUE (repeatable)")
	fl.BoolVar(&opts.DeploymentSnippet, "with-deployment-snippet", false, "kubernetes: add the Deployment envFrom snippet (as comments)")
	fl.StringVar(&opts.Deployment, "deployment", "app", "kubernetes: the Deployment's name in the snippet")
	fl.StringVar(&opts.Container, "container", "app", "kubernetes: the container's name in the snippet")
	fl.BoolVar(&opts.Force, "force", false, "docker: write into a directory that is not empty")
	fl.StringVar(&opts.MountDir, "mount", export.DefaultMountDir, "docker, compose: where the container sees the secret files")
	fl.StringVar(&opts.Service, "service", "app", "compose: the service that gets the secrets")
	fl.StringVar(&opts.SecretsDir, "secrets-dir", "./secrets", "compose: the directory of the secret files, relative to the compose file")
	fl.BoolVar(&opts.External, "external", false, "compose: declare the secrets external: true (created with docker secret create)")
	fl.BoolVar(&opts.JSON, "json", false, "docker: print the key → file mapping as JSON")
	return cmd
}

func run(ctx context.Context, opts *Options) error {
	s, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	keys, _, err := cmdutil.SelectKeys(ctx, s, opts.Only)
	if err != nil {
		return err
	}
	es, err := readEntries(ctx, s, keys, opts.Ring)
	if err != nil {
		return err
	}
	if opts.Format == export.FormatCompose {
		keys = keys[:0:0]
		for _, e := range es {
			keys = append(keys, e.Key)
		}
		var buf strings.Builder
		if err := export.Compose(&buf, keys, export.ComposeOptions{Service: opts.Service, External: opts.External, SecretsDir: opts.SecretsDir, MountDir: opts.MountDir}); err != nil {
			return err
		}
		return output(opts, []byte(buf.String()))
	}
	if !opts.NoResolve {
		r := opts.Resolver()
		if err := export.ResolveRefs(ctx, r, es); err != nil {
			return err
		}
	}
	var buf strings.Builder
	switch opts.Format {
	case export.FormatDotenv:
		if err = export.Dotenv(&buf, es); err == nil {
			warnNotPortable(opts, es)
		}
	case export.FormatJSON:
		err = export.JSON(&buf, es)
	case export.FormatShell:
		err = export.Shell(&buf, es)
	case export.FormatKubernetes:
		err = export.Kubernetes(&buf, es, export.KubernetesOptions{
			Name: opts.Name, Namespace: opts.Namespace, Labels: opts.Labels,
			DeploymentSnippet: opts.DeploymentSnippet, Deployment: opts.Deployment, Container: opts.Container,
		})
	case export.FormatDocker:
		return writeDocker(opts, es)
	}
	if err != nil {
		return err
	}
	return output(opts, []byte(buf.String()))
}

func writeDocker(opts *Options, es []export.Entry) error {
	maps, err := export.WriteDocker(opts.Output, es, export.DockerOptions{Force: opts.Force, MountDir: opts.MountDir})
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "keyward: wrote %s to %s\n", cmdutil.Count(len(maps), "secret file"), opts.Output)
	WarnIfCommittable(opts.IO.ErrOut, opts.Output)
	if opts.JSON {
		if maps == nil {
			maps = []export.FileMapping{}
		}
		return cmdutil.WriteJSON(opts.IO.Out, maps)
	}
	for _, m := range maps {
		fmt.Fprintf(opts.IO.Out, "%s=%s\n", m.Var, m.Path)
	}
	return nil
}

func output(opts *Options, b []byte) error {
	if opts.Output == "" {
		_, err := opts.IO.Out.Write(b)
		return err
	}
	if fi, err := os.Stat(opts.Output); err == nil && fi.IsDir() {
		return keyward.Errorf(keyward.InvalidArgument, "export", "-o %s is a directory", opts.Output)
	}
	if err := export.WriteFileAtomic(opts.Output, b, 0o600); err != nil {
		return keyward.Errorf(fsutil.Code(err), "export", "cannot write %s: %v", opts.Output, fsutil.StripPath(err))
	}
	fmt.Fprintf(opts.IO.ErrOut, "keyward: wrote %s (mode 0600)\n", opts.Output)
	WarnIfCommittable(opts.IO.ErrOut, opts.Output)
	return nil
}

// warnNotPortable names (never shows) the values python-dotenv would not
// read back from a dotenv export.
func warnNotPortable(opts *Options, es []export.Entry) {
	for _, e := range es {
		if why := dotenv.Portable(e.Value.RevealString()); why != "" {
			fmt.Fprintf(opts.IO.ErrOut, "keyward: warning: %s: python-dotenv will not read this value back exactly (%s), and may misread the lines after it; keyward and Docker Compose read it exactly\n", e.Key, why)
		}
	}
}

// WarnIfCommittable warns when a plaintext file keyward wrote is inside a
// git work tree and git does not ignore it: one 'git add .' from a leak.
// Outside a work tree, or without git, it says nothing.
func WarnIfCommittable(w io.Writer, path string) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return
	}
	dir, base := filepath.Split(abs)
	if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
		dir, base = abs, "."
	}
	inside := exec.Command("git", "-C", dir, "rev-parse", "--is-inside-work-tree")
	if out, err := inside.Output(); err != nil || strings.TrimSpace(string(out)) != "true" {
		return
	}
	err = exec.Command("git", "-C", dir, "check-ignore", "-q", "--", base).Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 1 {
		fmt.Fprintf(w, "keyward: warning: %s holds plaintext secrets inside a git work tree and is not ignored; add it to .gitignore\n", path)
	}
}

// readEntries reads keys' values and key rings (KEY_OLD while a previous
// value is in grace); any key that cannot be read fails the whole export
// (nothing is written).
func readEntries(ctx context.Context, s *keyward.Store, keys []string, ro export.RingOptions) ([]export.Entry, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	es, err := DeliveryEntries(ctx, s, keys, ro, false)
	if err != nil {
		return nil, cmdutil.MissingKeysHint(err)
	}
	return es, nil
}
