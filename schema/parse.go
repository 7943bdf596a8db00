package schema

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/lazyre"
)

// Limits against hostile files (YAML bombs): the file size (MaxFileSize),
// the number of nodes visited while decoding, counting each alias
// expansion, and the number of aliases.
const (
	maxNodes   = 100_000
	maxAliases = 1_000
)

// Top-level, environment, secret, override and rotation field names.
var (
	topFields      = []string{"version", "default_environment", "example", "environments", "secrets", "validate", "audit", "delivery"}
	envFields      = []string{"store", "production", "history", "recipients"}
	secretFields   = []string{"description", "required", "min_length", "format", "pattern", "generate", "rotation", "environments"}
	overrideFields = []string{"required", "min_length", "format", "pattern", "generate"}
	rotationFields = []string{"every", "grace", "method", "via"}
	validateFields = []string{"strict", "checks"}
	deliveryFields = []string{"old_suffix", "numbered_ring"}
)

var secretNameRE = lazyre.New(`^[A-Za-z_][A-Za-z0-9_.\-]*$`)

// Parse checks keyward.yaml's content; filename is used in error positions.
// See Load.
func Parse(data []byte, filename string) (cfg *Config, err error) {
	if filename == "" {
		filename = FileName
	}
	fail := func(l ErrorList) error {
		return keyward.NewError(keyward.InvalidArgument, "load "+FileName, l)
	}
	if len(data) > MaxFileSize {
		return nil, fail(ErrorList{{File: filename, Msg: fmt.Sprintf("file is %d bytes; the limit is %d", len(data), MaxFileSize)}})
	}
	var root yaml.Node
	if perr := safeUnmarshal(data, &root); perr != nil {
		return nil, fail(ErrorList{yamlError(filename, perr)})
	}
	d := &decoder{file: filename}
	c := &Config{Path: filename, Environments: map[string]*Environment{}, Secrets: map[string]*Spec{}, Checks: map[string]Severity{}}
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, fail(ErrorList{{File: filename, Pos: Pos{1, 1}, Msg: "file is empty; it needs at least secrets:"}})
	}
	d.countAliases(&root)
	if len(d.errs) == 0 {
		d.top(root.Content[0], c)
	}
	if len(d.errs) > 0 {
		d.errs.sort()
		return nil, fail(d.errs)
	}
	return c, nil
}

// safeUnmarshal parses YAML into a node, turning a parser panic into an error.
func safeUnmarshal(data []byte, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: cannot parse: %v", r)
		}
	}()
	return yaml.Unmarshal(data, n)
}

var yamlLineRE = lazyre.New(`^yaml: line (\d+): (.*)$`)

func yamlError(file string, err error) *Error {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Pos: Pos{line, 1}, Msg: "malformed YAML: " + m[2]}
	}
	return &Error{File: file, Pos: Pos{1, 1}, Msg: "malformed YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

type decoder struct {
	file  string
	errs  ErrorList
	nodes int
	stop  bool
}

func pos(n *yaml.Node) Pos { return Pos{n.Line, n.Column} }

func (d *decoder) errf(n *yaml.Node, hint string, format string, args ...any) {
	if len(d.errs) >= 100 {
		d.stop = true
		return
	}
	e := &Error{File: d.file, Pos: pos(n), Msg: fmt.Sprintf(format, args...), Hint: hint}
	for _, x := range d.errs {
		if x.Pos == e.Pos && x.Msg == e.Msg {
			return
		}
	}
	d.errs = append(d.errs, e)
}

func (d *decoder) countAliases(root *yaml.Node) {
	n, aliases := 0, 0
	var walk func(*yaml.Node)
	walk = func(x *yaml.Node) {
		if n > maxNodes || aliases > maxAliases {
			return
		}
		n++
		if x.Kind == yaml.AliasNode {
			aliases++
			return
		}
		for _, c := range x.Content {
			walk(c)
		}
	}
	walk(root)
	switch {
	case n > maxNodes:
		d.errf(root, "", "file has more than %d YAML nodes", maxNodes)
	case aliases > maxAliases:
		d.errf(root, "", "file has more than %d YAML aliases", maxAliases)
	}
}

// resolve follows aliases and charges the node budget.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	d.nodes++
	if d.nodes > maxNodes && !d.stop {
		d.errf(n, "", "file expands to more than %d YAML nodes (alias bomb?)", maxNodes)
		d.stop = true
	}
	if n == nil || n.Kind == yaml.AliasNode {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}
	}
	return n
}

