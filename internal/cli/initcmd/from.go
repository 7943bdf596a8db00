package initcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/gen"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/internal/dotenv"
	"github.com/keyward/keyward/internal/fsutil"
	"github.com/keyward/keyward/provider/local"
	"github.com/keyward/keyward/schema"
)

// fromMode is `keyward init --from .env.example`: fill the development
// store with a generated value for every secret whose keyward.yaml spec
// has a recipe, and leave the others empty.
type fromMode struct {
	path  string
	force bool

	// values are the file's values; example is set for a committed example
	// (.env.example, …), whose literal values are non-secret defaults, and
	// clear for a .env holding real values, which is imported as it is.
	values  map[string]string
	example bool
	prod    bool // the target is a production environment: copy no example values
	warn    func(dotenv.Warning)

	// Dependencies, from the Factory.
	loadConfig   func() (*schema.Config, error)
	resolveStore func() (url, env, source string, err error)
	resolveEnv   func(name string) (string, error)
}

// FromResult is `init --from`'s --json output. It lists names, never values.
type FromResult struct {
	Store       string   `json:"store"`
	File        string   `json:"file,omitempty"`
	Environment string   `json:"environment,omitempty"`
	Generated   []string `json:"generated"`
	Empty       []string `json:"empty"`
	Kept        []string `json:"kept"`
	// Copied are values taken from the file: an example's literal defaults
	// (REDIS_URL=redis://localhost:6379/0), or every value of an imported .env.
	Copied []string `json:"copied"`
	// Why says, for each name that was not generated, why not (never a value).
	Why            map[string]string `json:"why,omitempty"`
	GitignoreAdded bool              `json:"gitignore_added,omitempty"`
	// IdentityCreated is set when filling a local store made a new identity.
	IdentityCreated string `json:"identity_created,omitempty"`
}

func addFromFlags(cmd *cobra.Command, f *cmdutil.Factory) *fromMode {
	m := &fromMode{
		loadConfig: func() (*schema.Config, error) { return f.Project() },
		resolveStore: func() (string, string, string, error) {
			return f.ResolveStoreURL()
		},
		resolveEnv: func(name string) (string, error) {
			if f.ResolveEnv == nil {
				return "", keyward.Errorf(keyward.InvalidArgument, "init", "no keyward.yaml support")
			}
			return f.ResolveEnv(name)
		},
	}
	cmd.Flags().StringVar(&m.path, "from", "", "Fill the development store from this .env.example (or import this .env); generate what keyward.yaml can")
	cmd.Long += `

With --from .env.example, init fills the development store instead: the
--store or --env store, else keyward.yaml's development environment, else
.env in the current directory. Every name in the example (and every secret
in keyward.yaml) whose spec has generate: gets a fresh value; a literal
non-secret default in the example (REDIS_URL=redis://localhost:6379/0) is
copied; placeholders (changeme, postgresql://..., sk_test_...) and empty
values are left empty, and the summary says why each was not generated.
A file that is not an example (.env rather than .env.example, .sample,
.template, .dist, .tmpl, .defaults) is imported: its values are copied as
they are, and only names it leaves empty are generated. A .env file is
written with mode 0600 and added to .gitignore. Existing values are kept;
--force regenerates the ones keyward.yaml can generate, or re-imports an
imported file's values (it never empties a value).`
	cmd.Example += `
  keyward init --from .env.example
  keyward init --from .env                     # import an existing .env into keyward.age
  keyward init --from .env.example --env development --force`
	return m
}

// active reports whether --from was given.
func (m *fromMode) active() bool { return m != nil && m.path != "" }

