// Package template implements `keyward template`: render a text/template
// file with secrets and references into a 0600 file written atomically.
package template

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/template"
	"text/template/parse"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/export"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	cliexport "github.com/keyward/keyward/internal/cli/export"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/internal/fsutil"
	"github.com/keyward/keyward/internal/lazyre"
)

// Options are template's inputs.
type Options struct {
	IO        *iostreams.IOStreams
	OpenStore func(context.Context) (*keyward.Store, error)
	Resolver  func() *keyward.Resolver

	In        string
	Out       string
	NoResolve bool

	// Ring says how key rings in grace are named (KEY_OLD, numbered); see ring.go.
	Ring         export.RingOptions
	NumberedRing bool
}

// NewCmd builds the command; runF replaces the run function in tests.
func NewCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, OpenStore: f.OpenStore, Resolver: f.Resolver}
	cmd := &cobra.Command{
		Use:   "template IN [-o OUT]",
		Short: "Render a file with secrets into a 0600 file",
		Long: `Render IN, a Go text/template, with the store's secrets, and write the result
to OUT (created 0600 through a temporary file and a rename, so a failed
render leaves OUT as it was) or to stdout.

In the template:
  {{ secret "KEY" }}        the value of KEY in the store (--store / --env)
  {{ ref "ref+vault://…#/KEY" }}, {{ ref "keyward://production/KEY" }}
                            the secret a reference names
  ref+SCHEME://…#/KEY       a reference written as plain text is replaced by
                            its secret too (it ends at whitespace or a quote;
                            end it early with a trailing '+', as vals does)
  {{ secret "KEY_OLD" }}    KEY's most recent previous value while it is in its
                            rotation grace, else "" (the suffix is keyward.yaml's
                            delivery.old_suffix; KEY_0, KEY_1 … with --numbered-ring)
  {{ range ring "KEY" }}    every value of KEY's key ring, current first
  {{ secret "K" | b64enc }}, {{ secret "K" | json }}, {{ secret "K" | shquote }}
                            base64, a JSON string (quotes included), a
                            POSIX-shell single-quoted word

A secret whose value is itself a reference is resolved (one level), unless
--no-resolve. The template is the repository's, so its references, and
references in stored values, may name only the store being read or stores
you allow (--allow-ref; see docs/delivery.md). A key computed while
rendering ({{ secret (print "A" "B") }}) is looked up only when the store
lists it, and never shown in an error; ref takes only a literal reference. Every key and reference is checked before anything is written:
an unknown key is an error at IN:line:column.`,
		Example: `  keyward template config.yaml.tmpl -o config.yaml
  keyward template --env production nginx.conf.tmpl -o /etc/nginx/conf.d/app.conf
  keyward template app.env.tmpl > app.env`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.In = args[0]
			ro, err := cliexport.RingOptions(f, opts.NumberedRing)
			if err != nil {
				return err
			}
			opts.Ring = ro
			return cmdutil.Run(cmd, opts, runF, run)
		},
	}
	cmd.Flags().StringVarP(&opts.Out, "output", "o", "", "Write to this file (0600, atomically) instead of stdout")
	cmd.Flags().BoolVar(&opts.NoResolve, "no-resolve", false, "Do not resolve secret values that are references")
	cliexport.AddRingFlags(cmd, &opts.NumberedRing)
	return cmd
}

// textRef finds a reference written as plain text.
var textRef = lazyre.New(`(?:ref\+[a-z][a-z0-9+.-]*|keyward)://[^\s"'` + "`" + `<>{}|\\^]+`)

// locError puts IN:line:col in front of an error, keeping its code.
type locError struct {
	loc string
	err error
}

func (e *locError) Error() string {
	msg := strings.TrimPrefix(e.err.Error(), "keyward: ")
	if e.loc == "" {
		return "keyward: " + msg
	}
	return "keyward: " + e.loc + ": " + msg
}

func (e *locError) Unwrap() error { return e.err }

type renderer struct {
	ctx      context.Context
	opts     *Options
	src      []byte
	store    *keyward.Store
	resolver *keyward.Resolver
	secrets  map[string]keyward.Secret
	rings    map[string]*keyward.KeyRing
	refs     map[string]keyward.Secret
	keys     map[string]bool // the store's key names, once listed
}

func run(ctx context.Context, opts *Options) error {
	src, err := fsutil.ReadFile(opts.In, fsutil.MaxTemplateFile)
	if err != nil {
		var fe *fsutil.Error
		if errors.As(err, &fe) { // a FIFO, a device, over the limit
			return keyward.NewError(keyward.InvalidArgument, "read template", fe)
		}
		return keyward.Errorf(fsutil.Code(err), "read template", "%s: %v", opts.In, fsutil.StripPath(err))
	}
	r := &renderer{ctx: ctx, opts: opts, src: src, secrets: map[string]keyward.Secret{}, refs: map[string]keyward.Secret{}}
	out, err := r.render()
	if err != nil {
		return err
	}
	if opts.Out == "" {
		_, err := opts.IO.Out.Write(out)
		return err
	}
	if err := export.WriteFileAtomic(opts.Out, out, 0o600); err != nil {
		return keyward.Errorf(fsutil.Code(err), "write", "%s: %v", opts.Out, fsutil.StripPath(err))
	}
	fmt.Fprintf(opts.IO.ErrOut, "keyward: wrote %s (mode 0600)\n", opts.Out)
	cliexport.WarnIfCommittable(opts.IO.ErrOut, opts.Out)
	return nil
}

