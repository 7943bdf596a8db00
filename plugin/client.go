package plugin

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/driver"
)

// Client is one running plugin: a conversation over a pair of pipes, with
// requests in flight at once. Open a store on it with [Client.Open].
type Client struct {
	name  string
	w     io.WriteCloser
	wmu   sync.Mutex
	next  atomic.Uint64
	mu    sync.Mutex
	wait  map[uint64]chan *Response
	done  chan struct{}
	dead  error // why the conversation ended; set before done closes
	hello HelloResult

	cmd     *exec.Cmd
	waitErr chan error
	// seen collects values that crossed the protocol, for stderr scrubbing.
	seen *seenValues
}

// crashError reports a plugin that stopped answering. Its code is
// Unavailable: the command fails, and nothing the plugin did not confirm
// is reported as written.
type crashError struct {
	name string
	why  error
}

func (e *crashError) Error() string {
	return fmt.Sprintf("keyward-provider-%s stopped: %v", e.name, e.why)
}

func (e *crashError) Unwrap() error { return e.why }

// DriverCode is Unavailable: a crashed plugin is an outage, not a bad request.
func (e *crashError) DriverCode() driver.Code { return driver.Unavailable }

// NewClient talks to a plugin over r (its stdout) and w (its stdin) and
// says hello. name is the scheme, for messages. A version mismatch is a
// FailedPrecondition error that names both versions.
func NewClient(ctx context.Context, name string, r io.Reader, w io.WriteCloser) (*Client, error) {
	c := &Client{name: name, w: w, wait: map[uint64]chan *Response{}, done: make(chan struct{})}
	go c.read(r)
	var h HelloResult
	if err := c.call(ctx, MethodHello, &HelloParams{Protocol: Protocol, Client: "keyward"}, &h); err != nil {
		c.shutdown()
		var pe *Error
		if errors.As(err, &pe) && ParseCode(pe.Code) == driver.FailedPrecondition {
			return nil, &Error{Code: pe.Code, Message: fmt.Sprintf("keyward-provider-%s does not speak protocol %d: %s; install the keyward-provider-%s built with this keyward", name, Protocol, pe.Message, name)}
		}
		return nil, err
	}
	if h.Protocol != Protocol {
		c.shutdown()
		return nil, &Error{Code: CodeName(driver.FailedPrecondition),
			Message: fmt.Sprintf("keyward-provider-%s speaks protocol %d, keyward speaks %d; install the keyward-provider-%s built with this keyward", name, h.Protocol, Protocol, name)}
	}
	c.hello = h
	return c, nil
}

// Start runs the plugin program at path and says hello. Its stderr goes to
// stderr (the CLI passes a writer that scrubs known values); nil discards
// it. The program gets no secret in its arguments or environment.
func Start(ctx context.Context, path, name string, stderr io.Writer) (*Client, error) {
	cmd := exec.Command(path)
	if stderr == nil {
		stderr = io.Discard
	}
	cmd.Stderr = stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, &crashError{name: name, why: err}
	}
	waitErr := make(chan error, 1)
	c, err := NewClient(ctx, name, out, in)
	if err != nil {
		_ = in.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, err
	}
	c.cmd, c.waitErr = cmd, waitErr
	go func() { waitErr <- cmd.Wait() }()
	return c, nil
}

// Hello is what the plugin said of itself.
func (c *Client) Hello() HelloResult { return c.hello }

func (c *Client) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxMessage)
	var why error = io.EOF
	for sc.Scan() {
		var resp Response
		if err := json.Unmarshal(sc.Bytes(), &resp); err != nil {
			why = fmt.Errorf("it wrote a line that is not protocol JSON (%s)", jsonErrNoInput(err))
			break
		}
		c.mu.Lock()
		ch := c.wait[resp.ID]
		delete(c.wait, resp.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- &resp
		}
	}
	if err := sc.Err(); err != nil {
		why = err
	}
	c.mu.Lock()
	if c.dead == nil {
		c.dead = &crashError{name: c.name, why: why}
	}
	c.mu.Unlock()
	close(c.done)
}