type pair struct{ k, v *yaml.Node }

// pairs returns a mapping's key/value pairs with merge keys (<<) applied,
// reporting duplicate keys and non-string keys.
func (d *decoder) pairs(n *yaml.Node, what string, depth int) []pair {
	n = d.resolve(n)
	if d.stop {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.errf(n, "", "%s must be a mapping, not %s", what, kindName(n))
		return nil
	}
	var out, merged []pair
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content) && !d.stop; i += 2 {
		k, v := d.resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errf(k, "", "%s has a key that is not a plain name", what)
			continue
		}
		if k.Value == "<<" && k.Tag == "!!merge" {
			if depth > 10 {
				d.errf(k, "", "merge keys nested too deeply")
				continue
			}
			vv := d.resolve(v)
			srcs := []*yaml.Node{vv}
			if vv.Kind == yaml.SequenceNode {
				srcs = vv.Content
			}
			for _, s := range srcs {
				if d.stop {
					break
				}
				merged = append(merged, d.pairs(s, what, depth+1)...)
			}
			continue
		}
		if seen[k.Value] {
			d.errf(k, "", "%s has key %q twice", what, k.Value)
			continue
		}
		seen[k.Value] = true
		out = append(out, pair{k, v})
	}
	for _, p := range merged {
		if !seen[p.k.Value] {
			seen[p.k.Value] = true
			out = append(out, p)
		}
	}
	return out
}

// fields walks a mapping with a fixed set of field names.
func (d *decoder) fields(n *yaml.Node, what string, known []string, fn func(key string, k, v *yaml.Node)) {
	for _, p := range d.pairs(n, what, 0) {
		if d.stop {
			return
		}
		if what == FileName && strings.HasPrefix(p.k.Value, "x-") {
			continue // extension keys hold anchors for the rest of the file
		}
		if !containsStr(known, p.k.Value) {
			d.errf(p.k, suggest(p.k.Value, known), "unknown field %q in %s", p.k.Value, what)
			continue
		}
		fn(p.k.Value, p.k, d.resolve(p.v))
	}
}

func containsStr(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "empty"
		}
		return "a " + strings.TrimPrefix(n.Tag, "!!")
	}
	return "something else"
}

func (d *decoder) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.errf(n, "", "%s must be a string, not %s", what, kindName(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) boolean(n *yaml.Node, what string) (bool, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		b, err := strconv.ParseBool(strings.ToLower(n.Value))
		if err == nil {
			return b, true
		}
	}
	d.errf(n, "", "%s must be true or false, not %s", what, kindName(n))
	return false, false
}

func (d *decoder) integer(n *yaml.Node, what string) (int, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
		v, err := strconv.ParseInt(n.Value, 0, 32)
		if err == nil && v >= 0 {
			return int(v), true
		}
	}
	d.errf(n, "", "%s must be a whole number from 0 to %d", what, math.MaxInt32)
	return 0, false
}

