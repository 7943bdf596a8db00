package initcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/cli/cmdutil"
	"github.com/keyward/keyward/internal/cli/iostreams"
	"github.com/keyward/keyward/provider/local"
)

func TestNewCmd(t *testing.T) {
	const r1 = "age1aaaa"
	for _, tc := range []struct {
		args    string
		want    Options
		wantErr bool
	}{
		{args: "", want: Options{}},
		{args: "--force", want: Options{Force: true}},
		{args: "--json", want: Options{JSON: true}},
		{args: "--add-recipient " + r1 + " --add-recipient age1bbbb", want: Options{AddRecipients: []string{r1, "age1bbbb"}}},
		{args: "extra-arg", wantErr: true},
		{args: "--add-recipient", wantErr: true},
	} {
		t.Run(tc.args, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			f := &cmdutil.Factory{IO: ios}
			var got *Options
			cmd := NewCmd(f, func(_ context.Context, o *Options) error { got = o; return nil })
			cmd.SetArgs(strings.Fields(tc.args))
			cmd.SetOut(ios.Out)
			cmd.SetErr(ios.ErrOut)
			err := cmd.Execute()
			if tc.wantErr {
				if err == nil {
					t.Fatalf("want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Force != tc.want.Force || got.JSON != tc.want.JSON || !slices.Equal(got.AddRecipients, tc.want.AddRecipients) {
				t.Fatalf("got %+v, want %+v", *got, tc.want)
			}
		})
	}
}

type fixture struct {
	dir, store, idPath string
	env                map[string]string
}

func newFixture(t *testing.T) *fixture {
	dir := t.TempDir()
	fx := &fixture{dir: dir, store: filepath.Join(dir, "keyward.age"), idPath: filepath.Join(dir, "cfg", "keyward", "identity.txt")}
	fx.env = map[string]string{"XDG_CONFIG_HOME": filepath.Join(dir, "cfg"), "HOME": filepath.Join(dir, "home")}
	return fx
}

func (fx *fixture) opts(storeURL string, mut func(*Options)) (*Options, *bytes.Buffer) {
	ios, _, out, _ := iostreams.Test()
	if storeURL == "" {
		storeURL = "local://" + filepath.ToSlash(fx.store)
	}
	o := &Options{
		IO:       ios,
		Getenv:   func(k string) string { return fx.env[k] },
		StoreURL: func() (string, string, error) { return storeURL, "--store", nil },
		OpenURL: func(ctx context.Context, u string) (*keyward.Store, error) {
			p, idf, err := local.PathFromURL(mustParse(u))
			if err != nil {
				return nil, err
			}
			return local.OpenStore(p, &local.Options{IdentityFile: idf, Getenv: func(k string) string { return fx.env[k] }}, nil)
		},
	}
	if mut != nil {
		mut(o)
	}
	return o, out
}

func mustParse(s string) *urlT {
	u, err := keyward.ParseStoreURL(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestRunFresh(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t)
	var stepRes *Result
	o, out := fx.opts("", func(o *Options) {
		o.Steps = append(o.Steps, func(ctx context.Context, _ *Options, res *Result) error {
			stepRes = res
			s, err := res.OpenStore(ctx)
			if err != nil {
				return err
			}
			if _, err := s.Put(ctx, "FROM_STEP", keyward.NewSecretString("step-value"), nil); err != nil {
				return err
			}
			res.Notes = append(res.Notes, "Imported 1 secret")
			return nil
		})
	})
	if err := run(ctx, o); err != nil {
		t.Fatal(err)
	}
	id, err := local.LoadIdentityFile(fx.idPath)
	if err != nil {
		t.Fatalf("init did not write a usable identity: %v", err)
	}
	if fi, _ := os.Stat(fx.idPath); fi.Mode().Perm() != 0o600 {
		t.Fatalf("identity mode %v", fi.Mode())
	}
	rs, err := local.Recipients(fx.store)
	if err != nil || !slices.Equal(rs, id.Recipients) {
		t.Fatalf("store recipients %v (%v), want the new identity's", rs, err)
	}
	if stepRes == nil || !stepRes.StoreCreated || !stepRes.IdentityCreated || !stepRes.Member {
		t.Fatalf("steps did not run with the result: %+v", stepRes)
	}
	for _, want := range []string{"Created identity " + fx.idPath, "Created store " + fx.store, "Your public recipient: " + id.Recipients[0], "Next steps:", "Imported 1 secret"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out.String(), "AGE-SECRET-KEY") {
		t.Fatalf("init printed the private key")
	}

	// A second init changes nothing.
	before, _ := os.ReadFile(fx.store)
	idBefore, _ := os.ReadFile(fx.idPath)
	o, out = fx.opts("", nil)
	if err := run(ctx, o); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(fx.store)
	idAfter, _ := os.ReadFile(fx.idPath)
	if !bytes.Equal(before, after) || !bytes.Equal(idBefore, idAfter) {
		t.Fatalf("a second init changed the store or the identity")
	}
	if !strings.Contains(out.String(), "already exists") || !strings.Contains(out.String(), "Using identity") {
		t.Fatalf("second init output:\n%s", out)
	}

	// --force replaces the store (empty), keeps the identity.
	o, out = fx.opts("", func(o *Options) { o.Force = true; o.JSON = true })
	if err := run(ctx, o); err != nil {
		t.Fatal(err)
	}
	var res Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || !res.StoreReplaced || res.IdentityCreated || res.Recipient != id.Recipients[0] {
		t.Fatalf("--force --json: %v %s", err, out)
	}
	s, _ := local.OpenStore(fx.store, &local.Options{Identity: id}, nil)
	if _, err := s.Get(ctx, "FROM_STEP"); keyward.ErrorCode(err) != keyward.NotFound {
		t.Fatalf("after --force the store must be empty: %v", err)
	}
	if idAfter, _ := os.ReadFile(fx.idPath); !bytes.Equal(idBefore, idAfter) {
		t.Fatalf("--force replaced the identity")
	}
}

func TestRunTeam(t *testing.T) {
	ctx := context.Background()
	alice := newFixture(t)
	o, _ := alice.opts("", nil)
	if err := run(ctx, o); err != nil {
		t.Fatal(err)
	}
	// Bob has his own identity and a clone of the same store file.
	bob := newFixture(t)
	bob.store = alice.store
	o, out := bob.opts("", nil)
	if err := run(ctx, o); err != nil {
		t.Fatal(err)
	}
	bobID, _ := local.LoadIdentityFile(bob.idPath)
	if !strings.Contains(out.String(), "not encrypted to you") || !strings.Contains(out.String(), "keyward init --add-recipient "+bobID.Recipients[0]) {
		t.Fatalf("a non-member's init must say how to be added:\n%s", out)
	}
	// Bob cannot add himself.
	o, _ = bob.opts("", func(o *Options) { o.AddRecipients = bobID.Recipients })
	if err := run(ctx, o); cmdutil.ExitCode(err) != cmdutil.ExitPermission {
		t.Fatalf("a non-member adding a recipient: exit %d (%v)", cmdutil.ExitCode(err), err)
	}
	// Alice adds Bob.
	o, out = alice.opts("", func(o *Options) { o.AddRecipients = bobID.Recipients })
	if err := run(ctx, o); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Added recipient "+bobID.Recipients[0]) {
		t.Fatalf("output:\n%s", out)
	}
	s, _ := local.OpenStore(bob.store, &local.Options{Identity: bobID}, nil)
	if _, err := s.Put(ctx, "BOB", keyward.NewSecretString("bob-value"), nil); err != nil {
		t.Fatalf("bob writing after being added: %v", err)
	}
}

func TestRunErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("bad recipient changes nothing", func(t *testing.T) {
		fx := newFixture(t)
		o, _ := fx.opts("", func(o *Options) { o.AddRecipients = []string{"age1-not-a-key"} })
		err := run(ctx, o)
		if cmdutil.ExitCode(err) != cmdutil.ExitUsage {
			t.Fatalf("exit %d (%v)", cmdutil.ExitCode(err), err)
		}
		if _, err := os.Stat(fx.store); err == nil {
			t.Fatalf("a failed init created the store")
		}
		if _, err := os.Stat(fx.idPath); err == nil {
			t.Fatalf("a failed init created the identity")
		}
	})
	t.Run("not a local store", func(t *testing.T) {
		fx := newFixture(t)
		o, _ := fx.opts("vault://vault.example.com/x", nil)
		err := run(ctx, o)
		if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "local stores only") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("world-readable identity", func(t *testing.T) {
		fx := newFixture(t)
		i, _ := local.GenerateIdentity()
		if err := local.WriteIdentityFile(fx.idPath, i); err != nil {
			t.Fatal(err)
		}
		_ = os.Chmod(fx.idPath, 0o644)
		o, _ := fx.opts("", nil)
		err := run(ctx, o)
		var b bytes.Buffer
		cmdutil.PrintError(&b, err)
		if cmdutil.ExitCode(err) != cmdutil.ExitPermission || !strings.Contains(b.String(), "hint: chmod 600 "+fx.idPath) {
			t.Fatalf("got exit %d:\n%s", cmdutil.ExitCode(err), b.String())
		}
		if _, err := os.Stat(fx.store); err == nil {
			t.Fatalf("init created a store with an unusable identity")
		}
	})
	t.Run("inline identity writes no file", func(t *testing.T) {
		fx := newFixture(t)
		i, _ := local.GenerateIdentity()
		fx.env[local.EnvIdentity] = i.String()
		o, out := fx.opts("", nil)
		if err := run(ctx, o); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(fx.idPath); err == nil {
			t.Fatalf("init wrote an identity file although KEYWARD_AGE_IDENTITY is set")
		}
		if rs, _ := local.Recipients(fx.store); !slices.Equal(rs, []string{i.Recipient().String()}) {
			t.Fatalf("store not encrypted to the inline identity")
		}
		if strings.Contains(out.String(), i.String()) {
			t.Fatalf("init printed the private key")
		}
	})
	t.Run("identity from the URL", func(t *testing.T) {
		fx := newFixture(t)
		idf := filepath.Join(fx.dir, "team-id.txt")
		o, _ := fx.opts("local://"+filepath.ToSlash(fx.store)+"?identity="+filepath.ToSlash(idf), nil)
		if err := run(ctx, o); err != nil {
			t.Fatal(err)
		}
		if _, err := local.LoadIdentityFile(idf); err != nil {
			t.Fatalf("identity= path not used: %v", err)
		}
	})
}

type urlT = url.URL
