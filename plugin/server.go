package plugin

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
)

// ActionFunc runs a provider-specific action on its JSON input and returns
// what to answer (encoded as JSON). Its errors are classified with
// keyward.ErrorCode and must not hold values.
type ActionFunc func(ctx context.Context, input json.RawMessage) (any, error)

// OpenFunc opens a driver for a store URL (a provider's URL opener).
type OpenFunc func(ctx context.Context, u *url.URL) (driver.Store, error)

// ServeOptions describe the provider a plugin serves.
type ServeOptions struct {
	// Name is the scheme served ("vault").
	Name string
	// Version is the provider's build, reported in hello.
	Version string
	// Open opens a store for each open request.
	Open OpenFunc
	// Actions are provider-specific operations beyond the driver methods
	// (the Kubernetes plugin's "kubernetes.sync"), by name.
	Actions map[string]ActionFunc

	// keepOpen leaves the stores open when the conversation ends (a
	// loopback whose caller owns the driver).
	keepOpen bool
}

// Main serves the protocol on stdin and stdout until stdin closes or the
// process is told to stop, then exits. A plugin program's main is one call:
//
//	func main() { plugin.Main(plugin.ServeOptions{Name: "vault", Open: vault.OpenURL}) }
func Main(o ServeOptions) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Serve(ctx, os.Stdin, os.Stdout, o)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "keyward-provider-%s: %v\n", o.Name, err)
		os.Exit(1)
	}
	os.Exit(0)
}

type server struct {
	o    ServeOptions
	wmu  sync.Mutex
	w    *bufio.Writer
	mu   sync.Mutex
	next int
	// stores by handle; running requests by id (for cancel).
	stores  map[string]driver.Store
	running map[uint64]context.CancelFunc
	hello   bool
	wg      sync.WaitGroup
}

// Serve answers requests read from in on out until in reaches EOF (or ctx
// ends), then closes every store it opened. Requests run concurrently;
// answers are written whole, one per line.
func Serve(ctx context.Context, in io.Reader, out io.Writer, o ServeOptions) error {
	if o.Open == nil {
		return errors.New("plugin: ServeOptions.Open is nil")
	}
	s := &server{o: o, w: bufio.NewWriter(out), stores: map[string]driver.Store{}, running: map[uint64]context.CancelFunc{}}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), MaxMessage)
	var readErr error
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		var req Request
		if err := json.Unmarshal(line, &req); err != nil {
			// Without an id there is nobody to answer; the client's own
			// bug, so say so once and stop (never echo the line).
			readErr = fmt.Errorf("plugin: a request is not valid JSON: %v", jsonErrNoInput(err))
			break
		}
		s.dispatch(ctx, req)
	}
	if readErr == nil {
		if err := sc.Err(); err != nil {
			readErr = fmt.Errorf("plugin: reading requests: %w", err)
		}
	}
	cancel()
	s.wg.Wait()
	s.mu.Lock()
	for h, st := range s.stores {
		if !o.keepOpen {
			_ = st.Close()
		}
		delete(s.stores, h)
	}
	s.mu.Unlock()
	return readErr
}

// jsonErrNoInput keeps the kind of JSON error without any part of the input.
func jsonErrNoInput(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return "syntax error at byte " + strconv.FormatInt(se.Offset, 10)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "wrong type for field " + strconv.Quote(te.Field)
	}
	return "malformed"
}

func (s *server) send(r *Response) {
	b, err := json.Marshal(r)
	if err != nil {
		b, _ = json.Marshal(&Response{ID: r.ID, Error: &Error{Code: "unknown", Message: "plugin: cannot encode the answer"}})
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.w.Write(b)
	s.w.WriteByte('\n')
	s.w.Flush()
}

func (s *server) dispatch(ctx context.Context, req Request) {
	switch req.Method {
	case MethodHello:
		var p HelloParams
		if err := json.Unmarshal(req.Params, &p); err != nil {
			s.fail(req.ID, driver.InvalidArgument, "hello: params are malformed")
			return
		}
		if p.Protocol != Protocol {
			s.fail(req.ID, driver.FailedPrecondition, fmt.Sprintf("protocol version %d is not supported; this plugin speaks %d", p.Protocol, Protocol))
			return
		}
		s.mu.Lock()
		s.hello = true
		s.mu.Unlock()
		hr := &HelloResult{Protocol: Protocol, Name: s.o.Name, Version: s.o.Version}
		for n := range s.o.Actions {
			hr.Actions = append(hr.Actions, n)
		}
		sort.Strings(hr.Actions)
		s.ok(req.ID, hr)
		return
	case MethodCancel:
		var p CancelParams
		if json.Unmarshal(req.Params, &p) == nil {
			s.mu.Lock()
			if c := s.running[p.ID]; c != nil {
				c()
			}
			s.mu.Unlock()
		}
		return // cancel has no answer
	}
	s.mu.Lock()
	hello := s.hello
	s.mu.Unlock()
	if !hello {
		s.fail(req.ID, driver.FailedPrecondition, "the first request must be hello")
		return
	}
	rctx, cancel := context.WithCancel(ctx)
	s.mu.Lock()
	s.running[req.ID] = cancel
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			delete(s.running, req.ID)
			s.mu.Unlock()
			cancel()
		}()
		res, err := s.handle(rctx, req)
		if err != nil {
			s.send(&Response{ID: req.ID, Error: err})
			return
		}
		s.ok(req.ID, res)
	}()
}