func (d *decoder) top(n *yaml.Node, c *Config) {
	d.fields(n, FileName, topFields, func(key string, k, v *yaml.Node) {
		switch key {
		case "version":
			if x, ok := d.integer(v, "version"); ok {
				if x != 1 {
					d.errf(v, "", "version %d is not supported; this keyward reads version 1", x)
				}
				c.Version = x
			}
		case "default_environment":
			if s, ok := d.str(v, "default_environment"); ok {
				c.DefaultEnvironment = s
			}
		case "example":
			if s, ok := d.str(v, "example"); ok {
				c.Example = s
				c.examplePos = pos(v)
			}
		case "environments":
			for _, p := range d.pairs(v, "environments", 0) {
				d.environment(p.k, d.resolve(p.v), c)
			}
		case "secrets":
			if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
				return
			}
			for _, p := range d.pairs(v, "secrets", 0) {
				d.secret(p.k, d.resolve(p.v), c)
			}
		case "validate":
			d.validateSettings(v, c)
		case "delivery":
			d.delivery(v, c)
		case "audit":
			// Read and checked by package audit (docs/audit.md).
			if v.Kind != yaml.MappingNode && v.Tag != "!!null" {
				d.errf(v, "", "audit must be a mapping, not %s", kindName(v))
			}
		}
	})
	if c.DefaultEnvironment != "" && c.Environments[c.DefaultEnvironment] == nil && !d.stop {
		d.errf(n, suggest(c.DefaultEnvironment, c.EnvOrder), "default_environment names an environment that is not declared under environments")
	}
	// Overrides must name declared environments.
	for _, name := range c.Order {
		s := c.Secrets[name]
		for env, o := range s.Environments {
			if c.Environments[env] == nil {
				d.errs = append(d.errs, &Error{File: d.file, Pos: o.Pos, Hint: suggest(env, c.EnvOrder),
					Msg: fmt.Sprintf("secret %q overrides environment %q, which is not declared under environments", name, env)})
			}
		}
	}
}

func (d *decoder) environment(k, v *yaml.Node, c *Config) {
	e := &Environment{Name: k.Value, Pos: pos(k)}
	what := fmt.Sprintf("environment %q", e.Name)
	if e.Name == "" {
		d.errf(k, "", "an environment has an empty name")
		return
	}
	if v.Kind == yaml.ScalarNode && v.Tag != "!!null" {
		e.Store = v.Value
	} else {
		d.fields(v, what, envFields, func(key string, _, v *yaml.Node) {
			switch key {
			case "store":
				if s, ok := d.str(v, what+" store"); ok {
					e.Store = s
				}
			case "production":
				if b, ok := d.boolean(v, what+" production"); ok {
					e.Production = &b
				}
			case "history":
				if n, ok := d.integer(v, what+" history"); ok {
					e.History = n
				}
			case "recipients":
				if v.Kind != yaml.SequenceNode {
					d.errf(v, "", "%s recipients must be a list of public keys, not %s", what, kindName(v))
					return
				}
				for _, it := range v.Content {
					if r, ok := d.str(it, what+" recipient"); ok {
						e.Recipients = append(e.Recipients, r)
					}
				}
			}
		})
	}
	if e.Store == "" {
		d.errf(v, "", "%s needs a store URL (e.g. dotenv://.env)", what)
	} else {
		d.checkStoreURL(v, what, e.Store)
	}
	c.Environments[e.Name] = e
	c.EnvOrder = append(c.EnvOrder, e.Name)
}

// StoreMux is the mux whose schemes environment store URLs are checked
// against; nil means keyward.DefaultURLMux().
var StoreMux *keyward.URLMux

func (d *decoder) checkStoreURL(n *yaml.Node, what, raw string) {
	u, err := keyward.ParseStoreURL(raw)
	if err != nil {
		d.errf(n, "", "%s: store URL is malformed", what)
		return
	}
	if u.User != nil {
		if _, hasPW := u.User.Password(); hasPW {
			d.errf(n, "", "%s: store URL carries a password; credentials come from the environment, never the URL", what)
			return
		}
	}
	mux := StoreMux
	if mux == nil {
		mux = keyward.DefaultURLMux()
	}
	if !mux.ValidScheme(u.Scheme) {
		known := mux.Schemes()
		d.errf(n, suggest(u.Scheme, known), "%s: unknown store scheme (known: %s)", what, strings.Join(known, ", "))
	}
}

