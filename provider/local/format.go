package local

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"filippo.io/age/armor"
	"filippo.io/age/plugin"

	"github.com/keyward/keyward/driver"
)

// The on-disk format, version 1 (docs/local-store.md describes it):
//
//	keyward-store v1
//	recipient: age1…            (one line per recipient, at least one)
//	-----BEGIN AGE ENCRYPTED FILE-----
//	…age ciphertext, ASCII-armored…
//	-----END AGE ENCRYPTED FILE-----
//
// The plaintext is a JSON payload (see payload). The clear recipient lines
// let any member re-encrypt to everyone; they are repeated inside the
// payload, and a file whose two lists differ is rejected as tampered.
const (
	magicPrefix     = "keyward-store v"
	magicV1         = "keyward-store v1"
	recipientPrefix = "recipient: "
	formatV1        = 1

	// MaxFileSize bounds a store file (a store is for secrets, not data):
	// reads refuse a larger file, and a write whose result would be larger
	// is refused before anything is written.
	MaxFileSize = 64 << 20
	// MaxKeyLen bounds a secret's name.
	MaxKeyLen = 512
)

// maxFileSize is MaxFileSize; tests lower it.
var maxFileSize = MaxFileSize

// payload is the decrypted content of a store file.
type payload struct {
	Format     int                     `json:"format"`
	Recipients []string                `json:"recipients"`
	Secrets    map[string]*secretEntry `json:"secrets"`
}

type secretEntry struct {
	Versions []versionEntry `json:"versions"`
}

type versionEntry struct {
	ID      string            `json:"id"`
	Created time.Time         `json:"created"`
	Meta    map[string]string `json:"meta,omitempty"`
	Value   []byte            `json:"value"`
}

func newPayload(recipients []string) *payload {
	return &payload{Format: formatV1, Recipients: slices.Clone(recipients), Secrets: map[string]*secretEntry{}}
}

// current returns the newest version of key, or nil.
func (p *payload) current(key string) *versionEntry {
	e := p.Secrets[key]
	if e == nil || len(e.Versions) == 0 {
		return nil
	}
	return &e.Versions[len(e.Versions)-1]
}

// validateKey checks a secret name can be stored faithfully.
func validateKey(key string) error {
	switch {
	case key == "":
		return newErr(driver.InvalidArgument, "", "empty key")
	case len(key) > MaxKeyLen:
		return newErr(driver.InvalidArgument, "", "key is longer than %d bytes", MaxKeyLen)
	case !utf8.ValidString(key):
		return newErr(driver.InvalidArgument, "", "key is not valid UTF-8")
	case strings.ContainsAny(key, "\x00\n\r"):
		return newErr(driver.InvalidArgument, "", "key contains a NUL or newline")
	}
	return nil
}

// parseRecipient parses one public key: "age1…" (X25519), "age1pq1…"
// (post-quantum), "ssh-ed25519 …" / "ssh-rsa …" (SSH), or an age plugin
// recipient ("age1yubikey1…", for hardware keys).
func parseRecipient(s string) (age.Recipient, error) {
	switch {
	case strings.HasPrefix(s, "age1pq1"):
		return age.ParseHybridRecipient(s)
	case strings.HasPrefix(s, "ssh-"):
		return agessh.ParseRecipient(s)
	}
	r, err := age.ParseX25519Recipient(s)
	if err != nil && strings.HasPrefix(s, "age1") && len(s) < 1024 {
		if pr, perr := plugin.NewRecipient(s, pluginUI); perr == nil {
			return pr, nil
		}
	}
	return r, err
}

// canonicalRecipient renders a parsed recipient as the store lists it.
func canonicalRecipient(s string, r age.Recipient) string {
	if st, ok := r.(fmt.Stringer); ok {
		return st.String()
	}
	// SSH keys: "TYPE BASE64", without the comment.
	f := strings.Fields(s)
	if len(f) >= 2 {
		return f[0] + " " + f[1]
	}
	return s
}