func (m *fromMode) run(ctx context.Context, opts *Options) error {
	m.force = opts.Force
	m.warn = func(w dotenv.Warning) { fmt.Fprintln(opts.IO.ErrOut, "keyward: warning: "+w.String()) }
	if len(opts.AddRecipients) > 0 {
		return cmdutil.FlagErrorf("--from and --add-recipient cannot be used together")
	}
	names, err := m.exampleNames()
	if err != nil {
		return err
	}
	cfg, err := m.loadConfig()
	if err != nil {
		return err
	}
	url, env, err := m.target(cfg)
	if err != nil {
		return err
	}
	m.prod = cfg != nil && env != "" && cfg.Environments[env] != nil && cfg.Environments[env].IsProduction()
	if cfg != nil {
		for _, n := range cfg.Order {
			if !containsName(names, n) {
				names = append(names, n)
			}
		}
	}
	recipe := func(name string) string {
		if cfg == nil || cfg.Secrets[name] == nil {
			return ""
		}
		return cfg.Secrets[name].For(env).Generate
	}
	res := &FromResult{Environment: env, Generated: []string{}, Empty: []string{}, Kept: []string{}, Copied: []string{}}
	u, err := keyward.ParseStoreURL(url)
	if err != nil {
		return err
	}
	res.Store = keyward.RedactURL(u)
	switch u.Scheme {
	case "dotenv":
		err = m.fillDotenv(u.Host+u.Path, names, recipe, res)
	case local.Scheme:
		// Let init make the identity and the store, then fill it. --force
		// means "replace values" here, never "replace the store".
		o := *opts
		o.Force, o.JSON = false, true
		o.IO = quietIO(opts)
		o.StoreURL = func() (string, string, error) { return url, "--from", nil }
		o.Steps = append(append([]Step(nil), opts.Steps...), func(ctx context.Context, _ *Options, r *Result) error {
			if r.IdentityCreated {
				res.IdentityCreated = r.Identity
			}
			s, err := r.OpenStore(ctx)
			if err != nil {
				return err
			}
			return m.fillStore(ctx, s, names, recipe, res)
		})
		err = run(ctx, &o)
	default:
		var s *keyward.Store
		if s, err = opts.OpenURL(ctx, url); err == nil {
			err = m.fillStore(ctx, s, names, recipe, res)
		}
	}
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, res)
	}
	return printFrom(opts, res)
}

func (m *fromMode) exampleNames() ([]string, error) {
	b, err := fsutil.ReadFile(m.path, fsutil.MaxDotenvFile)
	if err != nil {
		return nil, readErr(m.path, err)
	}
	var names []string
	m.values = map[string]string{}
	m.example = schema.IsExampleFile(filepath.Base(m.path))
	if m.example {
		for _, kv := range schema.ParseExample(b) {
			if !containsName(names, kv.Key) {
				names = append(names, kv.Key)
			}
			m.values[kv.Key] = kv.Value
		}
	} else {
		// A real .env: read it as the dotenv:// provider does.
		es, err := dotenv.Parse(b, &dotenv.Options{Name: m.path, Warn: m.warn})
		if err != nil {
			return nil, keyward.NewError(keyward.InvalidArgument, "init", err)
		}
		for _, e := range es {
			if !containsName(names, e.Key) {
				names = append(names, e.Key)
			}
		}
		m.values = dotenv.Map(es)
	}
	if len(names) == 0 {
		return nil, keyward.Errorf(keyward.InvalidArgument, "init", "%s has no KEY=VALUE lines", m.path)
	}
	return names, nil
}

// target picks the store to fill: --store or --env; else keyward.yaml's
// development environment (or its default environment, unless that is
// production); else .env in the current directory.
func (m *fromMode) target(cfg *schema.Config) (url, env string, err error) {
	u, env, source, err := m.resolveStore()
	if err != nil {
		return "", "", err
	}
	switch source {
	case "--store", "--env", "KEYWARD_STORE", "SECRET_PROVIDER":
		return u, env, nil
	}
	if cfg != nil {
		pick := ""
		if _, ok := cfg.Environments["development"]; ok {
			pick = "development"
		} else if d := cfg.DefaultEnvironment; d != "" && !cfg.Environments[d].IsProduction() {
			pick = d
		}
		if pick != "" {
			u, err := m.resolveEnv(pick)
			return u, pick, err
		}
	}
	return "dotenv://.env", "", nil
}

// copyValue says whether name's value in the --from file is copied, and
// why a name is not generated. An imported .env's values always win; an
// example's value is copied only when keyward.yaml has no recipe for the
// name and the value is a literal default rather than a placeholder.
func (m *fromMode) copyValue(name, recipe string) (value string, ok bool, why string) {
	file := filepath.Base(m.path)
	v, has := m.values[name]
	switch {
	case !m.example && has && v != "":
		return v, true, "imported from " + file
	case recipe != "":
		return "", false, ""
	case !has:
		return "", false, "no generate: recipe in keyward.yaml, and " + file + " does not name it"
	case v == "":
		return "", false, "no generate: recipe in keyward.yaml, and " + file + " leaves it empty"
	case !m.example:
		return "", false, "no generate: recipe in keyward.yaml"
	case m.prod:
		return "", false, "no generate: recipe in keyward.yaml; example values are never copied into a production environment"
	}
	if r := schema.PlaceholderReason(v); r != "" {
		return "", false, "no generate: recipe in keyward.yaml, and the value in " + file + " " + r
	}
	return v, true, "no generate: recipe in keyward.yaml; the literal default from " + file
}

// keeps says whether a value the target already has stays: always
// without --force; with it, unless keyward.yaml can generate the name or
// an imported (non-example) file gives its value.
func (m *fromMode) keeps(recipe string, copyOK bool) bool {
	return !m.force || (recipe == "" && !(copyOK && !m.example))
}

func (r *FromResult) copied(n, why string) {
	r.Copied = append(r.Copied, n)
	r.because(n, why)
}

