package local

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
	"filippo.io/age/plugin"
	"golang.org/x/crypto/ssh"

	"github.com/keyward/keyward/driver"
)

const passCanary = "KWCANARY-passphrase-9d2e"

// roundTrip creates a store encrypted to id's recipients, writes and
// reads a value with id.
func roundTrip(t *testing.T, id *Identity) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keyward.age")
	if err := Create(ctx, path, id.Recipients, false); err != nil {
		t.Fatal(err)
	}
	d, _ := NewDriver(path, &Options{Identity: id})
	if _, err := d.(*localDriver).Put(ctx, "K", []byte("v"), nil); err != nil {
		t.Fatal(err)
	}
	if v, err := d.Get(ctx, "K", ""); err != nil || string(v.Data) != "v" {
		t.Fatalf("read back: %v", err)
	}
}

// TestProtectedIdentityEndingInWhiteSpace: a binary age-encrypted identity
// file whose ciphertext happens to end in a white-space byte (about one in
// 40) is read as it is; trimming it broke its last chunk.
func TestProtectedIdentityEndingInWhiteSpace(t *testing.T) {
	x, _ := age.GenerateX25519Identity()
	sr, _ := age.NewScryptRecipient(passCanary)
	sr.SetWorkFactor(1)
	var data []byte
	for range 5000 {
		var buf bytes.Buffer
		ew, err := age.Encrypt(&buf, sr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ew.Write(identityFileContents(x, t0())); err != nil {
			t.Fatal(err)
		}
		if err := ew.Close(); err != nil {
			t.Fatal(err)
		}
		if b := buf.Bytes(); bytes.ContainsAny(b[len(b)-1:], " \t\r\n") {
			data = b
			break
		}
	}
	if data == nil {
		t.Fatal("no ciphertext ended in white space in 5000 tries")
	}
	p := filepath.Join(t.TempDir(), "identity.age")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	id, err := loadIdentity(envOf(map[string]string{EnvIdentityFile: p, EnvPassphrase: passCanary}), "")
	if err != nil {
		t.Fatal(err)
	}
	if id.Recipients[0] != x.Recipient().String() {
		t.Fatal("wrong recipient")
	}
}

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestPassphraseProtectedIdentity: an identity file encrypted with age -p
// (scrypt) is read with KEYWARD_AGE_PASSPHRASE; a wrong passphrase or none
// (no terminal) is a clean PermissionDenied that never repeats it.
func TestPassphraseProtectedIdentity(t *testing.T) {
	x, _ := age.GenerateX25519Identity()
	sr, _ := age.NewScryptRecipient(passCanary)
	sr.SetWorkFactor(10)
	for _, armored := range []bool{false, true} {
		var buf bytes.Buffer
		var w = &buf
		var aw interface {
			Write([]byte) (int, error)
			Close() error
		}
		if armored {
			aw = armor.NewWriter(w)
		}
		var dst interface{ Write([]byte) (int, error) } = w
		if aw != nil {
			dst = aw
		}
		ew, err := age.Encrypt(dst, sr)
		if err != nil {
			t.Fatal(err)
		}
		ew.Write(identityFileContents(x, t0()))
		ew.Close()
		if aw != nil {
			aw.Close()
		}
		p := filepath.Join(t.TempDir(), "identity.age")
		os.WriteFile(p, buf.Bytes(), 0o600)

		id, err := loadIdentity(envOf(map[string]string{EnvIdentityFile: p, EnvPassphrase: passCanary}), "")
		if err != nil {
			t.Fatalf("armored=%v: %v", armored, err)
		}
		if id.Recipients[0] != x.Recipient().String() {
			t.Fatal("wrong recipient")
		}
		roundTrip(t, id)
		for name, env := range map[string]map[string]string{
			"wrong passphrase": {EnvIdentityFile: p, EnvPassphrase: "not-it"},
			"no passphrase":    {EnvIdentityFile: p},
		} {
			_, err := loadIdentity(envOf(env), "")
			if errorCode(err) != driver.PermissionDenied || strings.Contains(err.Error()+Hint(err), passCanary) {
				t.Fatalf("%s: %v", name, err)
			}
		}
	}
}

func t0() time.Time { return time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) }

// TestSSHIdentities: ssh-ed25519 keys (plain and passphrase-protected)
// are identities, and their public keys are recipients.
func TestSSHIdentities(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	spk, _ := ssh.NewPublicKey(pub)
	recip := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(spk)))
	plain, err := ssh.MarshalPrivateKey(priv, "test")
	if err != nil {
		t.Fatal(err)
	}
	prot, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "test", []byte(passCanary))
	if err != nil {
		t.Fatal(err)
	}
	for name, block := range map[string]*pem.Block{"plain": plain, "protected": prot} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "id_ed25519")
			os.WriteFile(p, pem.EncodeToMemory(block), 0o600)
			id, err := loadIdentity(envOf(map[string]string{EnvIdentityFile: p, EnvPassphrase: passCanary}), "")
			if err != nil {
				t.Fatal(err)
			}
			if id.Recipients[0] != recip {
				t.Fatalf("recipient %q, want %q", id.Recipients[0], recip)
			}
			roundTrip(t, id)
		})
	}
	// The recipient, with a comment, canonicalises to "TYPE BASE64".
	c, err := ParseRecipient(recip + " ana@laptop")
	if err != nil || c != recip {
		t.Fatalf("ParseRecipient(ssh) = %q, %v", c, err)
	}
}

// TestIdentityCommand: KEYWARD_AGE_IDENTITY_COMMAND's output is the
// identity; a failing command is an error that does not echo its output.
func TestIdentityCommand(t *testing.T) {
	x, _ := age.GenerateX25519Identity()
	p := filepath.Join(t.TempDir(), "id.txt")
	os.WriteFile(p, []byte(x.String()+"\n"), 0o600)
	id, err := loadIdentity(envOf(map[string]string{EnvIdentityCommand: "cat '" + p + "'"}), "")
	if err != nil || id.Recipients[0] != x.Recipient().String() || id.Source != EnvIdentityCommand {
		t.Fatalf("identity command: %v", err)
	}
	_, err = loadIdentity(envOf(map[string]string{EnvIdentityCommand: "echo " + passCanary + "; exit 3"}), "")
	if err == nil || strings.Contains(err.Error(), passCanary) {
		t.Fatalf("failing command: %v", err)
	}
	_, err = loadIdentity(envOf(map[string]string{EnvIdentityCommand: "echo " + passCanary}), "")
	if err == nil || strings.Contains(err.Error(), passCanary) {
		t.Fatalf("command printing garbage: %v", err)
	}
}

// TestPlugins: an AGE-PLUGIN- line is a plugin identity and an
// age1NAME1… string a recipient (the plugin binary runs only when a file
// key is wrapped or unwrapped: without it, the error names the plugin).
func TestPlugins(t *testing.T) {
	line := plugin.EncodeIdentity("kwtest", []byte("data"))
	id, err := parseIdentity(strings.NewReader(line+"\n"), "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(id.Identities) != 1 || len(id.Recipients) != 0 {
		t.Fatalf("plugin identity: %d identities, %d recipients", len(id.Identities), len(id.Recipients))
	}
	r := plugin.EncodeRecipient("kwtest", []byte("data"))
	if c, err := ParseRecipient(r); err != nil || c != r {
		t.Fatalf("plugin recipient: %q %v", c, err)
	}
	err = Create(context.Background(), filepath.Join(t.TempDir(), "s.age"), []string{r}, false)
	if err == nil || !strings.Contains(err.Error(), "kwtest") {
		t.Fatalf("a store for a missing plugin: %v", err)
	}
}