// ParseRecipient checks that s is an age public key ("age1…") and returns
// it in canonical form.
func ParseRecipient(s string) (string, error) {
	s = strings.TrimSpace(s)
	r, err := parseRecipient(s)
	if err != nil {
		// Never echo the input: it may be a pasted private key.
		if strings.HasPrefix(strings.ToUpper(s), "AGE-SECRET-KEY-") || strings.HasPrefix(strings.ToUpper(s), "AGE-PLUGIN-") || strings.Contains(s, "PRIVATE KEY") {
			return "", newErr(driver.InvalidArgument, "give the public key (age1…) that 'keyward init' prints; if the private key was shared or stored anywhere, replace it",
				"that is a private key (an identity), not a recipient; it was not used or printed")
		}
		return "", newErr(driver.InvalidArgument, "a recipient is an age public key starting with age1 (printed by 'keyward init')",
			"not an age recipient (%d characters; an age recipient starts with age1)", len(s))
	}
	return canonicalRecipient(s, r), nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// header is the clear part of a store file.
type header struct {
	recipients []string
	body       []byte // from the BEGIN line on
}

// parseHeader reads the clear header of a store file named name. Its
// errors name name:line:column.
func parseHeader(name string, data []byte) (*header, error) {
	if len(data) > maxFileSize {
		return nil, newErr(driver.InvalidArgument, "", "%s: store file is larger than %d bytes", name, maxFileSize)
	}
	h := &header{}
	rest := data
	for lineNo := 1; ; lineNo++ {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return nil, newErr(driver.FailedPrecondition, damagedHint(name),
				"%s:%d:1: store file ends before its encrypted part: the file is truncated or damaged", name, lineNo)
		}
		line := strings.TrimSuffix(string(rest[:i]), "\r")
		if lineNo == 1 {
			if line != magicV1 {
				if strings.HasPrefix(line, magicPrefix) {
					return nil, newErr(driver.FailedPrecondition, "upgrade keyward to read this store",
						"%s:1:%d: store format %q is not supported by this keyward (it reads v1 and v2)", name, len(magicPrefix)+1, truncate(line[len(magicPrefix)-1:], 20))
				}
				return nil, newErr(driver.InvalidArgument, "",
					"%s:1:1: not a keyward store file (the first line must be %q or %q)", name, magicV2, magicV1)
			}
			rest = rest[i+1:]
			continue
		}
		if strings.HasPrefix(line, recipientPrefix) {
			r := line[len(recipientPrefix):]
			if _, err := parseRecipient(r); err != nil {
				return nil, newErr(driver.FailedPrecondition, damagedHint(name),
					"%s:%d:%d: invalid recipient: the file is damaged", name, lineNo, len(recipientPrefix)+1)
			}
			h.recipients = append(h.recipients, r)
			rest = rest[i+1:]
			continue
		}
		if line == armor.Header {
			if len(h.recipients) == 0 {
				return nil, newErr(driver.FailedPrecondition, damagedHint(name),
					"%s:%d:1: store file lists no recipients: the file is damaged", name, lineNo)
			}
			h.body = rest
			return h, nil
		}
		return nil, newErr(driver.FailedPrecondition, damagedHint(name),
			"%s:%d:1: unexpected line in the store header (want %q or %q): the file is damaged", name, lineNo, recipientPrefix+"age1…", armor.Header)
	}
}

func damagedHint(name string) string {
	return "restore " + name + " from version control or a backup (git checkout -- " + name + ")"
}

// decode decrypts and checks a store file. name is used in errors only.
func decode(name string, data []byte, id *Identity) (*payload, error) {
	h, err := parseHeader(name, data)
	if err != nil {
		return nil, err
	}
	r, err := age.Decrypt(armor.NewReader(bytes.NewReader(h.body)), id.Identities...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			for _, mine := range id.Recipients {
				if slices.Contains(h.recipients, mine) {
					return nil, newErr(driver.FailedPrecondition, damagedHint(name),
						"%s: the store lists your recipient but your identity cannot decrypt it: the file is damaged or was tampered with", name)
				}
			}
			return nil, newErr(driver.PermissionDenied,
				"ask a member to run: keyward init --add-recipient "+strings.Join(id.Recipients, " --add-recipient "),
				"%s: the store is not encrypted to your identity (%s); ask a member to add your recipient", name, strings.Join(id.Recipients, ", "))
		}
		return nil, damaged(name, err)
	}
	plain, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, damaged(name, err)
	}
	if len(plain) > MaxFileSize {
		return nil, newErr(driver.InvalidArgument, "", "%s: decrypted store is larger than %d bytes", name, MaxFileSize)
	}
	p, err := decodePayload(name, plain)
	clear(plain)
	if err != nil {
		return nil, err
	}
	if !slices.Equal(p.Recipients, h.recipients) {
		return nil, newErr(driver.FailedPrecondition, damagedHint(name),
			"%s: the clear recipient list does not match the encrypted one: the file was tampered with", name)
	}
	return p, nil
}

