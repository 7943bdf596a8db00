package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"filippo.io/age/armor"
	"filippo.io/age/plugin"
	"golang.org/x/crypto/ssh"
	"golang.org/x/term"

	"github.com/keyward/keyward/driver"
)

// More environment variables that find or unlock the identity. All are
// the user's own (trusted) environment; a repository cannot set them.
const (
	// EnvIdentityCommand is a command (run with sh -c; cmd /c on Windows)
	// whose standard output is the identity, in identity-file syntax: for
	// OS keychains and secret managers, e.g.
	// "security find-generic-password -s keyward -w" or "op read op://vault/keyward/identity".
	EnvIdentityCommand = "KEYWARD_AGE_IDENTITY_COMMAND"
	// EnvPassphrase is the passphrase of a passphrase-protected identity
	// file (age scrypt) or SSH key, for unattended use. Without it keyward
	// asks on the terminal. Prefer the terminal or an identity command:
	// an environment variable is visible to every process started with it.
	EnvPassphrase = "KEYWARD_AGE_PASSPHRASE"
)

// identityCommandTimeout bounds KEYWARD_AGE_IDENTITY_COMMAND (it may wait
// for a person, e.g. a keychain prompt).
var identityCommandTimeout = 2 * time.Minute

// parseIdentityData parses an identity file's bytes: age's identity-file
// syntax (X25519, post-quantum and plugin identities), an age-encrypted
// (passphrase-protected) identity file, or an SSH private key (ssh-ed25519
// or ssh-rsa, optionally passphrase-protected).
func parseIdentityData(data []byte, source string, getenv func(string) string) (*Identity, error) {
	trimmed := bytes.TrimSpace(data)
	switch {
	case bytes.HasPrefix(trimmed, []byte("age-encryption.org/")):
		// Binary: its last ciphertext bytes may be white space.
		return parseEncryptedIdentity(bytes.TrimLeft(data, " \t\r\n"), source, getenv)
	case bytes.HasPrefix(trimmed, []byte(armor.Header)):
		return parseEncryptedIdentity(trimmed, source, getenv)
	case bytes.HasPrefix(trimmed, []byte("-----BEGIN")) && bytes.Contains(trimmed[:min(len(trimmed), 80)], []byte("PRIVATE KEY-----")):
		return parseSSHIdentity(trimmed, source, getenv)
	}
	return parseIdentity(bytes.NewReader(data), source)
}

// passphrase returns the passphrase for source: $KEYWARD_AGE_PASSPHRASE,
// else one read from the terminal (never echoed).
func passphrase(getenv func(string) string, source string) ([]byte, error) {
	if p := getenv(EnvPassphrase); p != "" {
		return []byte(p), nil
	}
	tty, err := os.OpenFile(ttyPath(), os.O_RDWR, 0)
	if err != nil || !term.IsTerminal(int(tty.Fd())) {
		if tty != nil {
			tty.Close()
		}
		return nil, newErr(driver.PermissionDenied, "run keyward on a terminal to type it, set "+EnvPassphrase+", or use "+EnvIdentityCommand,
			"identity %s is passphrase-protected and there is no terminal to ask for the passphrase", source)
	}
	defer tty.Close()
	fmt.Fprintf(tty, "Enter passphrase for identity %s: ", source)
	p, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	if err != nil {
		return nil, newErr(driver.PermissionDenied, "", "cannot read the passphrase for identity %s", source)
	}
	return p, nil
}

func ttyPath() string {
	if runtime.GOOS == "windows" {
		return "CONIN$"
	}
	return "/dev/tty"
}

// parseEncryptedIdentity decrypts an identity file protected with a
// passphrase (age -p, scrypt) and parses what is inside.
func parseEncryptedIdentity(data []byte, source string, getenv func(string) string) (*Identity, error) {
	pass, err := passphrase(getenv, source)
	if err != nil {
		return nil, err
	}
	defer clear(pass)
	sid, err := age.NewScryptIdentity(string(pass))
	if err != nil {
		return nil, newErr(driver.InvalidArgument, "", "identity %s: the passphrase is empty", source)
	}
	var in io.Reader = bytes.NewReader(data)
	if bytes.HasPrefix(data, []byte(armor.Header)) {
		in = armor.NewReader(in)
	}
	r, err := age.Decrypt(in, sid)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) || strings.Contains(err.Error(), "incorrect passphrase") {
			return nil, newErr(driver.PermissionDenied, "check the passphrase ("+EnvPassphrase+" or the terminal)",
				"identity %s: wrong passphrase, or the file is not passphrase-protected", source)
		}
		return nil, newErr(driver.InvalidArgument, "", "identity %s: cannot decrypt the passphrase-protected identity: the file is damaged", source)
	}
	inner, err := io.ReadAll(io.LimitReader(r, maxIdentityFileSize+1))
	if err != nil || len(inner) > maxIdentityFileSize {
		return nil, newErr(driver.InvalidArgument, "", "identity %s: the protected identity is damaged or too large", source)
	}
	defer clear(inner)
	id, err := parseIdentity(bytes.NewReader(inner), source)
	if err != nil {
		return nil, err
	}
	return id, nil
}

// sshRecipientString is an SSH public key as a store recipient: "TYPE BASE64".
func sshRecipientString(pk ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk)))
}

