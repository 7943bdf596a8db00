//go:build !keyward_omit_awssm

package awssm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"golang.org/x/sync/singleflight"

	"github.com/keyward/keyward/driver"
)

// bundleDriver is the default mode: every key is a field of the one JSON
// secret name (see # Modes).
type bundleDriver struct {
	conn
	name string

	reads singleflight.Group // bundle reads, by version

	// listed is the bundle List just read, handed once to the GetMany that
	// usually follows (keyward run, export) so that listing and reading the
	// values cost one request and see one version. Writes clear it.
	listedMu sync.Mutex
	listed   *bundle
	listedAt time.Time
}

// listedReuse is how long a bundle read by List may serve the next GetMany.
const listedReuse = 2 * time.Second

func (d *bundleDriver) takeListed() *bundle {
	d.listedMu.Lock()
	defer d.listedMu.Unlock()
	b := d.listed
	d.listed = nil
	if b == nil || time.Since(d.listedAt) > listedReuse {
		return nil
	}
	return b
}

func (d *bundleDriver) setListed(b *bundle) {
	d.listedMu.Lock()
	d.listed, d.listedAt = b, time.Now()
	d.listedMu.Unlock()
}

func (d *bundleDriver) Get(ctx context.Context, key, version string) (*driver.Value, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := d.readBundle(ctx, version)
	if err != nil {
		return nil, err
	}
	data, _, ok := b.lookup(key)
	if !ok {
		return nil, &keyError{err: errNotFound, secret: d.name, key: key}
	}
	return &driver.Value{Data: data, Version: b.ver}, nil
}

func (d *bundleDriver) GetMany(ctx context.Context, keys []string) (map[string]*driver.Value, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make(map[string]*driver.Value, len(keys))
	b := d.takeListed()
	if b == nil {
		var err error
		if b, err = d.readBundle(ctx, ""); err != nil {
			if errorCode(err) == driver.NotFound {
				return out, nil
			}
			return nil, err
		}
	}
	for _, k := range keys {
		if data, _, ok := b.lookup(k); ok {
			out[k] = &driver.Value{Data: data, Version: b.ver}
		}
	}
	return out, nil
}

func (d *bundleDriver) List(ctx context.Context) ([]driver.KeyInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := d.readBundle(ctx, "")
	if err != nil {
		if errorCode(err) == driver.NotFound {
			return nil, nil
		}
		return nil, err
	}
	d.setListed(b)
	out := make([]driver.KeyInfo, 0, len(b.fields))
	for f := range b.fields {
		out = append(out, driver.KeyInfo{Key: displayKey(f), Version: b.ver.ID, Updated: b.ver.Created})
	}
	return out, nil
}

// displayKey is the key a listed field is read back as: an all-lower-case
// field that is a valid environment variable name in upper case is listed
// in upper case (jwt_secret_key → JWT_SECRET_KEY), since Get lower-cases.
func displayKey(field string) string {
	if field == "" || strings.ToLower(field) != field {
		return field
	}
	up := strings.ToUpper(field)
	for i, r := range up {
		if !(r == '_' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return field
		}
	}
	return up
}

func (d *bundleDriver) Put(ctx context.Context, key string, data []byte, opts *driver.PutOptions) (driver.Version, error) {
	if err := ctx.Err(); err != nil {
		return driver.Version{}, err
	}
	ifv := ifVersion(opts)
	if !utf8.Valid(data) {
		return driver.Version{}, &keyError{err: errNotText, secret: d.name, key: key}
	}
	return d.modifyBundle(ctx, key, ifv, func(b *bundle) error {
		field, _ := b.fieldFor(key)
		if ifv == "0" {
			if _, exists := b.fields[field]; exists {
				return &keyError{err: errConflict, secret: d.name, key: key}
			}
		}
		raw, _ := marshalNoEscape(string(data))
		b.fields[field] = raw
		return nil
	})
}

func (d *bundleDriver) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := d.modifyBundle(ctx, key, "", func(b *bundle) error {
		field, ok := b.fieldFor(key)
		if !ok {
			return &keyError{err: errNotFound, secret: d.name, key: key}
		}
		delete(b.fields, field)
		return nil
	})
	if err != nil && errorCode(err) == driver.NotFound {
		return &keyError{err: errNotFound, secret: d.name, key: key}
	}
	return err
}

func (d *bundleDriver) Versions(ctx context.Context, key string) ([]driver.Version, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := d.readBundle(ctx, "")
	if err != nil {
		return nil, err
	}
	if _, _, ok := b.lookup(key); !ok {
		return nil, &keyError{err: errNotFound, secret: d.name, key: key}
	}
	return d.versions(ctx, d.name)
}

type bundle struct {
	fields map[string]json.RawMessage
	ver    driver.Version
}

