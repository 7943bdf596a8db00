//go:build !keyward_omit_vault

package vault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf16"

	"github.com/hashicorp/vault/api"

	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/internal/cloudsm"
)

// Error is a failed Vault request. It carries Vault's own error messages
// (scrubbed of tokens, secret IDs and values) but never a request or
// response body.
type Error struct {
	Op       string   // "read", "write", "list", "delete", "log in with approle"
	Path     string   // the API path, e.g. "dharmamind/data/production"
	Status   int      // the HTTP status, 0 when no response arrived
	Messages []string // Vault's "errors", scrubbed

	code       driver.Code
	retryAfter time.Duration
	err        error  // the transport cause, when there is no response
	diagnosis  string // diagTokenDead or diagPolicy for a 403, when known
}

// Diagnoses of a 403.
const (
	diagTokenDead = "the Vault token is expired or revoked"
	diagPolicy    = "the token is valid but its policies do not allow this"
)

// Sealed reports a 503 from a sealed Vault.
func (e *Error) Sealed() bool {
	if e.Status != http.StatusServiceUnavailable {
		return false
	}
	for _, m := range e.Messages {
		if strings.Contains(m, "Vault is sealed") {
			return true
		}
	}
	return false
}

// Hint is the next step for a sealed Vault or a refused token (the CLI
// prints it as a "hint:" line).
func (e *Error) Hint() string {
	switch {
	case e.Sealed():
		return "Vault is sealed and answers nothing until an operator unseals it (vault operator unseal, or its auto-unseal); " +
			"try again once 'vault status' shows Sealed false"
	case e.diagnosis == diagTokenDead:
		return "log in to Vault again (vault login, or a fresh VAULT_TOKEN or token file); with AppRole or Kubernetes auth " +
			"keyward logs in again by itself, so check that VAULT_ROLE_ID/VAULT_SECRET_ID or the service account still log in"
	case e.diagnosis == diagPolicy:
		return "ask for a Vault policy that grants this token " + capabilityFor(e.Op) + " on " + e.Path
	}
	return ""
}

func capabilityFor(op string) string {
	switch op {
	case "read", "find the KV mount for":
		return "read"
	case "list":
		return "list"
	case "delete":
		return "delete"
	}
	return "create and update"
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("vault: ")
	b.WriteString(e.Op)
	if e.Path != "" {
		b.WriteString(" " + e.Path)
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, ": %d %s", e.Status, strings.ToLower(http.StatusText(e.Status)))
	}
	if len(e.Messages) > 0 {
		b.WriteString(": " + strings.Join(e.Messages, "; "))
	}
	if e.diagnosis != "" {
		b.WriteString(" (" + e.diagnosis + ")")
	}
	if e.err != nil {
		b.WriteString(": " + e.err.Error())
	}
	return b.String()
}

// Unwrap returns the transport cause (network or context error), if any.
func (e *Error) Unwrap() error { return e.err }

// Code is the keyward code of the failure.
func (e *Error) Code() driver.Code { return e.code }

// RetryAfter is the server's Retry-After, if it sent one.
func (e *Error) RetryAfter() time.Duration { return e.retryAfter }

// scrubbedError carries a cause's text with secrets removed, keeping the
// cause reachable for errors.Is (context errors, syscall errors).
type scrubbedError struct {
	msg   string
	cause error
}

func (s *scrubbedError) Error() string { return s.msg }
func (s *scrubbedError) Unwrap() error { return s.cause }