func (r *FromResult) empty(n, why string) {
	r.Empty = append(r.Empty, n)
	r.because(n, why)
}

func (r *FromResult) because(n, why string) {
	if why == "" {
		return
	}
	if r.Why == nil {
		r.Why = map[string]string{}
	}
	r.Why[n] = why
}

func containsName(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func generate(spec string) (keyward.Secret, error) {
	s, err := gen.GenerateSpec(spec)
	if err != nil {
		return keyward.Secret{}, err
	}
	return s, nil
}

// fillStore puts a generated value for each name with a recipe that has no
// value yet (or any value, with --force), and the values copyValue copies
// from the file; names without either are listed as empty unless the store
// has them. Everything is written with one PutMany: in one atomic write
// where the store can (local), so a failure leaves the store as it was.
func (m *fromMode) fillStore(ctx context.Context, s *keyward.Store, names []string, recipe func(string) string, res *FromResult) error {
	var items []keyward.PutItem
	// One listing tells which names exist (a new store: none), where the
	// store can list; else one Get per name.
	var present map[string]bool
	if s.Can("list") {
		infos, err := s.List(ctx)
		if err == nil || keyward.ErrorCode(err) == keyward.NotFound {
			present = map[string]bool{}
			for _, in := range infos {
				present[in.Key] = true
			}
		}
	}
	for _, n := range names {
		var exists bool
		if present != nil {
			exists = present[n]
		} else {
			_, err := s.Get(ctx, n)
			exists = err == nil
			if err != nil && keyward.ErrorCode(err) != keyward.NotFound {
				return err
			}
		}
		r := recipe(n)
		lit, copyOK, why := m.copyValue(n, r)
		switch {
		case exists && m.keeps(r, copyOK):
			res.Kept = append(res.Kept, n)
		case copyOK:
			items = append(items, keyward.PutItem{Key: n, Value: keyward.NewSecretString(lit)})
			res.copied(n, why)
		case r == "":
			res.empty(n, why)
		default:
			v, err := generate(r)
			if err != nil {
				return err
			}
			items = append(items, keyward.PutItem{Key: n, Value: v})
			res.Generated = append(res.Generated, n)
		}
	}
	if len(items) > 0 {
		if _, err := s.PutMany(ctx, items); err != nil {
			return err
		}
	}
	return nil
}

// fillDotenv writes the .env file: existing values are kept (replaced by a
// new generated value only with --force), new names are added with a
// generated or empty value. The file is written 0600 through a temporary
// file and a rename, and added to .gitignore.
func (m *fromMode) fillDotenv(path string, names []string, recipe func(string) string, res *FromResult) error {
	if path == "" {
		return keyward.Errorf(keyward.InvalidArgument, "init", "the dotenv store URL names no file")
	}
	res.File = path
	old, err := fsutil.ReadFile(path, fsutil.MaxDotenvFile)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return readErr(path, err)
	}
	var entries []dotenv.Entry
	if exists {
		if entries, err = dotenv.Parse(old, &dotenv.Options{Name: path, NoInterpolate: true}); err != nil {
			return keyward.NewError(keyward.InvalidArgument, "init", err)
		}
	}
	current := dotenv.Map(entries)
	replaced := map[string]string{}
	var added []dotenv.Entry
	for _, n := range names {
		val, has := current[n]
		r := recipe(n)
		lit, copyOK, why := m.copyValue(n, r)
		switch {
		case has && val != "" && m.keeps(r, copyOK):
			res.Kept = append(res.Kept, n)
		case copyOK:
			if has {
				replaced[n] = lit
			} else {
				added = append(added, dotenv.Entry{Key: n, Value: lit})
			}
			res.copied(n, why)
		case r == "":
			if !has {
				added = append(added, dotenv.Entry{Key: n})
			}
			res.empty(n, why)
		default:
			v, err := generate(r)
			if err != nil {
				return err
			}
			if has {
				replaced[n] = v.RevealString()
			} else {
				added = append(added, dotenv.Entry{Key: n, Value: v.RevealString()})
			}
			res.Generated = append(res.Generated, n)
		}
	}
	if len(replaced) == 0 && len(added) == 0 {
		if !exists {
			return nil
		}
		ok, err := ensureIgnored(path)
		res.GitignoreAdded = ok
		return err
	}
	// Everything already in the file stays byte for byte (comments,
	// quoting, ${VAR} references), except the one-line statements of values
	// being regenerated; new statements go at the end, where they win.
	var out strings.Builder
	lines := strings.SplitAfter(string(old), "\n")
	drop := map[int]bool{}
	for _, e := range entries {
		if _, ok := replaced[e.Key]; !ok || e.Line < 1 || e.Line > len(lines) {
			continue
		}
		one, err := dotenv.Parse([]byte(lines[e.Line-1]), &dotenv.Options{NoInterpolate: true})
		if err == nil && len(one) == 1 && one[0].Key == e.Key {
			drop[e.Line-1] = true
		}
	}
	for i, l := range lines {
		if !drop[i] {
			out.WriteString(l)
		}
	}
	if s := out.String(); s != "" && !strings.HasSuffix(s, "\n") {
		out.WriteByte('\n')
	}
	if !exists {
		fmt.Fprintf(&out, "# Written by keyward init --from %s. Never commit this file.\n", filepath.Base(m.path))
	}
	var es []dotenv.Entry
	for _, n := range names {
		if v, ok := replaced[n]; ok {
			es = append(es, dotenv.Entry{Key: n, Value: v})
		}
	}
	if err := dotenv.Write(&out, append(es, added...)); err != nil {
		return keyward.NewError(keyward.InvalidArgument, "init", err)
	}
	if err := writeFileAtomic(path, []byte(out.String())); err != nil {
		return err
	}
	added2, err := ensureIgnored(path)
	res.GitignoreAdded = added2
	return err
}

