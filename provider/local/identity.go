package local

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"filippo.io/age"
	"filippo.io/age/plugin"

	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/internal/fsutil"
)

// Environment variables that name the identity.
const (
	// EnvIdentity holds an identity itself (an AGE-SECRET-KEY-1… line, or
	// several lines in age's identity-file syntax).
	EnvIdentity = "KEYWARD_AGE_IDENTITY"
	// EnvIdentityFile names a file holding the identity.
	EnvIdentityFile = "KEYWARD_AGE_IDENTITY_FILE"
)

const maxIdentityFileSize = 64 << 10

// Identity is a loaded age identity: the private keys that decrypt a store
// and the public recipients they correspond to.
type Identity struct {
	// Identities decrypt stores. Never print them.
	Identities []age.Identity
	// Recipients are the public keys ("age1…") of Identities, in order.
	Recipients []string
	// Source says where the identity came from: EnvIdentity, or a file path.
	Source string
}

// String describes the identity without key material.
func (id *Identity) String() string {
	return fmt.Sprintf("age identity from %s (%s)", id.Source, strings.Join(id.Recipients, ", "))
}

// GenerateIdentity creates a new X25519 identity.
func GenerateIdentity() (*age.X25519Identity, error) {
	return age.GenerateX25519Identity()
}

// defaultIdentityPath is the per-user identity file:
// $XDG_CONFIG_HOME/keyward/identity.txt, else ~/.config/keyward/identity.txt.
func defaultIdentityPath(getenv func(string) string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if d := getenv("XDG_CONFIG_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "keyward", "identity.txt"), nil
	}
	home := getenv("HOME")
	if home == "" && runtime.GOOS == "windows" {
		home = getenv("USERPROFILE")
	}
	if home == "" {
		return "", newErr(driver.FailedPrecondition, "set "+EnvIdentityFile+" to the path of your identity file",
			"cannot find the default identity path: neither XDG_CONFIG_HOME nor HOME is set")
	}
	return filepath.Join(home, ".config", "keyward", "identity.txt"), nil
}

// IdentityPath says which identity file LoadIdentity would read: override
// (a URL's identity= parameter) if set, else $KEYWARD_AGE_IDENTITY_FILE, else
// the default path. It returns "" when KEYWARD_AGE_IDENTITY holds the
// identity itself and no override is given.
func IdentityPath(getenv func(string) string, override string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if override != "" {
		return override, nil
	}
	if strings.TrimSpace(getenv(EnvIdentity)) != "" || strings.TrimSpace(getenv(EnvIdentityCommand)) != "" {
		return "", nil
	}
	if p := getenv(EnvIdentityFile); p != "" {
		return p, nil
	}
	return defaultIdentityPath(getenv)
}

// LoadIdentity finds the user's identity: $KEYWARD_AGE_IDENTITY (the key
// itself), else the file $KEYWARD_AGE_IDENTITY_FILE, else the default path
// (see defaultIdentityPath). A missing identity is a PermissionDenied error
// that names where it looked and suggests 'keyward init'.
func LoadIdentity(getenv func(string) string) (*Identity, error) {
	return loadIdentity(getenv, "")
}

func loadIdentity(getenv func(string) string, override string) (*Identity, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if override == "" {
		if v := getenv(EnvIdentity); strings.TrimSpace(v) != "" {
			return parseIdentity(strings.NewReader(v), EnvIdentity)
		}
		if c := getenv(EnvIdentityCommand); strings.TrimSpace(c) != "" {
			return identityFromCommand(c, getenv)
		}
	}
	p, err := IdentityPath(getenv, override)
	if err != nil {
		return nil, err
	}
	id, err := loadIdentityFile(p, getenv)
	if err != nil && errorCode(err) == driver.NotFound {
		looked := p
		if override == "" {
			looked = fmt.Sprintf("%s and %s are unset and %s does not exist", EnvIdentity, EnvIdentityFile, p)
			if getenv(EnvIdentityFile) != "" {
				looked = fmt.Sprintf("%s=%s does not exist", EnvIdentityFile, p)
			}
		} else {
			looked = fmt.Sprintf("identity file %s (from the store URL) does not exist", p)
		}
		return nil, wrapErr(driver.PermissionDenied, err,
			"run 'keyward init' to create an identity, or set "+EnvIdentity+" / "+EnvIdentityFile,
			"no age identity found: %s", looked)
	}
	return id, err
}

// LoadIdentityFile reads an identity file. It refuses a file that group or
// others may read (the hint says 'chmod 600 FILE'). Besides age identity
// files it reads passphrase-protected ones (age -p; the passphrase comes
// from $KEYWARD_AGE_PASSPHRASE or the terminal) and SSH private keys
// (ssh-ed25519, ssh-rsa, optionally passphrase-protected).
func LoadIdentityFile(path string) (*Identity, error) { return loadIdentityFile(path, os.Getenv) }