// wrap turns an api client error into an *Error with a code.
func (d *kvDriver) wrap(op, path string, resp *api.Response, err error, scrub ...string) error {
	if err == nil {
		return nil
	}
	var ve *Error
	if errors.As(err, &ve) {
		return err
	}
	d.secMu.Lock()
	secrets := append(append([]string(nil), d.secrets...), scrub...)
	d.secMu.Unlock()
	var forms []string
	for _, x := range secrets {
		if len(x) >= 4 {
			forms = append(forms, scrubForms(x)...)
		}
	}
	// Longest first, so that a form containing another is removed whole.
	sort.Slice(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	clean := func(s string) string {
		for _, x := range forms {
			s = strings.ReplaceAll(s, x, "[REDACTED]")
		}
		if len(s) > 300 {
			s = s[:300] + "…"
		}
		return s
	}
	e := &Error{Op: op, Path: path, code: driver.Unknown}
	var re *api.ResponseError
	if errors.As(err, &re) {
		e.Status = re.StatusCode
		if re.RawError {
			// A non-JSON body (a proxy's page, or an echo of the request)
			// is never copied into the error.
			n := 0
			for _, m := range re.Errors {
				n += len(m)
			}
			e.Messages = []string{fmt.Sprintf("non-JSON error body (%d bytes)", n)}
		} else {
			for _, m := range re.Errors {
				if m = strings.TrimSpace(m); m != "" {
					e.Messages = append(e.Messages, clean(strings.Join(strings.Fields(m), " ")))
				}
			}
		}
		e.code = statusCode(re.StatusCode, e.Messages)
		if resp != nil && resp.Response != nil {
			e.retryAfter = cloudsm.RetryAfter(resp.Header.Get("Retry-After"))
		}
		return e
	}
	e.err = &scrubbedError{msg: clean(causeText(err)), cause: err}
	switch {
	case errors.Is(err, errCrossHost):
		e.code = driver.FailedPrecondition
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		e.code = driver.Unavailable // the Store reclassifies by the caller's context
	case isTransient(err):
		e.code = driver.Unavailable
	}
	return e
}

// scrubForms is x and the forms a server may echo it in inside an error
// message: JSON-escaped (as Go writes it, with and without HTML escaping;
// with "\/"; with every non-ASCII or every non-alphanumeric rune as a
// \uXXXX escape in lower or upper case hex, as other JSON encoders do),
// and escaped twice (a JSON document holding the value, itself quoted).
func scrubForms(x string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(f string) {
		if len(f) >= 4 && !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	add(x)
	for _, f := range jsonEscapes(x) {
		add(f)
		for _, g := range jsonEscapes(f) {
			add(g)
		}
	}
	return out
}

// jsonEscapes returns the JSON string-body encodings of s (no quotes).
func jsonEscapes(s string) []string {
	var out []string
	var plain bytes.Buffer
	enc := json.NewEncoder(&plain)
	enc.SetEscapeHTML(false)
	if enc.Encode(s) == nil {
		out = append(out, strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(plain.String(), "\""), "\n"), "\""))
	}
	if b, err := json.Marshal(s); err == nil {
		out = append(out, string(b[1:len(b)-1]))
	}
	for _, hex := range []string{`\u%04x`, `\u%04X`} {
		var ascii, all strings.Builder
		for _, r := range s {
			esc := func(b *strings.Builder) {
				if r > 0xFFFF {
					r1, r2 := utf16.EncodeRune(r)
					fmt.Fprintf(b, hex+hex, r1, r2)
				} else {
					fmt.Fprintf(b, hex, r)
				}
			}
			switch {
			case r == '"':
				ascii.WriteString(`\"`)
			case r == '\\':
				ascii.WriteString(`\\`)
			case r < 0x20 || r >= 0x7f:
				esc(&ascii)
			default:
				ascii.WriteRune(r)
			}
			if r < 0x7f && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
				all.WriteRune(r)
			} else {
				esc(&all)
			}
		}
		out = append(out, ascii.String(), all.String())
	}
	for _, f := range append([]string(nil), out...) {
		if strings.Contains(f, "/") {
			out = append(out, strings.ReplaceAll(f, "/", `\/`))
		}
	}
	return out
}

// causeText drops the URL the net/http client repeats in front of a cause
// (it names only the server and path, but the cause is what matters).
func causeText(err error) string {
	var ue interface{ Unwrap() error }
	s := err.Error()
	if errors.As(err, &ue) {
		if i := strings.LastIndex(s, "\": "); i >= 0 && strings.Contains(s[:i], "http") {
			return s[i+3:]
		}
	}
	return s
}

func statusCode(status int, msgs []string) driver.Code {
	switch {
	case status == http.StatusNotFound:
		return driver.NotFound
	case status == http.StatusBadRequest:
		for _, m := range msgs {
			if strings.Contains(m, "check-and-set") {
				return driver.FailedPrecondition
			}
		}
		return driver.InvalidArgument
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return driver.PermissionDenied
	case status == http.StatusTooManyRequests, status == http.StatusPreconditionFailed, status >= 500:
		// 412: Vault's "required index state not present" (replication lag).
		return driver.Unavailable
	}
	return driver.Unknown
}

func isTransient(err error) bool {
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.As(err, &oe), errors.As(err, &ne):
		return true
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET):
		return true
	}
	return false
}

// ErrorCode classifies an error the driver returned.
func (d *kvDriver) ErrorCode(err error) driver.Code {
	var ve *Error
	if errors.As(err, &ve) {
		return ve.code
	}
	return driver.Unknown
}
