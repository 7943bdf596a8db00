package keyward

import (
	"context"
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Load fills the tagged fields of the struct that dst points to with secrets
// from s, fetched together (one round trip when the provider can batch):
//
//	var cfg struct {
//		JWTSecret   keyward.Secret `secret:"JWT_SECRET_KEY,min=32"`
//		DatabaseURL string         `secret:"DATABASE_URL"`
//		SMTPPort    int            `secret:"SMTP_PORT" default:"587"`
//		SentryDSN   string         `secret:"SENTRY_DSN,optional"`
//	}
//	err := keyward.Load(ctx, store, &cfg)
//
// The tag is the secret's name, then options: optional (a missing secret
// leaves the field as it is), min=N and max=N (length in characters). A
// default:"…" tag gives the value to use when the secret is missing (and
// makes it optional). Fields without a secret tag that are structs are
// filled recursively; secret:"-" skips a field.
//
// Field types: Secret, string, []byte, bool, the int, uint and float kinds,
// time.Duration, and any type whose pointer implements
// encoding.TextUnmarshaler.
//
// Load reports every problem at once, not the first: the error is a
// MultiError of *Error values (NotFound for a missing required secret,
// InvalidArgument for a value that is too short, too long or does not
// parse), each naming the secret and never its value. Fields of secrets
// that were fine are filled even when others fail. A dst that is not a
// pointer to a struct, a malformed tag or an unsupported field type is an
// InvalidArgument error before anything is fetched.
func Load(ctx context.Context, s *Store, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return Errorf(InvalidArgument, "load", "destination must be a non-nil pointer to a struct, not %T", dst)
	}
	var fields []loadField
	if err := collectFields(rv.Elem(), rv.Elem().Type().Name(), &fields); err != nil {
		return err
	}
	if len(fields) == 0 {
		return nil
	}
	names := make([]string, 0, len(fields))
	seen := map[string]bool{}
	for _, f := range fields {
		if !seen[f.name] {
			seen[f.name] = true
			names = append(names, f.name)
		}
	}
	vals, err := s.GetMany(ctx, names)
	fetchErr := map[string]error{}
	if err != nil {
		var me MultiError
		if !errors.As(err, &me) {
			me = MultiError{err}
		}
		for _, e := range me {
			var ke *Error
			if errors.As(e, &ke) && ke.Key != "" {
				fetchErr[ke.Key] = e
			} else if ErrorCode(e) != NotFound {
				return e // the store as a whole failed
			}
		}
	}
	var errs MultiError
	for _, f := range fields {
		v := vals[f.name]
		if v == nil {
			if ferr := fetchErr[f.name]; ferr != nil && ErrorCode(ferr) != NotFound {
				errs = append(errs, ferr)
				continue
			}
			switch {
			case f.hasDef:
				if perr := f.set(NewSecretString(f.def)); perr != nil {
					errs = append(errs, &Error{Code: InvalidArgument, Op: "load", Key: f.name, Store: s.URL(),
						err: fmt.Errorf("default for %s: %w", f.path, perr)})
				}
			case f.optional:
			default:
				errs = append(errs, &Error{Code: NotFound, Op: "load", Key: f.name, Store: s.URL(),
					err: fmt.Errorf("required by %s", f.path)})
			}
			continue
		}
		n := utf8.RuneCount(v.Secret.Reveal())
		if f.min > 0 && n < f.min {
			errs = append(errs, &Error{Code: InvalidArgument, Op: "load", Key: f.name, Store: s.URL(),
				err: fmt.Errorf("is %d characters; %s needs at least %d", n, f.path, f.min)})
			continue
		}
		if f.max > 0 && n > f.max {
			errs = append(errs, &Error{Code: InvalidArgument, Op: "load", Key: f.name, Store: s.URL(),
				err: fmt.Errorf("is %d characters; %s allows at most %d", n, f.path, f.max)})
			continue
		}
		if perr := f.set(v.Secret); perr != nil {
			errs = append(errs, &Error{Code: InvalidArgument, Op: "load", Key: f.name, Store: s.URL(),
				err: fmt.Errorf("for %s: %w", f.path, perr)})
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

type loadField struct {
	name     string
	path     string // Config.Field, for messages
	optional bool
	min, max int
	def      string
	hasDef   bool
	v        reflect.Value
}

var (
	secretType        = reflect.TypeFor[Secret]()
	durationType      = reflect.TypeFor[time.Duration]()
	textUnmarshalType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func collectFields(sv reflect.Value, prefix string, out *[]loadField) error {
	st := sv.Type()
	for i := 0; i < st.NumField(); i++ {
		sf := st.Field(i)
		path := sf.Name
		if prefix != "" {
			path = prefix + "." + sf.Name
		}
		tag, tagged := sf.Tag.Lookup("secret")
		if tag == "-" {
			continue
		}
		if !tagged {
			if sf.Type.Kind() == reflect.Struct && sf.Type != secretType && sf.IsExported() {
				if err := collectFields(sv.Field(i), path, out); err != nil {
					return err
				}
			}
			continue
		}
		if !sf.IsExported() {
			return Errorf(InvalidArgument, "load", "%s has a secret tag but is not exported", path)
		}
		f := loadField{path: path, v: sv.Field(i)}
		parts := strings.Split(tag, ",")
		f.name = strings.TrimSpace(parts[0])
		if f.name == "" {
			return Errorf(InvalidArgument, "load", "%s: secret tag has no name", path)
		}
		for _, opt := range parts[1:] {
			opt = strings.TrimSpace(opt)
			k, val, hasVal := strings.Cut(opt, "=")
			switch {
			case opt == "optional":
				f.optional = true
			case opt == "required":
			case (k == "min" || k == "max") && hasVal:
				n, err := strconv.Atoi(val)
				if err != nil || n < 0 {
					return Errorf(InvalidArgument, "load", "%s: secret tag option %s needs a whole number", path, k)
				}
				if k == "min" {
					f.min = n
				} else {
					f.max = n
				}
			default:
				return Errorf(InvalidArgument, "load", "%s: unknown secret tag option %q (known: optional, required, min=N, max=N)", path, opt)
			}
		}
		if def, ok := sf.Tag.Lookup("default"); ok {
			f.def, f.hasDef = def, true
		}
		if !settable(sf.Type) {
			return Errorf(InvalidArgument, "load", "%s: cannot load a secret into a %s", path, sf.Type)
		}
		*out = append(*out, f)
	}
	return nil
}

func settable(t reflect.Type) bool {
	if t == secretType || t == durationType || reflect.PointerTo(t).Implements(textUnmarshalType) {
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return true
	case reflect.Slice:
		return t.Elem().Kind() == reflect.Uint8
	}
	return false
}

// set stores sec in the field. Its errors describe the expected type and
// never repeat the value (strconv's errors would).
func (f *loadField) set(sec Secret) error {
	v, t := f.v, f.v.Type()
	raw := sec.Reveal()
	if t == secretType {
		b := make([]byte, len(raw))
		copy(b, raw)
		v.Set(reflect.ValueOf(NewSecret(b)))
		return nil
	}
	if tu, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok && t != durationType {
		if err := tu.UnmarshalText(append([]byte(nil), raw...)); err != nil {
			return fmt.Errorf("the value does not parse as a %s", t)
		}
		return nil
	}
	s := strings.TrimSpace(string(raw))
	bad := func(what string) error { return fmt.Errorf("the value is not %s", what) }
	switch {
	case t == durationType:
		d, err := time.ParseDuration(s)
		if err != nil {
			return bad("a duration like 30s or 5m")
		}
		v.SetInt(int64(d))
		return nil
	case t.Kind() == reflect.String:
		v.SetString(string(raw))
	case t.Kind() == reflect.Slice:
		v.SetBytes(append([]byte(nil), raw...))
	case t.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return bad("true or false")
		}
		v.SetBool(b)
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		n, err := strconv.ParseInt(s, 10, t.Bits())
		if err != nil {
			return bad(fmt.Sprintf("a whole number that fits in %d bits", t.Bits()))
		}
		v.SetInt(n)
	case t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64:
		n, err := strconv.ParseUint(s, 10, t.Bits())
		if err != nil {
			return bad(fmt.Sprintf("a non-negative whole number that fits in %d bits", t.Bits()))
		}
		v.SetUint(n)
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		n, err := strconv.ParseFloat(s, t.Bits())
		if err != nil {
			return bad("a number")
		}
		v.SetFloat(n)
	}
	return nil
}