// damaged reports an authentication or framing failure. age's and armor's
// messages carry no plaintext, so they are kept for diagnosis.
func damaged(name string, cause error) error {
	return wrapErr(driver.FailedPrecondition, cause, damagedHint(name),
		"%s: cannot decrypt the store: the file is truncated, damaged or was tampered with (%v)", name, cause)
}

func decodePayload(name string, plain []byte) (*payload, error) {
	dec := json.NewDecoder(bytes.NewReader(plain))
	dec.DisallowUnknownFields()
	var p payload
	if err := dec.Decode(&p); err != nil {
		// The payload was authenticated, so a bad one was written by a
		// newer or broken writer. Never echo json's message: it may quote
		// plaintext.
		return nil, newErr(driver.FailedPrecondition, "upgrade keyward, or restore the file from version control",
			"%s: the decrypted store is not a valid v1 payload", name)
	}
	if dec.More() {
		return nil, newErr(driver.FailedPrecondition, "", "%s: the decrypted store has trailing data", name)
	}
	if err := p.validate(); err != nil {
		return nil, newErr(driver.FailedPrecondition, "upgrade keyward, or restore the file from version control",
			"%s: the decrypted store is inconsistent: %s", name, err)
	}
	return &p, nil
}

// validate checks the invariants writers keep. Its messages name keys and
// version ids, never values.
func (p *payload) validate() error {
	if p.Format != formatV1 {
		return fmt.Errorf("payload format %d, want %d", p.Format, formatV1)
	}
	if len(p.Recipients) == 0 {
		return errors.New("no recipients")
	}
	if p.Secrets == nil {
		p.Secrets = map[string]*secretEntry{}
	}
	for k, e := range p.Secrets {
		if validateKey(k) != nil {
			return fmt.Errorf("invalid key name")
		}
		if e == nil || len(e.Versions) == 0 {
			return fmt.Errorf("key %q has no versions", k)
		}
		prev := 0
		for _, v := range e.Versions {
			n, err := strconv.Atoi(v.ID)
			if err != nil || n <= prev || strconv.Itoa(n) != v.ID {
				return fmt.Errorf("key %q has version ids out of order", k)
			}
			prev = n
		}
	}
	return nil
}

// encode renders a store file for p, encrypted to p.Recipients.
func encode(p *payload) ([]byte, error) {
	if len(p.Recipients) == 0 {
		return nil, newErr(driver.InvalidArgument, "", "a store needs at least one recipient")
	}
	rs := make([]age.Recipient, 0, len(p.Recipients))
	for _, s := range p.Recipients {
		r, err := parseRecipient(s)
		if err != nil {
			return nil, newErr(driver.InvalidArgument, "", "a store recipient is not an age public key")
		}
		rs = append(rs, r)
	}
	plain, err := json.Marshal(p)
	if err != nil {
		return nil, newErr(driver.Unknown, "", "cannot encode the store payload")
	}
	defer clear(plain)
	var buf bytes.Buffer
	buf.WriteString(magicV1 + "\n")
	for _, s := range p.Recipients {
		buf.WriteString(recipientPrefix + s + "\n")
	}
	aw := armor.NewWriter(&buf)
	w, err := age.Encrypt(aw, rs...)
	if err != nil {
		return nil, wrapErr(driver.InvalidArgument, err, "", "cannot encrypt the store: %v", err)
	}
	if _, err := w.Write(plain); err != nil {
		return nil, wrapErr(driver.Unknown, err, "", "cannot encrypt the store: %v", err)
	}
	if err := w.Close(); err != nil {
		return nil, wrapErr(driver.Unknown, err, "", "cannot encrypt the store: %v", err)
	}
	if err := aw.Close(); err != nil {
		return nil, wrapErr(driver.Unknown, err, "", "cannot encrypt the store: %v", err)
	}
	return buf.Bytes(), nil
}