// deadErr says why the conversation ended, with the program's exit status
// when it has one.
func (c *Client) deadErr() error {
	c.mu.Lock()
	w := c.waitErr
	c.mu.Unlock()
	if w != nil {
		select {
		case err := <-w:
			c.mu.Lock()
			c.waitErr = nil
			if err != nil {
				c.dead = &crashError{name: c.name, why: err}
			}
			c.mu.Unlock()
		case <-time.After(200 * time.Millisecond):
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dead
}

// call sends one request and waits for its answer, or for ctx, or for the
// plugin to stop. A cancelled call tells the plugin to cancel too.
func (c *Client) call(ctx context.Context, method string, params, result any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if sp, ok := params.(hasStoreParams); ok {
		if dl, ok := ctx.Deadline(); ok {
			sp.storeParams().TimeoutMS = max(1, time.Until(dl).Milliseconds())
		}
	}
	b, err := json.Marshal(params)
	if err != nil {
		return err
	}
	id := c.next.Add(1)
	line, err := json.Marshal(&Request{ID: id, Method: method, Params: b})
	if err != nil {
		return err
	}
	ch := make(chan *Response, 1)
	c.mu.Lock()
	select {
	case <-c.done:
		c.mu.Unlock()
		return c.deadErr()
	default:
	}
	c.wait[id] = ch
	c.mu.Unlock()
	if err := c.write(line); err != nil {
		c.forget(id)
		select {
		case <-c.done:
			return c.deadErr()
		default:
		}
		return &crashError{name: c.name, why: err}
	}
	select {
	case resp := <-ch:
		if resp.Error != nil {
			return resp.Error
		}
		if result != nil && len(resp.Result) > 0 {
			if err := json.Unmarshal(resp.Result, result); err != nil {
				return &Error{Code: CodeName(driver.Unknown), Message: fmt.Sprintf("keyward-provider-%s answered %s with a malformed result (%s)", c.name, method, jsonErrNoInput(err))}
			}
		}
		return nil
	case <-ctx.Done():
		c.forget(id)
		cb, _ := json.Marshal(&CancelParams{ID: id})
		cl, _ := json.Marshal(&Request{ID: c.next.Add(1), Method: MethodCancel, Params: cb})
		_ = c.write(cl)
		return ctx.Err()
	case <-c.done:
		return c.deadErr()
	}
}

func (c *Client) forget(id uint64) {
	c.mu.Lock()
	delete(c.wait, id)
	c.mu.Unlock()
}

func (c *Client) write(line []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, err := c.w.Write(append(line, '\n')); err != nil {
		return err
	}
	return nil
}

func (c *Client) shutdown() {
	c.wmu.Lock()
	_ = c.w.Close()
	c.wmu.Unlock()
}

// Close ends the conversation: it closes the plugin's stdin (the plugin
// closes its stores and exits), waits a moment, then kills it.
func (c *Client) Close() error {
	c.shutdown()
	if c.cmd == nil {
		return nil
	}
	c.mu.Lock()
	w := c.waitErr
	c.waitErr = nil
	c.mu.Unlock()
	if w == nil {
		return nil
	}
	select {
	case <-w:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-w
	}
	return nil
}

// Action runs the provider-specific action name with input (encoded as
// JSON) and decodes its answer into out. A plugin that does not offer the
// action answers Unimplemented without being asked.
func (c *Client) Action(ctx context.Context, name string, input, out any) error {
	if !slices.Contains(c.hello.Actions, name) {
		return &Error{Code: CodeName(driver.Unimplemented), Message: fmt.Sprintf("keyward-provider-%s has no action %q; it may be older than this keyward", c.name, name)}
	}
	b, err := json.Marshal(input)
	if err != nil {
		return err
	}
	p := &ActionParams{Name: name, Input: b}
	if dl, ok := ctx.Deadline(); ok {
		p.TimeoutMS = max(1, time.Until(dl).Milliseconds())
	}
	return c.call(ctx, MethodAction, p, out)
}

// Open opens the store rawURL in the plugin and returns a driver for it.
// The driver reports exactly the abilities the plugin has for that store.
func (c *Client) Open(ctx context.Context, rawURL string) (driver.Store, error) {
	var r OpenResult
	if err := c.call(ctx, MethodOpen, &OpenParams{URL: rawURL}, &r); err != nil {
		return nil, err
	}
	d := &remote{c: c, h: r.Store, abilities: map[driver.Ability]bool{}}
	for _, a := range r.Abilities {
		d.abilities[a] = true
	}
	return d, nil
}

// ErrorCode classifies an error a plugin client returned.
func ErrorCode(err error) driver.Code {
	var pe *Error
	var ce *crashError
	switch {
	case errors.As(err, &pe):
		return ParseCode(pe.Code)
	case errors.As(err, &ce):
		return driver.Unavailable
	case errors.Is(err, context.DeadlineExceeded):
		return driver.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return driver.Canceled
	}
	return driver.Unknown
}

// remote is the driver for one store inside a plugin. It has every
// method; HasAbility says which the plugin really has, and a missing one
// answers Unimplemented.
type remote struct {
	c         *Client
	h         string
	abilities map[driver.Ability]bool
	closed    atomic.Bool
	// listed is what values_listed answered for good: 1 yes, 2 no (a no
	// counts only once the store has served a read, since a provider may
	// learn its layout on the first one); 0 ask again.
	listed atomic.Int32
	served atomic.Bool // a read succeeded on this store
}

var (
	_ driver.Lister           = (*remote)(nil)
	_ driver.Writer           = (*remote)(nil)
	_ driver.Deleter          = (*remote)(nil)
	_ driver.Versioner        = (*remote)(nil)
	_ driver.BatchGetter      = (*remote)(nil)
	_ driver.Rotator          = (*remote)(nil)
	_ driver.VersionDisabler  = (*remote)(nil)
	_ driver.RotationLayouter = (*remote)(nil)
	_ driver.AbilityReporter  = (*remote)(nil)
	_ driver.BatchWriter      = (*remote)(nil)
	_ driver.ChangeStamper    = (*remote)(nil)
	_ driver.ValueLister      = (*remote)(nil)
)

// ValuesListed asks the plugin whether its store lists values with names
// (it may learn that only after its first request); a yes is remembered.
func (d *remote) ValuesListed() bool {
	if !d.abilities[driver.AbilityListValues] {
		return false
	}
	switch d.listed.Load() {
	case 1:
		return true
	case 2:
		return false
	}
	served := d.served.Load()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var r ValuesListedResult
	sp := d.sp()
	if err := d.c.call(ctx, MethodValuesListed, &sp, &r); err != nil {
		return false
	}
	switch {
	case r.Listed:
		d.listed.Store(1)
	case served:
		d.listed.Store(2)
	}
	return r.Listed
}

func (d *remote) ListValues(ctx context.Context) ([]driver.KeyInfo, map[string]*driver.Value, error) {
	if err := d.need(driver.AbilityListValues); err != nil {
		return nil, nil, err
	}
	var r ListValuesResult
	sp := d.sp()
	if err := d.c.call(ctx, MethodListValues, &sp, &r); err != nil {
		return nil, nil, err
	}
	vals := make(map[string]*driver.Value, len(r.Values))
	for k, v := range r.Values {
		if v != nil {
			d.c.seen.add(v.Data)
			vals[k] = &driver.Value{Data: v.Data, Version: v.Version}
		}
	}
	return r.Keys, vals, nil
}

func (d *remote) PutMany(ctx context.Context, items []driver.PutItem) ([]driver.Version, error) {
	if err := d.need(driver.AbilityBatchPut); err != nil {
		return nil, err
	}
	p := &PutManyParams{StoreParams: d.sp(), Items: make([]PutItem, len(items))}
	for i, it := range items {
		d.c.seen.add(it.Data)
		p.Items[i] = PutItem{Key: it.Key, Data: it.Data}
		if it.Opts != nil {
			p.Items[i].IfVersion, p.Items[i].Meta, p.Items[i].BestEffortCheck = it.Opts.IfVersion, it.Opts.Meta, it.Opts.BestEffortCheck
		}
	}
	var r VersionsResult
	if err := d.c.call(ctx, MethodPutMany, p, &r); err != nil {
		return nil, err
	}
	return r.Versions, nil
}

func (d *remote) Stamps(ctx context.Context, keys []string) (map[string]string, error) {
	if err := d.need(driver.AbilityStamps); err != nil {
		return nil, err
	}
	var r StampsResult
	if err := d.c.call(ctx, MethodStamps, &StampsParams{StoreParams: d.sp(), Keys: keys}, &r); err != nil {
		return nil, err
	}
	return r.Stamps, nil
}

func (d *remote) HasAbility(a driver.Ability) bool { return d.abilities[a] }

func (d *remote) ErrorCode(err error) driver.Code { return ErrorCode(err) }

func (d *remote) sp() StoreParams { return StoreParams{Store: d.h} }

func (d *remote) need(a driver.Ability) error {
	if !d.abilities[a] {
		return &Error{Code: CodeName(driver.Unimplemented), Message: fmt.Sprintf("keyward-provider-%s: this store has no %s ability", d.c.name, a)}
	}
	return nil
}

func (d *remote) Get(ctx context.Context, key, version string) (*driver.Value, error) {
	var v Value
	if err := d.c.call(ctx, MethodGet, &KeyParams{StoreParams: d.sp(), Key: key, Version: version}, &v); err != nil {
		return nil, err
	}
	d.served.Store(true)
	d.c.seen.add(v.Data)
	return &driver.Value{Data: v.Data, Version: v.Version}, nil
}

func (d *remote) GetMany(ctx context.Context, keys []string) (map[string]*driver.Value, error) {
	if err := d.need(driver.AbilityBatchGet); err != nil {
		return nil, err
	}
	var r GetManyResult
	if err := d.c.call(ctx, MethodGetMany, &GetManyParams{StoreParams: d.sp(), Keys: keys}, &r); err != nil {
		return nil, err
	}
	out := make(map[string]*driver.Value, len(r.Values))
	for k, v := range r.Values {
		if v != nil {
			d.c.seen.add(v.Data)
			out[k] = &driver.Value{Data: v.Data, Version: v.Version}
		}
	}
	return out, nil
}

func (d *remote) List(ctx context.Context) ([]driver.KeyInfo, error) {
	if err := d.need(driver.AbilityList); err != nil {
		return nil, err
	}
	var r ListResult
	sp := d.sp()
	if err := d.c.call(ctx, MethodList, &sp, &r); err != nil {
		return nil, err
	}
	d.served.Store(true)
	return r.Keys, nil
}

func (d *remote) Put(ctx context.Context, key string, data []byte, opts *driver.PutOptions) (driver.Version, error) {
	if err := d.need(driver.AbilityWrite); err != nil {
		return driver.Version{}, err
	}
	d.c.seen.add(data)
	p := &PutParams{StoreParams: d.sp(), Key: key, Data: data}
	if opts != nil {
		p.IfVersion, p.Meta, p.BestEffortCheck = opts.IfVersion, opts.Meta, opts.BestEffortCheck
	}
	var r VersionResult
	if err := d.c.call(ctx, MethodPut, p, &r); err != nil {
		return driver.Version{}, err
	}
	return r.Version, nil
}

func (d *remote) Delete(ctx context.Context, key string) error {
	if err := d.need(driver.AbilityDelete); err != nil {
		return err
	}
	return d.c.call(ctx, MethodDelete, &KeyParams{StoreParams: d.sp(), Key: key}, nil)
}

func (d *remote) Versions(ctx context.Context, key string) ([]driver.Version, error) {
	if err := d.need(driver.AbilityVersions); err != nil {
		return nil, err
	}
	var r VersionsResult
	if err := d.c.call(ctx, MethodVersions, &KeyParams{StoreParams: d.sp(), Key: key}, &r); err != nil {
		return nil, err
	}
	return r.Versions, nil
}

// RotationLayout asks the plugin (the layout may depend on the key).
// Errors mean "no layout": rotation then reports the store cannot rotate.
func (d *remote) RotationLayout(key string) driver.RotationLayout {
	if !d.abilities[driver.AbilityWrite] && !d.abilities[driver.AbilityRotate] {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var r LayoutResult
	if err := d.c.call(ctx, MethodRotationLayout, &KeyParams{StoreParams: d.sp(), Key: key}, &r); err != nil {
		return ""
	}
	return r.Layout
}

func (d *remote) DisableVersion(ctx context.Context, key, version string) error {
	if err := d.need(driver.AbilityDisableVersion); err != nil {
		return err
	}
	return d.c.call(ctx, MethodDisableVersion, &KeyParams{StoreParams: d.sp(), Key: key, Version: version}, nil)
}

func (d *remote) RotationState(ctx context.Context, key string) (*driver.RotationState, error) {
	if err := d.need(driver.AbilityRotate); err != nil {
		return nil, err
	}
	var r RotationStateResult
	if err := d.c.call(ctx, MethodRotationState, &KeyParams{StoreParams: d.sp(), Key: key}, &r); err != nil {
		return nil, err
	}
	for _, e := range append([]*RingEntry{r.Current, r.Pending}, ptrs(r.Previous)...) {
		if e != nil {
			d.c.seen.add(e.Data)
		}
	}
	st := &driver.RotationState{Current: fromWireEntry(r.Current), RotatedAt: r.RotatedAt, Pending: fromWireEntry(r.Pending)}
	for i := range r.Previous {
		st.Previous = append(st.Previous, *fromWireEntry(&r.Previous[i]))
	}
	return st, nil
}

func (d *remote) Stage(ctx context.Context, key string, data []byte, req *driver.StageRequest) (driver.Version, error) {
	if err := d.need(driver.AbilityRotate); err != nil {
		return driver.Version{}, err
	}
	d.c.seen.add(data)
	p := &StageParams{StoreParams: d.sp(), Key: key, Data: data}
	if req != nil {
		p.IfCurrent, p.PreviousExpires, p.RotatedAt = req.IfCurrent, req.PreviousExpires, req.RotatedAt
	}
	var r VersionResult
	if err := d.c.call(ctx, MethodStage, p, &r); err != nil {
		return driver.Version{}, err
	}
	return r.Version, nil
}

func (d *remote) Promote(ctx context.Context, key, pending string) (driver.Version, error) {
	if err := d.need(driver.AbilityRotate); err != nil {
		return driver.Version{}, err
	}
	var r VersionResult
	if err := d.c.call(ctx, MethodPromote, &KeyParams{StoreParams: d.sp(), Key: key, Version: pending}, &r); err != nil {
		return driver.Version{}, err
	}
	return r.Version, nil
}

func (d *remote) Discard(ctx context.Context, key, pending string) error {
	if err := d.need(driver.AbilityRotate); err != nil {
		return err
	}
	return d.c.call(ctx, MethodDiscard, &KeyParams{StoreParams: d.sp(), Key: key, Version: pending}, nil)
}

func (d *remote) Retire(ctx context.Context, key, version string) error {
	if err := d.need(driver.AbilityRotate); err != nil {
		return err
	}
	return d.c.call(ctx, MethodRetire, &KeyParams{StoreParams: d.sp(), Key: key, Version: version}, nil)
}

// Close closes the store in the plugin (the plugin itself keeps running
// until its Client closes).
func (d *remote) Close() error {
	if d.closed.Swap(true) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sp := d.sp()
	err := d.c.call(ctx, MethodClose, &sp, nil)
	if ErrorCode(err) == driver.Unavailable {
		return nil // the plugin is gone; nothing left to close
	}
	return err
}

func ptrs(es []RingEntry) []*RingEntry {
	out := make([]*RingEntry, len(es))
	for i := range es {
		out[i] = &es[i]
	}
	return out
}