func loadIdentityFile(path string, getenv func(string) string) (*Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, wrapErr(driver.NotFound, err, "run 'keyward init' to create an identity",
				"identity file %s does not exist", path)
		}
		return nil, wrapErr(errorCode(err), err, "", "cannot read identity file %s: %v", path, unwrapPathErr(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, wrapErr(errorCode(err), err, "", "cannot read identity file %s: %v", path, unwrapPathErr(err))
	}
	if !fi.Mode().IsRegular() {
		return nil, newErr(driver.InvalidArgument, "", "identity file %s is not a regular file", path)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, newErr(driver.PermissionDenied, "chmod 600 "+path,
			"identity file %s is readable by group or others (mode %04o); keyward refuses to use it", path, fi.Mode().Perm())
	}
	data, err := io.ReadAll(io.LimitReader(f, maxIdentityFileSize+1))
	if err != nil || len(data) > maxIdentityFileSize {
		return nil, newErr(driver.InvalidArgument, "", "%s: identity is too large or unreadable", path)
	}
	defer clear(data)
	return parseIdentityData(data, path, getenv)
}

// parseIdentity parses age's identity-file syntax. Its errors name the line
// but never repeat its text, which may be key material.
func parseIdentity(r io.Reader, source string) (*Identity, error) {
	id := &Identity{Source: source}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxIdentityFileSize)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		switch {
		case strings.HasPrefix(line, "AGE-SECRET-KEY-PQ-1"):
			i, err := age.ParseHybridIdentity(line)
			if err != nil {
				return nil, newErr(driver.InvalidArgument, "", "%s:%d: not a valid age identity", source, n)
			}
			id.Identities = append(id.Identities, i)
			id.Recipients = append(id.Recipients, i.Recipient().String())
		case strings.HasPrefix(line, "AGE-PLUGIN-"):
			// A plugin identity (a hardware key): its recipient is not
			// derivable here, so it does not join Recipients.
			i, err := plugin.NewIdentity(line, pluginUI)
			if err != nil {
				return nil, newErr(driver.InvalidArgument, "", "%s:%d: not a valid age plugin identity", source, n)
			}
			id.Identities = append(id.Identities, i)
		case strings.HasPrefix(line, "AGE-SECRET-KEY-1"):
			i, err := age.ParseX25519Identity(line)
			if err != nil {
				return nil, newErr(driver.InvalidArgument, "", "%s:%d: not a valid age identity", source, n)
			}
			id.Identities = append(id.Identities, i)
			id.Recipients = append(id.Recipients, i.Recipient().String())
		default:
			return nil, newErr(driver.InvalidArgument, "an identity line starts with AGE-SECRET-KEY-1 (see age-keygen or 'keyward init')",
				"%s:%d: not an age identity line", source, n)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, newErr(driver.InvalidArgument, "", "%s: identity is too large or unreadable", source)
	}
	if len(id.Identities) == 0 {
		return nil, newErr(driver.InvalidArgument, "run 'keyward init' to create an identity", "%s holds no age identity", source)
	}
	return id, nil
}

// identityFileContents renders id the way age-keygen does: comments with
// the creation time and public key, then the secret key line.
func identityFileContents(id *age.X25519Identity, now time.Time) []byte {
	return fmt.Appendf(nil, "# created: %s\n# public key: %s\n%s\n",
		now.UTC().Format(time.RFC3339), id.Recipient().String(), id.String())
}

// WriteIdentityFile writes id to path with mode 0600, creating the parent
// directory (0700) if needed. It never replaces an existing file: that is
// an AlreadyExists error (an identity is how you read your stores; losing
// it loses them).
func WriteIdentityFile(path string, id *age.X25519Identity) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return wrapErr(errorCode(err), err, "", "cannot create the directory for identity file %s: %v", path, unwrapPathErr(err))
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return wrapErr(driver.AlreadyExists, err, "keyward never replaces an identity; move the old one away yourself if you really mean to",
				"identity file %s already exists", path)
		}
		return wrapErr(errorCode(err), err, "", "cannot create identity file %s: %v", path, unwrapPathErr(err))
	}
	_, werr := f.Write(identityFileContents(id, time.Now()))
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = os.Remove(path)
		return wrapErr(errorCode(werr), werr, "", "cannot write identity file %s: %v", path, unwrapPathErr(werr))
	}
	return syncDir(filepath.Dir(path))
}

// unwrapPathErr drops the path wrapper (whose text repeats the path we
// already name): fsutil.StripPath.
func unwrapPathErr(err error) error { return fsutil.StripPath(err) }
