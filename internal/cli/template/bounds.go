package template

import (
	"fmt"
	"text/template"
	"text/template/parse"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/fsutil"
)

// Rendering bounds. The template is the repository's: a few bytes of it
// ({{ range 1000000000000 }}, or defined templates that each call the next
// twice) would otherwise demand unbounded time or memory.
const (
	// MaxRenderOutput bounds the rendered output.
	MaxRenderOutput = 64 * fsutil.MiB
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
	limited error // set once a limit is hit
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
// body in them, so that b counts each call and iteration.
func bound(t *template.Template, b *bounded) error {
	t.Funcs(template.FuncMap{stepFunc: b.step})
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

// execute runs t with the bounds; a limit hit is reported as itself.
func (r *renderer) execute(t *template.Template) ([]byte, error) {
	b := &bounded{in: r.opts.In}
	if err := bound(t, b); err != nil {
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