func (r *renderer) funcs() template.FuncMap {
	return template.FuncMap{
		"secret": func(key string) (string, error) {
			if s, ok := r.secrets[key]; ok {
				return s.RevealString(), nil
			}
			if err := r.fetchComputed(key); err != nil {
				return "", err
			}
			return r.secrets[key].RevealString(), nil
		},
		"ref": func(ref string) (string, error) {
			if s, ok := r.refs[ref]; ok {
				return s.RevealString(), nil
			}
			// A reference computed at render time could be built from a
			// value ({{ ref (printf "ref+…#/%s" (secret "K")) }}): it is
			// neither resolved (its key would reach a store and the audit
			// trail) nor shown.
			return "", keyward.Errorf(keyward.InvalidArgument, "render template",
				"ref takes a literal reference, as in {{ ref \"ref+vault://…#/KEY\" }}; a reference computed while rendering is not resolved (nor shown: it may be built from a value)")
		},
		"ring":    r.ringFunc,
		"b64enc":  func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
		"json":    func(s string) (string, error) { b, err := json.Marshal(s); return string(b), err },
		"shquote": export.ShellQuote,
	}
}

func (r *renderer) render() ([]byte, error) {
	t, err := template.New(r.opts.In).Funcs(r.funcs()).Option("missingkey=error").Parse(string(r.src))
	if err != nil {
		return nil, keyward.Errorf(keyward.InvalidArgument, "parse template", "%s", strings.TrimPrefix(err.Error(), "template: "))
	}
	// Find, before executing anything, every literal key and reference and
	// every reference in the text, with its position.
	keys := map[string][]string{}
	refs := map[string][]string{}
	var texts []*parse.TextNode
	for _, tt := range t.Templates() {
		if tt.Tree == nil || tt.Root == nil {
			continue
		}
		walk(tt.Root, func(n parse.Node) {
			switch n := n.(type) {
			case *parse.TextNode:
				texts = append(texts, n)
			case *parse.CommandNode:
				if len(n.Args) != 2 {
					return
				}
				id, ok := n.Args[0].(*parse.IdentifierNode)
				str, ok2 := n.Args[1].(*parse.StringNode)
				if !ok || !ok2 {
					return
				}
				loc := r.loc(int(str.Position()))
				switch id.Ident {
				case "secret", "ring":
					keys[str.Text] = append(keys[str.Text], loc)
				case "ref":
					refs[str.Text] = append(refs[str.Text], loc)
				}
			}
		})
	}
	type textMatch struct {
		node     *parse.TextNode
		from, to int
		ref      string
	}
	var matches []textMatch
	for _, tn := range texts {
		for _, m := range textRef.FindAllIndex(tn.Text, -1) {
			ref := string(tn.Text[m[0]:m[1]])
			end := m[1]
			// vals' end marker: a '+' after the '#' ends the reference
			// (and is dropped), so text can follow it directly.
			if h := strings.IndexByte(ref, '#'); h >= 0 {
				if p := strings.IndexByte(ref[h:], '+'); p >= 0 {
					ref = ref[:h+p]
					end = m[0] + h + p + 1
				}
			}
			matches = append(matches, textMatch{tn, m[0], end, ref})
			refs[ref] = append(refs[ref], r.loc(int(tn.Pos)+m[0]))
		}
	}
	// Keys first: one batch, every unknown key reported with its places.
	if len(keys) > 0 {
		if err := r.fetch(sortedKeys(keys), keys); err != nil {
			return nil, err
		}
	}
	var errs keyward.MultiError
	for _, ref := range sortedKeys(refs) {
		if _, err := r.resolve(ref); err != nil {
			errs = append(errs, &locError{loc: refs[ref][0], err: err})
		}
	}
	if len(errs) == 1 {
		return nil, errs[0]
	} else if len(errs) > 1 {
		return nil, errs
	}
	// Replace the references in the text (back to front per node).
	sort.SliceStable(matches, func(i, j int) bool { return matches[i].from > matches[j].from })
	for _, m := range matches {
		val := r.refs[m.ref].Reveal()
		txt := append([]byte{}, m.node.Text[:m.from]...)
		txt = append(txt, val...)
		m.node.Text = append(txt, m.node.Text[m.to:]...)
	}
	return r.execute(t)
}