// lookup finds key: its lower-case form first (the guide's rule), then as given.
func (b *bundle) lookup(key string) ([]byte, string, bool) {
	field, ok := b.fieldFor(key)
	if !ok {
		return nil, "", false
	}
	raw := bytes.TrimSpace(b.fields[field])
	if bytes.Equal(raw, []byte("null")) {
		return nil, "", false
	}
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, "", false
		}
		return []byte(s), field, true
	}
	return append([]byte(nil), raw...), field, true
}

// fieldFor names the field key reads and writes: the lower-case field if it
// exists, else the exact-case field if it exists, else the lower-case name.
func (b *bundle) fieldFor(key string) (string, bool) {
	lower := strings.ToLower(key)
	if _, ok := b.fields[lower]; ok {
		return lower, true
	}
	if _, ok := b.fields[key]; ok {
		return key, true
	}
	return lower, false
}

func parseBundle(name string, sv *secretVal) (*bundle, error) {
	b := &bundle{ver: sv.ver}
	dec := json.NewDecoder(bytes.NewReader(sv.data))
	if sv.str == nil || dec.Decode(&b.fields) != nil || b.fields == nil || dec.More() {
		// Deliberately no decoder error text: it can quote the value.
		return nil, &keyError{err: errNotObject, secret: name}
	}
	return b, nil
}

func (d *bundleDriver) readBundle(ctx context.Context, version string) (*bundle, error) {
	type res struct {
		b   *bundle
		err error
	}
	ch := d.reads.DoChan(version, func() (any, error) {
		sv, err := d.getSecret(ctx, d.name, version)
		if err != nil {
			return res{nil, err}, nil
		}
		b, err := parseBundle(d.name, sv)
		return res{b, err}, nil
	})
	var r res
	select {
	case out := <-ch:
		r = out.Val.(res)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// A shared read that failed because another caller gave up is retried
	// on this caller's own context.
	if r.err != nil && ctx.Err() == nil && (errors.Is(r.err, context.Canceled) || errors.Is(r.err, context.DeadlineExceeded)) {
		sv, err := d.getSecret(ctx, d.name, version)
		if err != nil {
			return nil, err
		}
		return parseBundle(d.name, sv)
	}
	if r.err != nil {
		return nil, r.err
	}
	// Callers may modify fields; each gets its own map.
	cp := &bundle{fields: make(map[string]json.RawMessage, len(r.b.fields)), ver: r.b.ver}
	for k, v := range r.b.fields {
		cp.fields[k] = v
	}
	return cp, nil
}

func marshalNoEscape(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// modifyBundle is the bundle's read-modify-write loop: read AWSCURRENT,
// apply change, write a new version with a compare-and-swap on AWSCURRENT,
// and on a lost race re-read and try again (unless ifv pins a version).
func (d *bundleDriver) modifyBundle(ctx context.Context, key, ifv string, change func(*bundle) error) (driver.Version, error) {
	d.takeListed()
	defer d.takeListed()
	c, err := d.api(ctx)
	if err != nil {
		return driver.Version{}, err
	}
	for attempt := 0; attempt < maxWriteAttempts; attempt++ {
		if attempt > 0 {
			if err := sleepJitter(ctx, attempt); err != nil {
				return driver.Version{}, err
			}
		}
		sv, err := d.getSecret(ctx, d.name, "")
		missing := err != nil && apiCode(err) == "ResourceNotFoundException"
		if err != nil && !missing {
			return driver.Version{}, err
		}
		var b *bundle
		if missing {
			if ifv != "" && ifv != "0" {
				return driver.Version{}, &keyError{err: errConflict, secret: d.name, key: key}
			}
			b = &bundle{fields: map[string]json.RawMessage{}}
		} else {
			if b, err = parseBundle(d.name, sv); err != nil {
				return driver.Version{}, err
			}
			if ifv != "" && ifv != "0" && b.ver.ID != ifv {
				return driver.Version{}, &keyError{err: errConflict, secret: d.name, key: key}
			}
		}
		if err := change(b); err != nil {
			return driver.Version{}, err
		}
		doc, err := marshalNoEscape(b.fields)
		if err != nil {
			return driver.Version{}, fmt.Errorf("encoding the bundle: %w", errNotText)
		}
		if missing {
			token := newToken()
			out, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
				Name: aws.String(d.name), ClientRequestToken: aws.String(token), SecretString: aws.String(string(doc)),
			}, oneAttempt)
			if apiCode(err) == "ResourceExistsException" && ifv == "" {
				continue // created concurrently: merge into it
			}
			if err != nil {
				if apiCode(err) == "ResourceExistsException" {
					return driver.Version{}, &keyError{err: errConflict, secret: d.name, key: key}
				}
				return driver.Version{}, wrapSDK(err)
			}
			return driver.Version{ID: aws.ToString(out.VersionId), Created: time.Now().UTC(), Labels: []string{"AWSCURRENT"}}, nil
		}
		v, err := d.casWrite(ctx, d.name, doc, b.ver.ID)
		if errors.Is(err, errConflict) && ifv == "" {
			continue
		}
		return v, err
	}
	return driver.Version{}, &keyError{err: errContention, secret: d.name, key: key}
}