func (s *server) ok(id uint64, res any) {
	b, err := json.Marshal(res)
	if err != nil {
		s.fail(id, driver.Unknown, "plugin: cannot encode the result")
		return
	}
	s.send(&Response{ID: id, Result: b})
}

func (s *server) fail(id uint64, c driver.Code, msg string) {
	s.send(&Response{ID: id, Error: &Error{Code: CodeName(c), Message: msg}})
}

func protoErr(c driver.Code, format string, args ...any) *Error {
	return &Error{Code: CodeName(c), Message: fmt.Sprintf(format, args...)}
}

// wireErr is err on the wire with code c: its message, and its Retry-After
// and next step where it has them.
func wireErr(c driver.Code, err error) *Error {
	e := &Error{Code: CodeName(c), Message: err.Error()}
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) {
		e.RetryAfterMS = ra.RetryAfter().Milliseconds()
	}
	var h interface{ Hint() string }
	if errors.As(err, &h) {
		e.NextStep = h.Hint()
	}
	return e
}

// driverErr classifies a driver's error for the wire.
func driverErr(ctx context.Context, d driver.Store, err error) *Error {
	c := d.ErrorCode(err)
	switch {
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded:
		c = driver.DeadlineExceeded
	case errors.Is(err, context.Canceled) || ctx.Err() == context.Canceled:
		c = driver.Canceled
	}
	return wireErr(c, err)
}

func (s *server) store(ctx context.Context, raw json.RawMessage, p hasStoreParams) (context.Context, context.CancelFunc, driver.Store, *Error) {
	if err := json.Unmarshal(raw, p); err != nil {
		return nil, nil, nil, protoErr(driver.InvalidArgument, "params are malformed: %s", jsonErrNoInput(err))
	}
	sp := p.storeParams()
	s.mu.Lock()
	d := s.stores[sp.Store]
	s.mu.Unlock()
	if d == nil {
		return nil, nil, nil, protoErr(driver.FailedPrecondition, "no open store %q", sp.Store)
	}
	cancel := context.CancelFunc(func() {})
	if sp.TimeoutMS > 0 {
		ctx, cancel = context.WithTimeout(ctx, time.Duration(sp.TimeoutMS)*time.Millisecond)
	}
	return ctx, cancel, d, nil
}

func abilitiesOf(d driver.Store) []driver.Ability {
	var out []driver.Ability
	for _, a := range driver.Abilities() {
		if driver.Has(d, a) {
			out = append(out, a)
		}
	}
	return out
}