// fetch reads keys from the store; unknown keys are reported with where
// the template uses them.
func (r *renderer) fetch(keys []string, where map[string][]string) error {
	if r.store == nil {
		s, err := r.opts.OpenStore(r.ctx)
		if err != nil {
			return err
		}
		r.store = s
	}
	vals, err := r.ringValues(keys)
	var errs keyward.MultiError
	for _, k := range keys {
		s, ok := vals[k]
		if !ok {
			continue
		}
		if !r.opts.NoResolve && keyward.IsRef(s.RevealString()) {
			rs, rerr := r.resolve(s.RevealString())
			if rerr != nil {
				errs = append(errs, &locError{loc: prefix(where, k), err: export.RefError(fmt.Sprintf("%q", k), rerr)})
				continue
			}
			s = rs
		}
		r.secrets[k] = s
	}
	if err != nil {
		var m keyward.MultiError
		if !errors.As(err, &m) {
			m = keyward.MultiError{err}
		}
		for _, e := range m {
			var ke *keyward.Error
			if errors.As(e, &ke) && ke.Code == keyward.NotFound && ke.Key != "" {
				for _, loc := range where[ke.Key] {
					errs = append(errs, &locError{loc: loc, err: r.unknown(ke.Key)})
				}
				if len(where[ke.Key]) == 0 {
					errs = append(errs, r.unknown(ke.Key))
				}
				continue
			}
			errs = append(errs, e)
		}
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errs
}

// fetchComputed fetches a key computed at render time (not prefetched from
// a literal). It may be a value ({{ secret (secret "K") }}): it is never
// quoted in an error, and never looked up (so never written to the audit
// trail) unless the store lists it as one of its keys.
func (r *renderer) fetchComputed(key string) error {
	ok, err := r.listed(key)
	if err != nil {
		return err
	}
	if !ok {
		return &notFound{msg: fmt.Sprintf("a key computed while rendering is not in %s (computed keys are not shown: they may be values)", r.store.URL())}
	}
	return r.fetch([]string{key}, nil)
}

// listed reports whether key is one of the store's keys (listing it once).
func (r *renderer) listed(key string) (bool, error) {
	if r.store == nil {
		s, err := r.opts.OpenStore(r.ctx)
		if err != nil {
			return false, err
		}
		r.store = s
	}
	if r.keys == nil {
		infos, err := r.store.List(r.ctx)
		if err != nil {
			if keyward.ErrorCode(err) == keyward.Unimplemented {
				return false, keyward.Errorf(keyward.Unimplemented, "render template",
					"a key computed while rendering needs a store that can list its keys; write the key as a literal: {{ secret \"KEY\" }}")
			}
			return false, err
		}
		r.keys = make(map[string]bool, len(infos))
		for _, in := range infos {
			r.keys[in.Key] = true
		}
	}
	return r.keys[key], nil
}

// notFound is an error with the NotFound code and a message of its own.
type notFound struct{ msg string }

func (e *notFound) Error() string { return e.msg }
func (e *notFound) Unwrap() error { return keyward.ErrNotFound }

func (r *renderer) unknown(key string) error {
	return &notFound{msg: fmt.Sprintf("unknown key %q in %s", key, r.store.URL())}
}

func prefix(where map[string][]string, k string) string {
	if l := where[k]; len(l) > 0 {
		return l[0]
	}
	return ""
}

func (r *renderer) resolve(ref string) (keyward.Secret, error) {
	if s, ok := r.refs[ref]; ok {
		return s, nil
	}
	if r.resolver == nil {
		r.resolver = r.opts.Resolver()
	}
	s, err := r.resolver.Resolve(r.ctx, ref)
	if err != nil {
		return keyward.Secret{}, err
	}
	r.refs[ref] = s
	return s, nil
}

// loc turns a byte offset of the source into IN:line:col (col in runes).
func (r *renderer) loc(off int) string {
	line := 1 + bytes.Count(r.src[:off], []byte("\n"))
	start := bytes.LastIndexByte(r.src[:off], '\n') + 1
	col := 1 + len([]rune(string(r.src[start:off])))
	return fmt.Sprintf("%s:%d:%d", r.opts.In, line, col)
}

func walk(n parse.Node, fn func(parse.Node)) {
	if n == nil {
		return
	}
	fn(n)
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			walk(c, fn)
		}
	case *parse.ActionNode:
		walk(n.Pipe, fn)
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, c := range n.Cmds {
			walk(c, fn)
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			walk(a, fn)
		}
	case *parse.IfNode:
		walkBranch(&n.BranchNode, fn)
	case *parse.RangeNode:
		walkBranch(&n.BranchNode, fn)
	case *parse.WithNode:
		walkBranch(&n.BranchNode, fn)
	case *parse.TemplateNode:
		walk(n.Pipe, fn)
	}
}

func walkBranch(b *parse.BranchNode, fn func(parse.Node)) {
	walk(b.Pipe, fn)
	walk(b.List, fn)
	if b.ElseList != nil {
		walk(b.ElseList, fn)
	}
}

func sortedKeys(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// execError reports a template execution error without text/template's
// "template: " prefix, keeping the code of a keyward error inside it.
func execError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "template: ")
	code := keyward.ErrorCode(err)
	if code == keyward.Unknown {
		code = keyward.InvalidArgument
	}
	return keyward.Errorf(code, "render template", "%s", msg)
}
