//go:build !keyward_omit_vault

package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/keyward/keyward/driver"
)

const (
	casAttempts   = 16 // internal retries when another writer won the check-and-set
	valueField    = "value"
	keysFanOut    = 64 // concurrent reads in the keys layout
	historyFanOut = 8
)

// ---- mount resolution ----

func (d *kvDriver) resolve(ctx context.Context) (*target, error) {
	d.mountMu.Lock()
	defer d.mountMu.Unlock()
	if d.tgt != nil {
		return d.tgt, nil
	}
	t, err := d.detect(ctx)
	if err != nil {
		return nil, err
	}
	if d.o.Layout == LayoutBundle && t.sub == "" {
		return nil, &Error{Op: "resolve", Path: d.o.Path, code: driver.InvalidArgument,
			err: errors.New("the path names a KV mount, not a secret inside it")}
	}
	d.tgt = t
	return t, nil
}

func (d *kvDriver) detect(ctx context.Context) (*target, error) {
	if d.o.Mount != "" {
		t := &target{mount: d.o.Mount + "/", version: d.o.KVVersion, sub: d.o.Path}
		if t.version == 0 {
			mount, v, err := d.preflight(ctx, d.o.Mount)
			switch {
			case err == nil && mount != "":
				t.version = v
			case err == nil, d.ErrorCode(err) == driver.PermissionDenied:
				t.version = 2 // the mount is given; KV v2 is Vault's default
			default:
				return nil, err
			}
		}
		return t, nil
	}
	var firstErr error
	candidates := []string{d.o.Path}
	if !strings.HasPrefix(d.o.Path, "secret/") {
		// The guide's Python reads VAULT_PATH under the default secret/ mount.
		candidates = append(candidates, "secret/"+d.o.Path)
	}
	for _, p := range candidates {
		mount, v, err := d.preflight(ctx, p)
		if err != nil {
			var ve *Error
			if !errors.As(err, &ve) || ve.Status != http.StatusForbidden || !strings.HasPrefix(ve.Path, "sys/internal/ui/mounts/") {
				return nil, err // a failed login, an outage: not an answer about mounts
			}
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if mount == "" { // Vault predates mount detection: KV v1 at the path as given
			return &target{version: 1, sub: p}, nil
		}
		if !strings.HasPrefix(p+"/", mount) {
			continue
		}
		v2 := v
		if d.o.KVVersion != 0 {
			v2 = d.o.KVVersion
		}
		return &target{mount: mount, version: v2, sub: strings.Trim(strings.TrimPrefix(p+"/", mount), "/")}, nil
	}
	// Every candidate was refused: a dead token is refused everything, so
	// say that rather than blame the policy.
	var fe *Error
	if errors.As(firstErr, &fe) && fe.Status == http.StatusForbidden {
		if tok, terr := d.ensureToken(ctx); terr == nil && d.diagnose403(ctx, tok, fe) == diagTokenDead {
			return nil, &Error{Op: "find the KV mount for", Path: d.o.Path, Status: http.StatusForbidden, code: driver.PermissionDenied,
				diagnosis: diagTokenDead, err: errors.New("the token was refused for mount detection and for its own lookup-self")}
		}
	}
	return nil, &Error{Op: "find the KV mount for", Path: d.o.Path, code: driver.PermissionDenied, diagnosis: diagPolicy,
		err: fmt.Errorf("mount detection (sys/internal/ui/mounts) found no KV mount the token may use at %s; check the token's policy, or name the mount with ?mount= (%v)",
			strings.Join(candidates, " or "), firstErr)}
}

// preflight asks Vault which mount holds path, as `vault kv` does. It
// returns ("", 1, nil) for a Vault without the endpoint (404), and a
// PermissionDenied error when no mount matches or the token may not see it.
func (d *kvDriver) preflight(ctx context.Context, path string) (string, int, error) {
	sec, err := d.call(ctx, http.MethodGet, "sys/internal/ui/mounts/"+path, nil, nil, nil)
	if err != nil {
		if d.ErrorCode(err) == driver.NotFound {
			return "", 1, nil
		}
		return "", 0, err
	}
	if sec == nil || sec.Data == nil {
		return "", 1, nil
	}
	mount, _ := sec.Data["path"].(string)
	typ, _ := sec.Data["type"].(string)
	if typ != "" && typ != "kv" && typ != "generic" {
		return "", 0, &Error{Op: "resolve", Path: path, code: driver.InvalidArgument,
			err: fmt.Errorf("mount %s is a %q secrets engine, not KV", mount, typ)}
	}
	version := 1
	if opts, ok := sec.Data["options"].(map[string]any); ok {
		if v, _ := opts["version"].(string); v == "2" {
			version = 2
		}
	}
	return mount, version, nil
}

func (t *target) join(name string) string {
	if t.sub == "" {
		return name
	}
	if name == "" {
		return t.sub
	}
	return t.sub + "/" + name
}

func (t *target) dataPath(p string) string {
	if t.version == 2 {
		return t.mount + "data/" + p
	}
	return t.mount + p
}

func (t *target) metadataPath(p string) string {
	if t.version == 2 {
		return t.mount + "metadata/" + p
	}
	return t.mount + p
}

// ---- reading a secret ----

type kvRead struct {
	fields  map[string]any
	version driver.Version
}

// readSecret reads one KV secret (at a version, on v2). NotFound covers a
// missing secret, a missing version and a deleted or destroyed one.
func (d *kvDriver) readSecret(ctx context.Context, t *target, p, version string) (*kvRead, error) {
	var q url.Values
	if version != "" {
		if t.version == 1 {
			return nil, &Error{Op: "read", Path: t.dataPath(p), code: driver.NotFound, err: errors.New("KV v1 keeps no versions")}
		}
		if n, err := strconv.Atoi(version); err != nil || n <= 0 {
			return nil, &Error{Op: "read", Path: t.dataPath(p), code: driver.NotFound, err: fmt.Errorf("version %q is not a KV version number", version)}
		}
		q = url.Values{"version": {version}}
	}
	sec, err := d.call(ctx, http.MethodGet, t.dataPath(p), q, nil, nil)
	if err != nil {
		return nil, err
	}
	if sec == nil || sec.Data == nil {
		return nil, &Error{Op: "read", Path: t.dataPath(p), code: driver.NotFound}
	}
	if t.version == 1 {
		return &kvRead{fields: sec.Data}, nil
	}
	data, _ := sec.Data["data"].(map[string]any)
	md, _ := sec.Data["metadata"].(map[string]any)
	if data == nil {
		return nil, &Error{Op: "read", Path: t.dataPath(p), code: driver.NotFound, err: errors.New("the version is deleted")}
	}
	return &kvRead{fields: data, version: versionFrom(md)}, nil
}

func versionFrom(md map[string]any) driver.Version {
	var v driver.Version
	if md == nil {
		return v
	}
	switch n := md["version"].(type) {
	case json.Number:
		v.ID = n.String()
	case float64:
		v.ID = strconv.Itoa(int(n))
	}
	if s, _ := md["created_time"].(string); s != "" {
		v.Created, _ = time.Parse(time.RFC3339Nano, s)
	}
	if s, _ := md["deletion_time"].(string); s != "" {
		v.Disabled = true
	}
	if b, _ := md["destroyed"].(bool); b {
		v.Disabled = true
	}
	return v
}

// fieldName maps a key to the secret's field: the key itself, else its
// lower-case form (the guide's `vault kv put … jwt_secret_key=…`).
func fieldName(fields map[string]any, key string) (string, bool) {
	if _, ok := fields[key]; ok {
		return key, true
	}
	if lk := strings.ToLower(key); lk != key {
		if _, ok := fields[lk]; ok {
			return lk, true
		}
	}
	return key, false
}

// listedKey is the key List shows for field f: a lower-case field is shown
// as the upper-case key that reads it (jwt_secret_key → JWT_SECRET_KEY), so
// `keyward run` exports the names the guide's application reads. A field
// that would not map back (mixed case, or an upper-case twin exists) is
// shown as it is.
func listedKey(fields map[string]any, f string) string {
	up := strings.ToUpper(f)
	if up == f || strings.ToLower(f) != f {
		return f
	}
	if _, twin := fields[up]; twin {
		return f
	}
	return up
}

func fieldBytes(v any) []byte {
	switch x := v.(type) {
	case string:
		return []byte(x)
	case nil:
		return nil
	case json.Number:
		return []byte(x.String())
	}
	b, _ := json.Marshal(v)
	return b
}

func (d *kvDriver) notFound(path, key string) error {
	return &Error{Op: "read", Path: path, code: driver.NotFound, err: fmt.Errorf("the secret has no field %q", key)}
}

// ---- driver.Store ----

// Get reads key's value (one request).
func (d *kvDriver) Get(ctx context.Context, key, version string) (*driver.Value, error) {
	t, err := d.resolve(ctx)
	if err != nil {
		return nil, err
	}
	if d.o.Layout == LayoutKeys {
		return d.getKey(ctx, t, key, version)
	}
	r, err := d.readSecret(ctx, t, t.sub, version)
	if err != nil {
		return nil, err
	}
	f, ok := fieldName(r.fields, key)
	if !ok {
		return nil, d.notFound(t.dataPath(t.sub), key)
	}
	return &driver.Value{Data: fieldBytes(r.fields[f]), Version: r.version}, nil
}

func (d *kvDriver) getKey(ctx context.Context, t *target, key, version string) (*driver.Value, error) {
	r, err := d.readSecret(ctx, t, t.join(key), version)
	if err != nil && d.ErrorCode(err) == driver.NotFound && strings.ToLower(key) != key {
		if r2, err2 := d.readSecret(ctx, t, t.join(strings.ToLower(key)), version); err2 == nil {
			r, err = r2, nil
		}
	}
	if err != nil {
		return nil, err
	}
	f, ok := r.fields[valueField]
	if !ok {
		if len(r.fields) != 1 {
			names := make([]string, 0, len(r.fields))
			for k := range r.fields {
				names = append(names, k)
			}
			sort.Strings(names)
			return nil, &Error{Op: "read", Path: t.dataPath(t.join(key)), code: driver.InvalidArgument,
				err: fmt.Errorf("the secret has fields %s; the keys layout reads field %q", strings.Join(names, ", "), valueField)}
		}
		for _, v := range r.fields {
			f = v
		}
	}
	return &driver.Value{Data: fieldBytes(f), Version: r.version}, nil
}

// GetMany reads many keys: one request in the bundle layout, concurrent
// requests in the keys layout. Missing keys are absent from the result.
func (d *kvDriver) GetMany(ctx context.Context, keys []string) (map[string]*driver.Value, error) {
	t, err := d.resolve(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*driver.Value, len(keys))
	if d.o.Layout == LayoutKeys {
		var (
			mu       sync.Mutex
			wg       sync.WaitGroup
			firstErr error
			sem      = make(chan struct{}, keysFanOut)
		)
		for _, k := range keys {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				v, err := d.getKey(ctx, t, k, "")
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					out[k] = v
				case d.ErrorCode(err) == driver.NotFound:
				case firstErr == nil:
					firstErr = err
				}
			}()
		}
		wg.Wait()
		if firstErr != nil {
			return nil, firstErr
		}
		return out, nil
	}
	r, err := d.readSecret(ctx, t, t.sub, "")
	if err != nil {
		if d.ErrorCode(err) == driver.NotFound {
			return out, nil
		}
		return nil, err
	}
	for _, k := range keys {
		if f, ok := fieldName(r.fields, k); ok {
			out[k] = &driver.Value{Data: fieldBytes(r.fields[f]), Version: r.version}
		}
	}
	return out, nil
}