// parseSSHIdentity reads an SSH private key (ssh-ed25519 or ssh-rsa). A
// passphrase-protected key asks for its passphrase when first used.
func parseSSHIdentity(data []byte, source string, getenv func(string) string) (*Identity, error) {
	k, err := ssh.ParseRawPrivateKey(data)
	if err != nil {
		var pm *ssh.PassphraseMissingError
		if errors.As(err, &pm) && pm.PublicKey != nil {
			pemCopy := bytes.Clone(data)
			ei, err := agessh.NewEncryptedSSHIdentity(pm.PublicKey, pemCopy, func() ([]byte, error) { return passphrase(getenv, source) })
			if err != nil {
				return nil, newErr(driver.InvalidArgument, "keyward accepts ssh-ed25519 and ssh-rsa keys", "identity %s: unsupported SSH key type", source)
			}
			return &Identity{Identities: []age.Identity{ei}, Recipients: []string{sshRecipientString(pm.PublicKey)}, Source: source}, nil
		}
		return nil, newErr(driver.InvalidArgument, "", "identity %s: not a valid SSH private key (or a protected key without its public half; keep FILE.pub beside it)", source)
	}
	signer, err := ssh.NewSignerFromKey(k)
	if err != nil {
		return nil, newErr(driver.InvalidArgument, "keyward accepts ssh-ed25519 and ssh-rsa keys", "identity %s: unsupported SSH key type", source)
	}
	i, err := agessh.ParseIdentity(data)
	if err != nil {
		return nil, newErr(driver.InvalidArgument, "keyward accepts ssh-ed25519 and ssh-rsa keys", "identity %s: unsupported SSH key type", source)
	}
	return &Identity{Identities: []age.Identity{i}, Recipients: []string{sshRecipientString(signer.PublicKey())}, Source: source}, nil
}

// identityFromCommand runs $KEYWARD_AGE_IDENTITY_COMMAND and parses its
// output. The command's stderr goes to keyward's (prompts); its output is
// never echoed in errors.
func identityFromCommand(command string, getenv func(string) string) (*Identity, error) {
	ctx, cancel := context.WithTimeout(context.Background(), identityCommandTimeout)
	defer cancel()
	var cmd *exec.Cmd
	if runtime.GOOS == "windows" {
		cmd = exec.CommandContext(ctx, "cmd", "/c", command)
	} else {
		cmd = exec.CommandContext(ctx, "sh", "-c", command)
	}
	cmd.Stdin, cmd.Stderr = os.Stdin, os.Stderr
	var out limitedBuffer
	out.max = maxIdentityFileSize
	cmd.Stdout = &out
	err := cmd.Run()
	defer clear(out.b)
	if ctx.Err() != nil {
		return nil, newErr(driver.DeadlineExceeded, "", "%s did not finish within %s", EnvIdentityCommand, identityCommandTimeout)
	}
	if err != nil {
		return nil, newErr(driver.PermissionDenied, "run the command yourself to see why it fails",
			"%s failed (%v); no identity", EnvIdentityCommand, exitStatus(err))
	}
	if out.over {
		return nil, newErr(driver.InvalidArgument, "", "%s printed more than %d bytes", EnvIdentityCommand, maxIdentityFileSize)
	}
	return parseIdentityData(out.b, EnvIdentityCommand, getenv)
}

func exitStatus(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ProcessState.String()
	}
	return "cannot start it"
}

type limitedBuffer struct {
	b    []byte
	max  int
	over bool
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if len(l.b)+len(p) > l.max {
		l.over = true
		return len(p), nil
	}
	l.b = append(l.b, p...)
	return len(p), nil
}

// pluginUI talks to age plugins (hardware keys) on the terminal.
var pluginUI = &plugin.ClientUI{
	DisplayMessage: func(name, message string) error {
		fmt.Fprintf(os.Stderr, "keyward: age-plugin-%s: %s\n", name, message)
		return nil
	},
	RequestValue: func(name, prompt string, secret bool) (string, error) {
		tty, err := os.OpenFile(ttyPath(), os.O_RDWR, 0)
		if err != nil {
			return "", errors.New("no terminal to answer the plugin's prompt")
		}
		defer tty.Close()
		fmt.Fprintf(tty, "age-plugin-%s: %s ", name, prompt)
		if secret {
			b, err := term.ReadPassword(int(tty.Fd()))
			fmt.Fprintln(tty)
			return string(b), err
		}
		var s string
		_, err = fmt.Fscanln(tty, &s)
		return s, err
	},
	Confirm: func(name, prompt, yes, no string) (bool, error) {
		tty, err := os.OpenFile(ttyPath(), os.O_RDWR, 0)
		if err != nil {
			return false, errors.New("no terminal to answer the plugin's prompt")
		}
		defer tty.Close()
		fmt.Fprintf(tty, "age-plugin-%s: %s [%s/%s] ", name, prompt, yes, no)
		var s string
		_, _ = fmt.Fscanln(tty, &s)
		return s == yes || s == "y" || s == "yes", nil
	},
	WaitTimer: func(name string) {
		fmt.Fprintf(os.Stderr, "keyward: waiting for age-plugin-%s (touch your security key?)\n", name)
	},
}