func (d *decoder) secret(k, v *yaml.Node, c *Config) {
	s := &Spec{Name: k.Value, Required: true, Pos: pos(k)}
	what := fmt.Sprintf("secret %q", s.Name)
	if !secretNameRE.MatchString(s.Name) {
		d.errf(k, "", "secret name %q is not a valid name (letters, digits, _ . -; not starting with a digit)", s.Name)
	}
	c.Secrets[s.Name] = s
	c.Order = append(c.Order, s.Name)
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return // NAME: with nothing is a required secret with no rules
	}
	d.fields(v, what, secretFields, func(key string, kn, v *yaml.Node) {
		switch key {
		case "description":
			if x, ok := d.str(v, what+" description"); ok {
				s.Description = x
			}
		case "required":
			if b, ok := d.boolean(v, what+" required"); ok {
				s.Required = b
			}
		case "min_length":
			if x, ok := d.integer(v, what+" min_length"); ok {
				s.MinLength = x
			}
		case "format":
			if x, ok := d.format(v, what); ok {
				s.Format = x
			}
		case "pattern":
			if x, re, ok := d.pattern(v, what); ok {
				s.Pattern, s.re = x, re
			}
		case "generate":
			if x, ok := d.generate(v, what); ok {
				s.Generate = x
			}
		case "rotation":
			s.Rotation = d.rotation(v, what)
		case "environments":
			s.Environments = map[string]*Override{}
			for _, p := range d.pairs(v, what+" environments", 0) {
				s.Environments[p.k.Value] = d.override(p.k, d.resolve(p.v), what)
			}
		}
	})
	if s.Format != "" && s.Pattern != "" {
		d.errf(k, "", "%s has both format and pattern; use one", what)
	}
}

func (d *decoder) format(v *yaml.Node, what string) (string, bool) {
	x, ok := d.str(v, what+" format")
	if !ok {
		return "", false
	}
	if _, known := LookupFormat(x); !known {
		d.errf(v, suggest(x, FormatNames()), "%s: unknown format (known: %s)", what, strings.Join(FormatNames(), ", "))
		return "", false
	}
	return x, true
}

func (d *decoder) pattern(v *yaml.Node, what string) (string, *regexp.Regexp, bool) {
	x, ok := d.str(v, what+" pattern")
	if !ok {
		return "", nil, false
	}
	if len(x) > 4096 {
		d.errf(v, "", "%s: pattern is longer than 4096 characters", what)
		return "", nil, false
	}
	_, err := regexp.Compile(x)
	if err != nil {
		d.errf(v, "", "%s: pattern does not compile: %s", what, lazyre.Problem(err))
		return "", nil, false
	}
	re, err := regexp.Compile(`^(?:` + x + `)$`)
	if err != nil {
		d.errf(v, "", "%s: pattern cannot be anchored: %s", what, lazyre.Problem(err))
		return "", nil, false
	}
	return x, re, true
}

func (d *decoder) generate(v *yaml.Node, what string) (string, bool) {
	x, ok := d.str(v, what+" generate")
	if !ok {
		return "", false
	}
	if err := checkRecipe(x); err != nil {
		d.errf(v, suggest(strings.SplitN(x, ":", 2)[0], recipeNames()), "%s: generate: unknown recipe, or a size it does not take (RECIPE or RECIPE:SIZE; known: %s)", what, strings.Join(recipeNames(), ", "))
		return "", false
	}
	return x, true
}

func (d *decoder) rotation(n *yaml.Node, what string) *Rotation {
	r := &Rotation{Pos: pos(n)}
	what += " rotation"
	d.fields(n, what, rotationFields, func(key string, _, v *yaml.Node) {
		switch key {
		case "every", "grace":
			if x, ok := d.str(v, what+" "+key); ok {
				dur, err := ParseDuration(x)
				if err != nil {
					d.errf(v, "", "%s %s: %v", what, key, err)
					return
				}
				if key == "every" {
					r.Every = dur
				} else {
					r.Grace = dur
				}
			}
		case "method":
			if x, ok := d.str(v, what+" method"); ok {
				if !containsStr(rotationMethods, x) {
					d.errf(v, suggest(x, rotationMethods), "%s: unknown method (known: %s)", what, strings.Join(rotationMethods, ", "))
					return
				}
				r.Method = x
			}
		case "via":
			if x, ok := d.str(v, what+" via"); ok {
				r.Via = x
			}
		}
	})
	if r.Method == "" {
		r.Method = MethodManual
	}
	if r.Grace > 0 && r.Every > 0 && r.Grace >= r.Every {
		d.errf(n, "", "%s: grace must be shorter than every", what)
	}
	return r
}

