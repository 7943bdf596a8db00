// Package export renders secrets for the places they are delivered to:
//
//   - Dotenv: a .env file (KEY=value, quoted so that parsing it back gives
//     the same bytes);
//   - JSON: one object, key → value;
//   - Shell: POSIX sh "export KEY='value'" lines, for eval or source;
//   - Kubernetes: a v1 Secret manifest (stringData) with a checksum
//     annotation, and optionally the Deployment envFrom snippet;
//   - Docker: one file per secret in a directory (Docker/Swarm secrets,
//     read by the application through KEY_FILE=/run/secrets/key);
//   - Compose: the secrets: stanzas of a docker-compose file.
//
// Every renderer either writes everything or nothing: a value a format
// cannot hold (a NUL byte in a .env file or a shell variable, invalid UTF-8
// in JSON) is an error that names the key, never the value.
//
// keyward export is the command line over this package.
package export

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/fsutil"
)

// Entry is one secret to render.
type Entry struct {
	Key   string
	Value keyward.Secret
}

// The formats.
const (
	FormatDotenv     = "dotenv"
	FormatJSON       = "json"
	FormatShell      = "shell"
	FormatKubernetes = "kubernetes"
	FormatDocker     = "docker"
	FormatCompose    = "compose"
)

// Formats lists the formats, in the order the help text shows them.
var Formats = []string{FormatDotenv, FormatJSON, FormatShell, FormatKubernetes, FormatDocker, FormatCompose}

// Sort orders entries by key (every renderer's output order).
func Sort(es []Entry) {
	sort.SliceStable(es, func(i, j int) bool { return es[i].Key < es[j].Key })
}

func sorted(es []Entry) []Entry {
	out := append([]Entry(nil), es...)
	Sort(out)
	return out
}

// keyError is an InvalidArgument error about one key. msg must not hold
// the value.
func keyError(format, key, msg string, args ...any) error {
	return keyward.Errorf(keyward.InvalidArgument, "export", "%s: %q: %s", format, key, fmt.Sprintf(msg, args...))
}

func checkDuplicates(format string, es []Entry) error {
	for i := 1; i < len(es); i++ {
		if es[i].Key == es[i-1].Key {
			return keyError(format, es[i].Key, "key appears twice")
		}
	}
	return nil
}

// ResolveRefs replaces, in place, every value that is a reference
// (ref+SCHEME://…#/KEY or keyward://ENV/KEY) with the secret it names.
// Resolution is one level deep: a reference that resolves to another
// reference is left as it is. Errors name the key that held the reference.
func ResolveRefs(ctx context.Context, r *keyward.Resolver, es []Entry) error {
	for i := range es {
		v := es[i].Value.RevealString()
		if !keyward.IsRef(v) {
			continue
		}
		s, err := r.Resolve(ctx, v)
		if err != nil {
			return RefError(es[i].Key, err)
		}
		es[i].Value = s
	}
	return nil
}

// RefError wraps err, a failure to resolve the reference held by name (a
// key or an environment variable), keeping its code.
func RefError(name string, err error) error {
	return &refError{name: name, err: err}
}

type refError struct {
	name string
	err  error
}

func (e *refError) Error() string {
	msg := strings.TrimPrefix(e.err.Error(), "keyward: ")
	return fmt.Sprintf("keyward: failed to resolve the reference in %s: %s", e.name, msg)
}

func (e *refError) Unwrap() error { return e.err }

// WriteFileAtomic writes data to path atomically, with mode perm: a
// temporary file in the same directory (0600, O_EXCL, random name), fsync,
// rename over path, fsync of the directory. A failure leaves path as it was
// and removes the temporary file. The temporary file is named
// .keyward-tmp-PID-…: one a kill -9 leaves behind is removed by the next
// keyward that starts in or writes to that directory, and this call first
// sweeps such stale files. It is the package internal/fsutil's WriteFile,
// kept here for programs that import this package.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return fsutil.WriteFile(path, data, &fsutil.WriteOptions{Perm: perm})
}

// writeAll writes a rendered buffer in one call, so a renderer that fails
// half-way writes nothing.
func writeAll(w io.Writer, b *bytes.Buffer) error {
	_, err := w.Write(b.Bytes())
	return err
}