// readErr is init's error for a failed read of path (other than its
// absence): a file that is not regular or over its limit as fsutil says
// it, else "cannot read PATH" with the cause.
func readErr(path string, err error) error {
	var fe *fsutil.Error
	if errors.As(err, &fe) {
		return keyward.NewError(keyward.InvalidArgument, "init", fe)
	}
	return keyward.Errorf(fsutil.Code(err), "init", "cannot read %s: %v", path, fsutil.StripPath(err))
}

// writeFileAtomic replaces path with data, mode 0600 (fsutil.WriteFile).
func writeFileAtomic(path string, data []byte) error {
	if err := fsutil.WriteFile(path, data, nil); err != nil {
		return keyward.Errorf(fsutil.Code(err), "init", "cannot write %s: %v", path, fsutil.StripPath(err))
	}
	return nil
}

// ensureIgnored adds the file's name to .gitignore in its directory unless
// a line there already names it.
func ensureIgnored(path string) (bool, error) {
	dir, base := filepath.Split(path)
	gi := filepath.Join(dir, ".gitignore")
	b, err := fsutil.ReadFile(gi, fsutil.MaxSmallFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, readErr(gi, err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == base || l == "/"+base || l == ".env*" || l == "*.env" && strings.HasSuffix(base, ".env") {
			return false, nil
		}
	}
	add := base + "\n"
	if len(b) > 0 && b[len(b)-1] != '\n' {
		add = "\n" + add
	}
	f, err := os.OpenFile(gi, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return false, keyward.Errorf(fsutil.Code(err), "init", "cannot update %s: %v", gi, fsutil.StripPath(err))
	}
	if _, err := f.WriteString(add); err != nil {
		f.Close()
		return false, keyward.Errorf(fsutil.Code(err), "init", "cannot update %s: %v", gi, fsutil.StripPath(err))
	}
	return true, f.Close()
}

func printFrom(opts *Options, res *FromResult) error {
	var b strings.Builder
	where := res.Store
	if res.File != "" {
		where = res.File + " (mode 0600)"
	}
	if res.IdentityCreated != "" {
		fmt.Fprintf(&b, "Created identity %s\n  It is your private key: keep it private and back it up; never commit it.\n", res.IdentityCreated)
	}
	fmt.Fprintf(&b, "Filled %s\n", where)
	line := func(label string, names []string, tail string) {
		sorted := append([]string(nil), names...)
		sort.Strings(sorted)
		for _, n := range sorted {
			t := tail
			if w := res.Why[n]; w != "" {
				t = " (" + w + ")"
			}
			fmt.Fprintf(&b, "  %-10s %s%s\n", label, n, t)
		}
	}
	line("generated", res.Generated, "")
	line("copied", res.Copied, "")
	line("kept", res.Kept, " (already set; --force regenerates values keyward.yaml can generate)")
	line("empty", res.Empty, "")
	if res.GitignoreAdded {
		fmt.Fprintf(&b, "Added %s to .gitignore\n", filepath.Base(res.File))
	}
	if n := len(res.Empty); n > 0 {
		values := cmdutil.Count(n, "empty value")
		if res.File != "" {
			fmt.Fprintf(&b, "Fill in the %s in %s.\n", values, res.File)
		} else {
			fmt.Fprintf(&b, "Set the %s with: keyward set NAME\n", values)
		}
	}
	_, err := fmt.Fprint(opts.IO.Out, b.String())
	return err
}

// quietIO returns streams whose stdout is discarded (init's own summary is
// replaced by --from's).
func quietIO(opts *Options) *iostreams.IOStreams {
	c := *opts.IO
	c.Out = io.Discard
	return &c
}