func (d *decoder) override(k, v *yaml.Node, what string) *Override {
	o := &Override{Pos: pos(k)}
	what = fmt.Sprintf("%s in environment %q", what, k.Value)
	d.fields(v, what, overrideFields, func(key string, _, v *yaml.Node) {
		switch key {
		case "required":
			if b, ok := d.boolean(v, what+" required"); ok {
				o.Required = &b
			}
		case "min_length":
			if x, ok := d.integer(v, what+" min_length"); ok {
				o.MinLength = &x
			}
		case "format":
			if x, ok := d.format(v, what); ok {
				o.Format = &x
			}
		case "pattern":
			if x, re, ok := d.pattern(v, what); ok {
				o.Pattern, o.re = &x, re
			}
		case "generate":
			if x, ok := d.generate(v, what); ok {
				o.Generate = &x
			}
		}
	})
	return o
}

// delivery reads delivery: how run, export and template deliver key rings.
func (d *decoder) delivery(n *yaml.Node, c *Config) {
	d.fields(n, "delivery", deliveryFields, func(key string, _, v *yaml.Node) {
		switch key {
		case "old_suffix":
			if x, ok := d.str(v, "delivery old_suffix"); ok {
				if !oldSuffixRE.MatchString(x) {
					d.errf(v, "", "delivery old_suffix %q may hold only letters, digits and '_' (\"\" delivers no old value)", x)
					return
				}
				c.Delivery.OldSuffix = &x
			}
		case "numbered_ring":
			if b, ok := d.boolean(v, "delivery numbered_ring"); ok {
				c.Delivery.NumberedRing = b
			}
		}
	})
}

var oldSuffixRE = lazyre.New(`^[A-Za-z0-9_]*$`)

func (d *decoder) validateSettings(n *yaml.Node, c *Config) {
	d.fields(n, "validate", validateFields, func(key string, _, v *yaml.Node) {
		switch key {
		case "strict":
			if b, ok := d.boolean(v, "validate strict"); ok {
				c.Strict = b
			}
		case "checks":
			for _, p := range d.pairs(v, "validate checks", 0) {
				name := p.k.Value
				if _, ok := defaultSeverity[name]; !ok {
					d.errf(p.k, suggest(name, CheckNames()), "unknown check %q (known: %s)", name, strings.Join(CheckNames(), ", "))
					continue
				}
				sv := d.resolve(p.v)
				x, ok := d.str(sv, "severity of "+name)
				if !ok {
					continue
				}
				sev := Severity(x)
				if sev != SeverityError && sev != SeverityWarning && sev != SeverityOff {
					d.errf(sv, suggest(x, []string{"error", "warning", "off"}), "severity of %q must be error, warning or off", name)
					continue
				}
				c.Checks[name] = sev
			}
		}
	})
}

// ParseDuration parses a rotation period: a number with d (days) or w
// (weeks), such as 90d or 2w, or a Go duration such as 24h or 1h30m.
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, errors.New("empty duration")
	}
	if u := t[len(t)-1]; u == 'd' || u == 'w' {
		n, err := strconv.Atoi(t[:len(t)-1])
		if err != nil || n <= 0 || n > 100*366 {
			return 0, errors.New("not a duration like 90d, 2w or 24h")
		}
		day := 24 * time.Hour
		if u == 'w' {
			day *= 7
		}
		return time.Duration(n) * day, nil
	}
	dur, err := time.ParseDuration(t)
	if err != nil || dur <= 0 {
		return 0, errors.New("not a duration like 90d, 2w or 24h")
	}
	return dur, nil
}

// FormatDuration renders d as ParseDuration reads it, preferring days.
func FormatDuration(d time.Duration) string {
	day := 24 * time.Hour
	if d > 0 && d%day == 0 {
		return strconv.Itoa(int(d/day)) + "d"
	}
	return d.String()
}