// List lists the fields of the secret (bundle) or the secrets under the
// path (keys). Never values.
func (d *kvDriver) List(ctx context.Context) ([]driver.KeyInfo, error) {
	out, _, err := d.ListValues(ctx)
	return out, err
}

// ValuesListed implements driver.ValueLister: true in the bundle layout.
func (d *kvDriver) ValuesListed() bool { return d.o.Layout != LayoutKeys }

// ListValues implements driver.ValueLister: in the bundle layout the one
// read that lists the fields also holds their values (keyed as listed, so
// each reads back exactly as Get would read it). The keys layout lists
// names only (nil values).
func (d *kvDriver) ListValues(ctx context.Context) ([]driver.KeyInfo, map[string]*driver.Value, error) {
	t, err := d.resolve(ctx)
	if err != nil {
		return nil, nil, err
	}
	var out []driver.KeyInfo
	if d.o.Layout == LayoutKeys {
		sec, err := d.call(ctx, "LIST", t.metadataPath(t.sub), nil, nil, nil)
		if err != nil {
			if d.ErrorCode(err) == driver.NotFound {
				return nil, nil, nil
			}
			return nil, nil, err
		}
		if sec == nil || sec.Data == nil {
			return nil, nil, nil
		}
		keys, _ := sec.Data["keys"].([]any)
		for _, k := range keys {
			if s, ok := k.(string); ok && !strings.HasSuffix(s, "/") {
				out = append(out, driver.KeyInfo{Key: s})
			}
		}
		return out, nil, nil
	}
	r, err := d.readSecret(ctx, t, t.sub, "")
	if err != nil {
		if d.ErrorCode(err) == driver.NotFound {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	vals := make(map[string]*driver.Value, len(r.fields))
	for k := range r.fields {
		key := listedKey(r.fields, k)
		out = append(out, driver.KeyInfo{Key: key, Version: r.version.ID, Updated: r.version.Created})
		if f, ok := fieldName(r.fields, key); ok {
			vals[key] = &driver.Value{Data: fieldBytes(r.fields[f]), Version: r.version}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, vals, nil
}

// ---- writes ----

func casConflict(path string) error {
	return &Error{Op: "write", Path: path, code: driver.FailedPrecondition,
		err: errors.New("check-and-set conflict: the current version is not the expected one")}
}

// Put writes key. In the bundle layout it writes a new version of the
// secret with every field, check-and-set on the version it read.
func (d *kvDriver) Put(ctx context.Context, key string, data []byte, opts *driver.PutOptions) (driver.Version, error) {
	if !utf8.Valid(data) {
		return driver.Version{}, &Error{Op: "write", Path: d.o.Path, code: driver.InvalidArgument,
			err: errors.New("a Vault KV value is JSON text; the value is not valid UTF-8 (encode binary values, e.g. base64)")}
	}
	t, err := d.resolve(ctx)
	if err != nil {
		return driver.Version{}, err
	}
	ifVersion := ""
	if opts != nil {
		ifVersion = opts.IfVersion
	}
	if ifVersion != "" && t.version == 1 && (opts == nil || !opts.BestEffortCheck) {
		// KV v1 keeps no versions and has no check-and-set. A best-effort
		// check (rotation's) is made: read, check and write under the
		// process-wide lock, exact against this process's writers, not
		// against another process's.
		return driver.Version{}, &Error{Op: "write", Path: t.dataPath(t.sub), code: driver.Unimplemented,
			err: errors.New("KV v1 has no check-and-set (it keeps no versions): write without --if-version, or use a KV v2 mount (vault secrets enable -version=2 kv, or vault kv enable-versioning MOUNT)")}
	}
	val := string(data)
	if d.o.Layout == LayoutKeys {
		p := t.join(key)
		body := map[string]any{valueField: val}
		if t.version == 1 {
			if ifVersion != "" { // best effort: "0" is create-only; v1 has no other versions
				d.v1Mu.Lock()
				defer d.v1Mu.Unlock()
				_, err := d.readSecret(ctx, t, p, "")
				switch {
				case err == nil || ifVersion != "0":
					return driver.Version{}, casConflict(t.dataPath(p))
				case d.ErrorCode(err) != driver.NotFound:
					return driver.Version{}, err
				}
			}
			if _, err := d.call(ctx, http.MethodPost, t.dataPath(p), nil, body, []string{val}); err != nil {
				return driver.Version{}, err
			}
			return driver.Version{}, nil
		}
		req := map[string]any{"data": body}
		if ifVersion != "" {
			n, err := strconv.Atoi(ifVersion)
			if err != nil {
				return driver.Version{}, casConflict(t.dataPath(p))
			}
			req["options"] = map[string]any{"cas": n}
		}
		return d.writeV2(ctx, t.dataPath(p), req, []string{val})
	}
	return d.modify(ctx, t, ifVersion, func(fields map[string]any) error {
		f, exists := fieldName(fields, key)
		if ifVersion == "0" && exists {
			return casConflict(t.dataPath(t.sub))
		}
		fields[f] = val
		return nil
	}, val)
}

// Delete removes key: a new version without the field (bundle), or the
// secret with all its versions (keys).
func (d *kvDriver) Delete(ctx context.Context, key string) error {
	t, err := d.resolve(ctx)
	if err != nil {
		return err
	}
	if d.o.Layout == LayoutKeys {
		p := t.join(key)
		if _, err := d.call(ctx, http.MethodGet, t.metadataPath(p), nil, nil, nil); err != nil {
			return err
		}
		_, err := d.call(ctx, http.MethodDelete, t.metadataPath(p), nil, nil, nil)
		return err
	}
	_, err = d.modify(ctx, t, "", func(fields map[string]any) error {
		f, ok := fieldName(fields, key)
		if !ok {
			return d.notFound(t.dataPath(t.sub), key)
		}
		delete(fields, f)
		return nil
	})
	return err
}

// modify reads the secret, applies change and writes it back: on KV v2 with
// check-and-set, retrying when another writer got in between (unless
// ifVersion makes the write conditional); on KV v1 under a process-wide lock.
func (d *kvDriver) modify(ctx context.Context, t *target, ifVersion string, change func(map[string]any) error, scrub ...string) (driver.Version, error) {
	path := t.dataPath(t.sub)
	if t.version == 1 {
		d.v1Mu.Lock()
		defer d.v1Mu.Unlock()
	}
	for attempt := 0; ; attempt++ {
		fields := map[string]any{}
		cur := 0
		r, err := d.readSecret(ctx, t, t.sub, "")
		switch {
		case err == nil:
			fields = r.fields
			cur, _ = strconv.Atoi(r.version.ID)
		case d.ErrorCode(err) == driver.NotFound:
			if t.version == 2 {
				// The latest version may be deleted: CAS must name it. If
				// it is live, another writer created the secret meanwhile:
				// read again.
				n, live, merr := d.currentVersion(ctx, t)
				switch {
				case merr == nil && live && attempt < casAttempts:
					continue
				case merr == nil:
					cur = n
				case d.ErrorCode(merr) != driver.NotFound:
					return driver.Version{}, merr
				}
			}
		default:
			return driver.Version{}, err
		}
		if ifVersion != "" && ifVersion != "0" && ifVersion != strconv.Itoa(cur) {
			return driver.Version{}, casConflict(path)
		}
		if err := change(fields); err != nil {
			return driver.Version{}, err
		}
		for _, v := range fields {
			if s, ok := v.(string); ok {
				scrub = append(scrub, s)
			}
		}
		if t.version == 1 {
			_, err := d.call(ctx, http.MethodPost, path, nil, fields, scrub)
			return driver.Version{}, err
		}
		v, err := d.writeV2(ctx, path, map[string]any{"data": fields, "options": map[string]any{"cas": cur}}, scrub)
		if err == nil || d.ErrorCode(err) != driver.FailedPrecondition || ifVersion != "" || attempt >= casAttempts {
			return v, err
		}
		// Another writer won; read again after a short jittered pause.
		pause := time.Duration(1+rand.IntN(5<<min(attempt, 4))) * time.Millisecond
		tm := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			tm.Stop()
			return driver.Version{}, err
		case <-tm.C:
		}
	}
}

func (d *kvDriver) currentVersion(ctx context.Context, t *target) (n int, live bool, err error) {
	sec, err := d.call(ctx, http.MethodGet, t.metadataPath(t.sub), nil, nil, nil)
	if err != nil {
		return 0, false, err
	}
	if sec == nil || sec.Data == nil {
		return 0, false, &Error{Op: "read", Path: t.metadataPath(t.sub), code: driver.NotFound}
	}
	num, _ := sec.Data["current_version"].(json.Number)
	n, _ = strconv.Atoi(num.String())
	if vs, ok := sec.Data["versions"].(map[string]any); ok {
		if md, ok := vs[num.String()].(map[string]any); ok {
			live = !versionFrom(md).Disabled
		}
	}
	return n, live, nil
}

func (d *kvDriver) writeV2(ctx context.Context, path string, body map[string]any, scrub []string) (driver.Version, error) {
	sec, err := d.call(ctx, http.MethodPost, path, nil, body, scrub)
	if err != nil {
		return driver.Version{}, err
	}
	if sec == nil {
		return driver.Version{}, nil
	}
	return versionFrom(sec.Data), nil
}

// ---- versions ----

// Versions lists key's versions, oldest first. In the bundle layout these
// are the secret versions in which the key's field appeared or changed.
func (d *kvDriver) Versions(ctx context.Context, key string) ([]driver.Version, error) {
	t, err := d.resolve(ctx)
	if err != nil {
		return nil, err
	}
	if t.version == 1 {
		return nil, &Error{Op: "history", Path: t.dataPath(t.sub), code: driver.Unimplemented, err: errors.New("KV v1 keeps no versions")}
	}
	p := t.sub
	if d.o.Layout == LayoutKeys {
		p = t.join(key)
	}
	all, err := d.metadataVersions(ctx, t, p)
	if err != nil && d.o.Layout == LayoutKeys && d.ErrorCode(err) == driver.NotFound && strings.ToLower(key) != key {
		p = t.join(strings.ToLower(key))
		all, err = d.metadataVersions(ctx, t, p)
	}
	if err != nil {
		return nil, err
	}
	if d.o.Layout == LayoutKeys {
		return all, nil
	}
	// Bundle: read each live version to see where the field changed.
	type res struct {
		val []byte
		ok  bool
		err error
	}
	results := make([]res, len(all))
	var wg sync.WaitGroup
	sem := make(chan struct{}, historyFanOut)
	for i, v := range all {
		if v.Disabled {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			r, err := d.readSecret(ctx, t, p, v.ID)
			if err != nil {
				if d.ErrorCode(err) != driver.NotFound {
					results[i].err = err
				}
				return
			}
			if f, ok := fieldName(r.fields, key); ok {
				results[i] = res{val: fieldBytes(r.fields[f]), ok: true}
			}
		}()
	}
	wg.Wait()
	var out []driver.Version
	var prev []byte
	have := false
	for i, r := range results {
		if r.err != nil {
			return nil, r.err
		}
		if !r.ok {
			have = false
			continue
		}
		if !have || string(prev) != string(r.val) {
			out = append(out, all[i])
		}
		prev, have = r.val, true
	}
	if len(out) == 0 {
		return nil, d.notFound(t.dataPath(p), key)
	}
	return out, nil
}

func (d *kvDriver) metadataVersions(ctx context.Context, t *target, p string) ([]driver.Version, error) {
	sec, err := d.call(ctx, http.MethodGet, t.metadataPath(p), nil, nil, nil)
	if err != nil {
		return nil, err
	}
	if sec == nil || sec.Data == nil {
		return nil, &Error{Op: "read", Path: t.metadataPath(p), code: driver.NotFound}
	}
	vm, _ := sec.Data["versions"].(map[string]any)
	var out []driver.Version
	for id, raw := range vm {
		md, _ := raw.(map[string]any)
		v := versionFrom(md)
		v.ID = id
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool {
		a, _ := strconv.Atoi(out[i].ID)
		b, _ := strconv.Atoi(out[j].ID)
		return a < b
	})
	if len(out) == 0 {
		return nil, &Error{Op: "read", Path: t.metadataPath(p), code: driver.NotFound}
	}
	return out, nil
}