func (s *server) handle(ctx context.Context, req Request) (any, *Error) {
	if req.Method == MethodAction {
		var p ActionParams
		if err := json.Unmarshal(req.Params, &p); err != nil {
			return nil, protoErr(driver.InvalidArgument, "action: params are malformed: %s", jsonErrNoInput(err))
		}
		fn := s.o.Actions[p.Name]
		if fn == nil {
			return nil, protoErr(driver.Unimplemented, "this plugin has no action %q", p.Name)
		}
		if p.TimeoutMS > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, time.Duration(p.TimeoutMS)*time.Millisecond)
			defer cancel()
		}
		res, err := fn(ctx, p.Input)
		if err != nil {
			return nil, wireErr(keyward.ErrorCode(err), err)
		}
		return res, nil
	}
	if req.Method == MethodOpen {
		var p OpenParams
		if err := json.Unmarshal(req.Params, &p); err != nil {
			return nil, protoErr(driver.InvalidArgument, "open: params are malformed")
		}
		u, err := url.Parse(p.URL)
		if err != nil {
			return nil, protoErr(driver.InvalidArgument, "open: the store URL does not parse")
		}
		d, err := s.o.Open(ctx, u)
		if err != nil {
			var pe *Error
			if errors.As(err, &pe) {
				return nil, pe
			}
			return nil, wireErr(keyward.ErrorCode(err), err)
		}
		s.mu.Lock()
		s.next++
		h := "s" + strconv.Itoa(s.next)
		s.stores[h] = d
		s.mu.Unlock()
		return &OpenResult{Store: h, Abilities: abilitiesOf(d)}, nil
	}
	var (
		kp  KeyParams
		gp  GetManyParams
		pp  PutParams
		sp  StoreParams
		stp StageParams
		pmp PutManyParams
		smp StampsParams
	)
	var target hasStoreParams
	switch req.Method {
	case MethodGet, MethodDelete, MethodVersions, MethodRotationLayout, MethodRotationState,
		MethodPromote, MethodDiscard, MethodRetire, MethodDisableVersion:
		target = &kp
	case MethodGetMany:
		target = &gp
	case MethodPut:
		target = &pp
	case MethodList, MethodClose, MethodListValues, MethodValuesListed:
		target = &sp
	case MethodStage:
		target = &stp
	case MethodPutMany:
		target = &pmp
	case MethodStamps:
		target = &smp
	default:
		return nil, protoErr(driver.Unimplemented, "method %q is not part of protocol %d", req.Method, Protocol)
	}
	ctx, cancel, d, perr := s.store(ctx, req.Params, target)
	if perr != nil {
		return nil, perr
	}
	defer cancel()
	unimpl := func(what string) *Error {
		return protoErr(driver.Unimplemented, "this store cannot %s", what)
	}
	wrap := func(err error) *Error { return driverErr(ctx, d, err) }
	switch req.Method {
	case MethodGet:
		v, err := d.Get(ctx, kp.Key, kp.Version)
		if err != nil {
			return nil, wrap(err)
		}
		return &Value{Data: v.Data, Version: v.Version}, nil
	case MethodGetMany:
		bg, ok := d.(driver.BatchGetter)
		if !ok {
			return nil, unimpl("fetch several keys at once")
		}
		m, err := bg.GetMany(ctx, gp.Keys)
		if err != nil {
			return nil, wrap(err)
		}
		out := &GetManyResult{Values: make(map[string]*Value, len(m))}
		for k, v := range m {
			out.Values[k] = &Value{Data: v.Data, Version: v.Version}
		}
		return out, nil
	case MethodList:
		l, ok := d.(driver.Lister)
		if !ok {
			return nil, unimpl("list")
		}
		keys, err := l.List(ctx)
		if err != nil {
			return nil, wrap(err)
		}
		if keys == nil {
			keys = []driver.KeyInfo{}
		}
		return &ListResult{Keys: keys}, nil
	case MethodPut:
		w, ok := d.(driver.Writer)
		if !ok {
			return nil, unimpl("write")
		}
		v, err := w.Put(ctx, pp.Key, pp.Data, &driver.PutOptions{IfVersion: pp.IfVersion, Meta: pp.Meta, BestEffortCheck: pp.BestEffortCheck})
		if err != nil {
			return nil, wrap(err)
		}
		return &VersionResult{Version: v}, nil
	case MethodDelete:
		dl, ok := d.(driver.Deleter)
		if !ok {
			return nil, unimpl("delete")
		}
		if err := dl.Delete(ctx, kp.Key); err != nil {
			return nil, wrap(err)
		}
		return struct{}{}, nil
	case MethodVersions:
		vr, ok := d.(driver.Versioner)
		if !ok {
			return nil, unimpl("list versions")
		}
		vs, err := vr.Versions(ctx, kp.Key)
		if err != nil {
			return nil, wrap(err)
		}
		if vs == nil {
			vs = []driver.Version{}
		}
		return &VersionsResult{Versions: vs}, nil
	case MethodPutMany:
		bw, ok := d.(driver.BatchWriter)
		if !ok {
			return nil, unimpl("write several keys atomically")
		}
		items := make([]driver.PutItem, len(pmp.Items))
		for i, it := range pmp.Items {
			items[i] = driver.PutItem{Key: it.Key, Data: it.Data, Opts: &driver.PutOptions{IfVersion: it.IfVersion, Meta: it.Meta, BestEffortCheck: it.BestEffortCheck}}
		}
		vs, err := bw.PutMany(ctx, items)
		if err != nil {
			return nil, wrap(err)
		}
		if vs == nil {
			vs = []driver.Version{}
		}
		return &VersionsResult{Versions: vs}, nil
	case MethodValuesListed:
		vl, ok := d.(driver.ValueLister)
		return &ValuesListedResult{Listed: ok && vl.ValuesListed()}, nil
	case MethodListValues:
		vl, ok := d.(driver.ValueLister)
		if !ok || !vl.ValuesListed() {
			return nil, unimpl("list with values")
		}
		keys, vals, err := vl.ListValues(ctx)
		if err != nil {
			return nil, wrap(err)
		}
		out := &ListValuesResult{Keys: keys, Values: make(map[string]*Value, len(vals))}
		if out.Keys == nil {
			out.Keys = []driver.KeyInfo{}
		}
		for k, v := range vals {
			out.Values[k] = &Value{Data: v.Data, Version: v.Version}
		}
		return out, nil
	case MethodStamps:
		cs, ok := d.(driver.ChangeStamper)
		if !ok {
			return nil, unimpl("report change stamps")
		}
		st, err := cs.Stamps(ctx, smp.Keys)
		if err != nil {
			return nil, wrap(err)
		}
		return &StampsResult{Stamps: st}, nil
	case MethodRotationLayout:
		return &LayoutResult{Layout: driver.LayoutOf(d, kp.Key)}, nil
	case MethodDisableVersion:
		dv, ok := d.(driver.VersionDisabler)
		if !ok {
			return nil, unimpl("disable a version")
		}
		if err := dv.DisableVersion(ctx, kp.Key, kp.Version); err != nil {
			return nil, wrap(err)
		}
		return struct{}{}, nil
	case MethodClose:
		s.mu.Lock()
		delete(s.stores, sp.Store)
		s.mu.Unlock()
		if s.o.keepOpen {
			return struct{}{}, nil
		}
		if err := d.Close(); err != nil {
			return nil, wrap(err)
		}
		return struct{}{}, nil
	}
	rot, ok := d.(driver.Rotator)
	if !ok {
		return nil, unimpl("rotate natively")
	}
	switch req.Method {
	case MethodRotationState:
		st, err := rot.RotationState(ctx, kp.Key)
		if err != nil {
			return nil, wrap(err)
		}
		out := &RotationStateResult{Current: toWireEntry(st.Current), RotatedAt: st.RotatedAt, Pending: toWireEntry(st.Pending)}
		for i := range st.Previous {
			out.Previous = append(out.Previous, *toWireEntry(&st.Previous[i]))
		}
		return out, nil
	case MethodStage:
		v, err := rot.Stage(ctx, stp.Key, stp.Data, &driver.StageRequest{IfCurrent: stp.IfCurrent, PreviousExpires: stp.PreviousExpires, RotatedAt: stp.RotatedAt})
		if err != nil {
			return nil, wrap(err)
		}
		return &VersionResult{Version: v}, nil
	case MethodPromote:
		v, err := rot.Promote(ctx, kp.Key, kp.Version)
		if err != nil {
			return nil, wrap(err)
		}
		return &VersionResult{Version: v}, nil
	case MethodDiscard:
		if err := rot.Discard(ctx, kp.Key, kp.Version); err != nil {
			return nil, wrap(err)
		}
		return struct{}{}, nil
	case MethodRetire:
		if err := rot.Retire(ctx, kp.Key, kp.Version); err != nil {
			return nil, wrap(err)
		}
		return struct{}{}, nil
	}
	return nil, protoErr(driver.Unimplemented, "method %q", req.Method)
}

// ServeScheme is the whole main of a plugin program built from this
// repository: it serves the provider registered in keyward's default URL
// mux under scheme (the program imports that provider for its side
// effect) on stdin and stdout.
func ServeScheme(scheme string, actions map[string]ActionFunc) {
	o := keyward.DefaultURLMux().Opener(scheme)
	if o == nil {
		fmt.Fprintf(os.Stderr, "keyward-provider-%s: no provider for %s:// is linked into this program\n", scheme, scheme)
		os.Exit(2)
	}
	Main(ServeOptions{Name: scheme, Version: buildVersion(), Open: o.OpenStoreURL, Actions: actions})
}

func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			v += " " + s.Value
		}
	}
	return v
}
