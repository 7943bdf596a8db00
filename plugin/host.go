package plugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/internal/redact"
)

// RemoteSchemes are the providers this repository ships as plugin programs
// (cmd/keyward-provider-<scheme>).
var RemoteSchemes = []string{"vault", "awssm", "gcpsm", "azurekv", "k8s"}

// ProgramName is the program that serves scheme.
func ProgramName(scheme string) string { return "keyward-provider-" + scheme }

// Find locates the program for scheme: next to the running executable
// first, then on PATH. PATH entries that are relative (".") are never
// used, so a repository cannot plant a provider program by being the
// working directory.
func Find(scheme string) (string, error) {
	name := ProgramName(scheme)
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		p := filepath.Join(filepath.Dir(exe), name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	p, err := exec.LookPath(name)
	if err == nil && filepath.IsAbs(p) {
		return p, nil
	}
	return "", &Error{Code: CodeName(driver.FailedPrecondition), Message: fmt.Sprintf(
		"%s:// needs %s, which is neither next to keyward nor on PATH; install it with `go install github.com/keyward/keyward/cmd/%s@latest` (or every provider: `go install github.com/keyward/keyward/cmd/...@latest`)",
		scheme, name, name)}
}

// Host starts plugin programs on demand for one command: the first store
// of a scheme starts its program, later stores of the scheme reuse it, and
// Close stops them all.
type Host struct {
	// Lookup finds the program for a scheme; nil means Find.
	Lookup func(scheme string) (string, error)
	// Stderr receives the plugins' stderr, one line at a time, with every
	// value that crossed the protocol in this process redacted (in all the
	// forms `keyward run` redacts) and the program's name in front. Nil
	// means os.Stderr.
	Stderr io.Writer

	mu      sync.Mutex
	clients map[string]*Client
	starts  map[string]int
	seen    *seenValues
}

// Opener returns a URL opener that serves scheme through its plugin.
func (h *Host) Opener(scheme string) keyward.URLOpener {
	return keyward.OpenerFunc(func(ctx context.Context, u *url.URL) (driver.Store, error) {
		c, err := h.client(ctx, scheme)
		if err != nil {
			return nil, err
		}
		return c.Open(ctx, u.String())
	})
}

// Register adds an opener for each scheme that m does not already have
// (providers linked in-process win).
func (h *Host) Register(m *keyward.URLMux, schemes ...string) {
	for _, s := range schemes {
		if !m.ValidScheme(s) {
			m.Register(s, h.Opener(s))
		}
	}
}

// Starts reports how many times the program for scheme was started.
func (h *Host) Starts(scheme string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.starts[scheme]
}

func (h *Host) client(ctx context.Context, scheme string) (*Client, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c := h.clients[scheme]; c != nil {
		select {
		case <-c.done:
			// It died; start a fresh one for the next store.
		default:
			return c, nil
		}
	}
	lookup := h.Lookup
	if lookup == nil {
		lookup = Find
	}
	path, err := lookup(scheme)
	if err != nil {
		return nil, err
	}
	if h.seen == nil {
		h.seen = &seenValues{}
	}
	out := h.Stderr
	if out == nil {
		out = os.Stderr
	}
	c, err := Start(ctx, path, scheme, &scrubber{w: out, prefix: ProgramName(scheme) + ": ", seen: h.seen})
	if err != nil {
		return nil, err
	}
	c.seen = h.seen
	if h.clients == nil {
		h.clients, h.starts = map[string]*Client{}, map[string]int{}
	}
	h.clients[scheme] = c
	h.starts[scheme]++
	return c, nil
}

// Action runs a provider-specific action in scheme's plugin (started if it
// is not yet). secrets are the values inside input, so that the plugin's
// stderr is scrubbed of them too.
func (h *Host) Action(ctx context.Context, scheme, name string, input, out any, secrets ...[]byte) error {
	c, err := h.client(ctx, scheme)
	if err != nil {
		return err
	}
	for _, v := range secrets {
		h.seen.add(v)
	}
	return c.Action(ctx, name, input, out)
}

// Close stops every plugin the host started.
func (h *Host) Close() error {
	h.mu.Lock()
	cs := h.clients
	h.clients = nil
	h.mu.Unlock()
	var errs []error
	for _, c := range cs {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// seenValues are the values that crossed the protocol, for scrubbing.
type seenValues struct {
	mu    sync.Mutex
	set   map[string]bool
	forms [][]byte
}

func (s *seenValues) add(v []byte) {
	if s == nil || len(v) < redact.MinLength {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set[string(v)] {
		return
	}
	if s.set == nil {
		s.set = map[string]bool{}
	}
	s.set[string(v)] = true
	s.forms = append(s.forms, redact.Forms(v)...)
}

func (s *seenValues) scrub(line []byte) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.forms {
		if bytes.Contains(line, f) {
			line = bytes.ReplaceAll(line, f, []byte("[REDACTED]"))
		}
	}
	return line
}

// maxStderrLine bounds one line of a plugin's stderr; the rest is dropped.
const maxStderrLine = 8 << 10

// scrubber forwards whole lines, scrubbed.
type scrubber struct {
	w      io.Writer
	prefix string
	seen   *seenValues
	mu     sync.Mutex
	buf    []byte
	long   bool
}

func (s *scrubber) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if room := maxStderrLine - len(s.buf); room > 0 {
				s.buf = append(s.buf, p[:min(room, len(p))]...)
			}
			if len(s.buf) >= maxStderrLine {
				s.long = true
			}
			break
		}
		if room := maxStderrLine - len(s.buf); room > 0 {
			s.buf = append(s.buf, p[:min(room, i)]...)
		}
		s.flushLine()
		p = p[i+1:]
	}
	return n, nil
}

func (s *scrubber) flushLine() {
	line := s.seen.scrub(s.buf)
	out := append([]byte(s.prefix), line...)
	if s.long {
		out = append(out, " […]"...)
	}
	out = append(out, '\n')
	_, _ = s.w.Write(out)
	s.buf, s.long = s.buf[:0], false
}
