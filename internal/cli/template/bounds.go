package template

import (
	"fmt"
	"strings"
	"text/template"
	"text/template/parse"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/fsutil"
)

// Rendering bounds. The template is the repository's: a few bytes of it
// ({{ range 1000000000000 }}, defined templates that each call the next
// twice, or a variable doubled by printf at each step and never written)
// would otherwise demand unbounded time or memory.
const (
	// MaxRenderOutput bounds the rendered output.
	MaxRenderOutput = 64 * fsutil.MiB
	// MaxRenderValues bounds the bytes the template's functions make
	// (printf and the other string builtins, secret, b64enc, json, …),
	// together, in one rendering.
	MaxRenderValues = 64 * fsutil.MiB
	// MaxRenderSteps bounds the range iterations and {{ template }} calls
	// of one rendering.
	MaxRenderSteps = 1 << 20
)

// renderSteps is MaxRenderSteps; tests lower it to reach it quickly.
var renderSteps = MaxRenderSteps

// stepFunc is the function bound() puts at the start of every range body
// and every template; it counts one step.
const stepFunc = "__keyward_step"

// bounded counts the work of one rendering and refuses more than its limits.
type bounded struct {
	in      string
	buf     []byte
	steps   int
	made    int   // bytes the functions have made
	limited error // set once a limit is hit
}

// first checks that the most a function could make fits in what is left
// of MaxRenderValues; record accounts for what it made.
func (b *bounded) first(most int) error {
	if most > MaxRenderValues-b.made {
		b.limited = keyward.Errorf(keyward.InvalidArgument, "render template", "%s: the template's functions would make more than the %d MiB limit of values", b.in, MaxRenderValues/fsutil.MiB)
		return b.limited
	}
	return nil
}

func (b *bounded) record(n int) error {
	if err := b.first(n); err != nil {
		return err
	}
	b.made += n
	return nil
}

func (b *bounded) Write(p []byte) (int, error) {
	if len(b.buf)+len(p) > MaxRenderOutput {
		b.limited = keyward.Errorf(keyward.InvalidArgument, "render template", "%s: the rendered output would be larger than the %d MiB limit", b.in, MaxRenderOutput/fsutil.MiB)
		return 0, b.limited
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *bounded) step() (string, error) {
	if b.steps++; b.steps > renderSteps {
		b.limited = keyward.Errorf(keyward.InvalidArgument, "render template", "%s: rendering takes more than %d range iterations and template calls (the limit)", b.in, renderSteps)
		return "", b.limited
	}
	return "", nil
}

// bound puts a step at the start of every template of t and of every range
// body in them, so that b counts each call and iteration, and gives t
// versions of funcs, and of the builtins that make strings, that account
// for the bytes they make.
func bound(t *template.Template, b *bounded, funcs template.FuncMap) error {
	t.Funcs(b.funcs(funcs))
	probe, err := template.New("").Funcs(template.FuncMap{stepFunc: b.step}).Parse("{{" + stepFunc + "}}")
	if err != nil {
		return err
	}
	action := probe.Tree.Root.Nodes[0]
	prepend := func(l *parse.ListNode) {
		l.Nodes = append([]parse.Node{action.Copy()}, l.Nodes...)
	}
	for _, tt := range t.Templates() {
		if tt.Tree == nil || tt.Root == nil {
			continue
		}
		var ranges []*parse.RangeNode
		walk(tt.Root, func(n parse.Node) {
			if rn, ok := n.(*parse.RangeNode); ok {
				ranges = append(ranges, rn)
			}
		})
		for _, rn := range ranges {
			if rn.List == nil {
				rn.List = &parse.ListNode{NodeType: parse.NodeList}
			}
			prepend(rn.List)
		}
		prepend(tt.Root)
	}
	return nil
}

// fmtMaxPad is the widest padding fmt makes for one verb (a larger width
// or precision prints %!(BADWIDTH)).
const fmtMaxPad = 1_000_000

// expansion is how many bytes a renderer function makes, at most, for each
// byte of its argument; a function not named makes what it returns (a
// value read from a store).
var expansion = map[string]int{"b64enc": 2, "json": 6, "shquote": 4}

// funcs returns the step function, the renderer's funcs and text/template's
// string-making builtins (print, printf, println, html, js, urlquery), each
// checking that the most it could make fits before it runs and accounting
// for what it made.
func (b *bounded) funcs(funcs template.FuncMap) template.FuncMap {
	fm := template.FuncMap{stepFunc: b.step}
	for name, fn := range funcs {
		switch f := fn.(type) {
		case func(string) (string, error):
			fm[name] = func(s string) (string, error) {
				if err := b.first(expansion[name] * len(s)); err != nil {
					return "", err
				}
				out, err := f(s)
				if err == nil {
					err = b.record(len(out))
				}
				return out, err
			}
		case func(string) string:
			fm[name] = func(s string) (string, error) {
				if err := b.first(expansion[name] * len(s)); err != nil {
					return "", err
				}
				out := f(s)
				return out, b.record(len(out))
			}
		case func(string) ([]string, error):
			fm[name] = func(s string) ([]string, error) {
				out, err := f(s)
				if err == nil {
					err = b.record(argsSize(out))
				}
				return out, err
			}
		default:
			panic(fmt.Sprintf("template: %s, a %T, has no size accounting", name, fn))
		}
	}
	escaper := func(fn func(...any) string, expand int) func(...any) (string, error) {
		return func(args ...any) (string, error) {
			if err := b.first(expand * argsSize(args...)); err != nil {
				return "", err
			}
			out := fn(args...)
			return out, b.record(len(out))
		}
	}
	fm["print"] = escaper(fmt.Sprint, 2) // a space between two arguments at most
	fm["println"] = escaper(fmt.Sprintln, 2)
	fm["html"] = escaper(template.HTMLEscaper, 6) // &#34;
	fm["js"] = escaper(template.JSEscaper, 6)     // \u003C
	fm["urlquery"] = escaper(template.URLQueryEscaper, 3)
	fm["printf"] = func(format string, args ...any) (string, error) {
		if err := b.first(len(format) + strings.Count(format, "%")*fmtMaxPad + argsSize(args...)); err != nil {
			return "", err
		}
		out := fmt.Sprintf(format, args...)
		return out, b.record(len(out))
	}
	return fm
}

// argsSize is the bytes template values print as, at most (a number or a
// bool: a few dozen).
func argsSize(args ...any) int {
	n := 0
	for _, a := range args {
		switch v := a.(type) {
		case string:
			n += len(v)
		case []string:
			n += 2 + len(v)
			for _, s := range v {
				n += len(s)
			}
		case []byte:
			n += len(v)
		default:
			n += 64
		}
	}
	return n
}

// execute runs t with the bounds; a limit hit is reported as itself.
func (r *renderer) execute(t *template.Template) ([]byte, error) {
	b := &bounded{in: r.opts.In}
	if err := bound(t, b, r.funcs()); err != nil {
		return nil, fmt.Errorf("bound template: %w", err)
	}
	if err := t.Execute(b, nil); err != nil {
		if b.limited != nil {
			return nil, b.limited
		}
		return nil, execError(err)
	}
	return b.buf, nil
}
