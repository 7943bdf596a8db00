package cmdutil

import (
	"errors"
	"io/fs"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/audit"
	"github.com/keyward/keyward/internal/fsutil"
)

// AllowRefsEnv lists allow entries (comma- or space-separated), like
// --allow-ref.
const AllowRefsEnv = "KEYWARD_ALLOW_REFS"

// UserAllowRefs reads `references: {allow: [...]}` from the user's own
// config file (audit.UserConfigPath). A missing file or section is none.
// Only this section is decoded here; a type error in it is an error.
func UserAllowRefs(getenv func(string) string) ([]string, error) {
	path := audit.UserConfigPath(getenv)
	b, err := fsutil.ReadFile(path, fsutil.MaxProjectFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		// A user config that cannot be read is a configuration error (exit
		// 2), as audit.Resolve's errors for the same file are.
		return nil, keyward.Errorf(keyward.InvalidArgument, "read config", "%v", fsutil.StripPath(err))
	}
	var doc struct {
		References struct {
			Allow []string `yaml:"allow"`
		} `yaml:"references"`
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, keyward.Errorf(keyward.InvalidArgument, "read config", "%s: not YAML", path)
	}
	if len(root.Content) == 0 {
		return nil, nil
	}
	top := root.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value != "references" {
			continue
		}
		sec := top.Content[i+1]
		var wrap yaml.Node
		wrap.Kind = yaml.MappingNode
		wrap.Content = []*yaml.Node{{Kind: yaml.ScalarNode, Value: "references"}, sec}
		if err := wrap.Decode(&doc); err != nil {
			return nil, keyward.Errorf(keyward.InvalidArgument, "read config",
				"%s:%d:%d: references: must be a mapping with allow: a list of store URL prefixes", path, sec.Line, sec.Column)
		}
		if err := keyward.CheckAllowEntries(doc.References.Allow); err != nil {
			return nil, keyward.Errorf(keyward.InvalidArgument, "read config", "%s:%d:%d: references.allow: %s", path, sec.Line, sec.Column,
				strings.TrimPrefix(err.Error(), "keyward: failed to allow reference: invalid argument: "))
		}
	}
	return doc.References.Allow, nil
}

// TrustPolicy is the policy for store URLs the user did not write: the
// user's allow entries (--allow-ref, KEYWARD_ALLOW_REFS, references.allow
// in their config), the command's own store, and VAULT_ADDR.
func (f *Factory) TrustPolicy() (*keyward.TrustPolicy, error) {
	if f.trust != nil {
		return f.trust, nil
	}
	getenv := f.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	p := &keyward.TrustPolicy{VaultAddr: getenv("VAULT_ADDR")}
	p.Allow = append(p.Allow, f.AllowRefs...)
	p.Allow = append(p.Allow, strings.FieldsFunc(getenv(AllowRefsEnv), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' })...)
	if err := keyward.CheckAllowEntries(p.Allow); err != nil {
		return nil, FlagErrorf("--allow-ref / %s: %s", AllowRefsEnv, strings.TrimPrefix(err.Error(), "keyward: failed to allow reference: invalid argument: "))
	}
	user, err := UserAllowRefs(getenv)
	if err != nil {
		return nil, err
	}
	p.Allow = append(p.Allow, user...)
	f.trust = p
	return p, nil
}

// CheckURL applies the trust policy to a store URL of the given origin,
// returning the refusal with its hint.
func (f *Factory) CheckURL(raw string, origin keyward.URLOrigin) error {
	if origin == keyward.OriginUser {
		return nil
	}
	p, err := f.TrustPolicy()
	if err != nil {
		return err
	}
	return trustErr(p.CheckURL(raw, origin))
}

// CheckRef applies the trust policy to a reference found in a stored value
// or a template. own is the store the command reads ("" if none).
func (f *Factory) CheckRef(ref *keyward.Ref, own string) error {
	p, err := f.TrustPolicy()
	if err != nil {
		return err
	}
	q := *p
	q.Own = own
	return trustErr(q.CheckRef(ref))
}

func trustErr(err error) error {
	var te *keyward.TrustError
	if errors.As(err, &te) {
		return WithHint(err, te.Hint)
	}
	return err
}
