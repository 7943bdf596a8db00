//go:build !keyward_omit_vault

package vault

import (
	"context"
	"fmt"
	"strings"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/policy"
)

func init() { policy.Register(Scheme, Policy) }

// Rule is one path stanza of a Vault policy.
type Rule struct {
	Path         string   `json:"-"`
	Capabilities []string `json:"capabilities"`
	// Why is printed as a comment above the stanza.
	Why string `json:"-"`
}

// Policy derives the Vault (OpenBao) ACL policy that grants exactly the
// requests this provider makes for r.Access on the store r.URL names:
//
//   - mount detection: GET sys/internal/ui/mounts/PATH, unless both mount=
//     and kv= pin it (with mount= alone, sys/internal/ui/mounts/MOUNT);
//   - bundle layout: read on MOUNT/data/PATH (get, list, run: one request);
//     write and rotate add create and update on it, and read on
//     MOUNT/metadata/PATH (the current version when the latest is deleted).
//     Rotation writes KEY_OLD, KEY_PENDING and KEY_ROTATION fields of the
//     same secret, so it needs no other path;
//   - keys layout: read on MOUNT/data/PATH/KEY for each key (with --all,
//     MOUNT/data/PATH/* and list on MOUNT/metadata/PATH/); write adds create
//     and update; rotate adds the KEY_ROTATION companion secret and read on
//     MOUNT/metadata/PATH/KEY (the versions);
//   - KV v1: the same on MOUNT/PATH[/KEY].
//
// Without mount= the mount is taken to be the first segment of PATH (the
// guide's `vault secrets enable -path=dharmamind kv-v2`), or secret/ when
// PATH has one segment, as the driver's detection falls back to.
func Policy(_ context.Context, r *policy.Request) (*policy.Document, error) {
	o, err := optionsFromURL(r.URL)
	if err != nil {
		return nil, err
	}
	if o.Layout == "" {
		o.Layout = LayoutBundle
	}
	if o.Layout != LayoutBundle && o.Layout != LayoutKeys {
		return nil, keyward.Errorf(keyward.InvalidArgument, "derive the policy", "vault URL: layout=%q must be bundle or keys", o.Layout)
	}
	if o.Path == "" {
		return nil, keyward.Errorf(keyward.InvalidArgument, "derive the policy", "vault URL names no path")
	}
	// The store URL may come from keyward.yaml (untrusted) and stands in
	// every path stanza: a glob (*), a segment wildcard (+) or an identity
	// template ({{…}}) there would grant more than the one store.
	for _, p := range []string{o.Path, o.Mount} {
		if strings.ContainsAny(p, "*+{}") {
			return nil, keyward.Errorf(keyward.InvalidArgument, "derive the policy",
				"vault URL: the path and mount= may not hold *, + or { } (Vault policy wildcards and templates would widen the grant beyond this store)")
		}
	}
	rules, notes := Rules(o, r)
	doc := &policy.Document{Language: "hcl", Notes: notes}
	var b strings.Builder
	b.WriteString(policy.Comment("# ", policy.Header(r)...))
	b.WriteString(policy.Comment("# ", notes...))
	jsonDoc := map[string]map[string]any{"path": {}}
	for _, rule := range rules {
		b.WriteString("\n")
		if rule.Why != "" {
			b.WriteString(policy.Comment("# ", rule.Why))
		}
		caps := make([]string, len(rule.Capabilities))
		for i, c := range rule.Capabilities {
			caps[i] = fmt.Sprintf("%q", c)
		}
		fmt.Fprintf(&b, "path %q {\n  capabilities = [%s]\n}\n", rule.Path, strings.Join(caps, ", "))
		jsonDoc["path"][rule.Path] = map[string]any{"capabilities": rule.Capabilities}
	}
	doc.Native = b.String()
	doc.Document = jsonDoc
	return doc, nil
}

// Rules lists the stanzas Policy prints, with the notes that explain them.
func Rules(o *Options, r *policy.Request) ([]Rule, []string) {
	var rules []Rule
	var notes []string
	mount, sub, version := o.Mount, strings.Trim(o.Path, "/"), o.KVVersion
	if mount == "" {
		if first, rest, ok := strings.Cut(sub, "/"); ok {
			mount, sub = first, rest
		} else {
			mount = "secret"
		}
	}
	mount = strings.Trim(mount, "/")
	if version == 0 {
		version = 2
	}
	t := &target{mount: mount + "/", version: version, sub: sub}
	kvName := fmt.Sprintf("KV v%d", version)

	switch {
	case o.Mount == "":
		notes = append(notes, fmt.Sprintf("The %s mount is taken to be %q; keyward finds it at run time through Vault's mount detection.", kvName, t.mount),
			fmt.Sprintf("Pin it with ?mount=%s&kv=%d in the store URL to skip detection and drop the sys/internal/ui/mounts stanza.", mount, version))
		rules = append(rules, Rule{Path: "sys/internal/ui/mounts/" + strings.Trim(o.Path, "/"), Capabilities: []string{"read"},
			Why: "Mount detection: which mount holds the path, and its KV version (as `vault kv` asks).\nVault and OpenBao answer it for a token with any capability inside the mount, so\nthis stanza documents the call; it grants nothing more."})
	case o.KVVersion == 0:
		notes = append(notes, fmt.Sprintf("The mount is pinned (mount=%s); add kv=%d to the URL to skip the KV-version check too.", mount, version))
		rules = append(rules, Rule{Path: "sys/internal/ui/mounts/" + mount, Capabilities: []string{"read"},
			Why: "KV version detection for the pinned mount."})
	}

	if o.Namespace != "" {
		notes = append(notes, "Write this policy in namespace "+o.Namespace+" (vault policy write -namespace="+o.Namespace+"): its paths are relative to it.")
	}
	if version == 2 && r.Access == policy.Read {
		notes = append(notes, "keyward history (versions, never values) also needs read on the metadata path; it is not granted here.")
	}

	rw := []string{"create", "read", "update"}
	if o.Layout == LayoutBundle {
		data := t.dataPath(t.sub)
		switch {
		case r.Access == policy.Read:
			rules = append(rules, Rule{Path: data, Capabilities: []string{"read"},
				Why: "The environment's one secret: every key is a field of it (get, list, run: one request)."})
		default:
			why := "The environment's one secret: read, then write a new version with every field (check-and-set)."
			if r.Access == policy.Rotate {
				why += "\nRotation keeps KEY_OLD, KEY_PENDING and KEY_ROTATION as fields of this same secret."
			}
			rules = append(rules, Rule{Path: data, Capabilities: rw, Why: why})
			if version == 2 {
				rules = append(rules, Rule{Path: t.metadataPath(t.sub), Capabilities: []string{"read"},
					Why: "The current version number when the latest version is deleted (check-and-set must name it)."})
			}
		}
		if !r.All && len(r.Keys) > 0 {
			notes = append(notes, "Vault grants per secret, not per field: this policy reaches every field of "+data+", not only the keys named.")
		}
		notes = append(notes, "auth/token/lookup-self and renew-self (token renewal) are in Vault's default policy.")
		return rules, notes
	}

	// keys layout: one secret per key.
	caps := []string{"read"}
	if r.Access.AtLeast(policy.Write) {
		caps = rw
	}
	if r.All {
		rules = append(rules, Rule{Path: t.dataPath(t.join("*")), Capabilities: caps,
			Why: "Every key: one secret per key under " + t.dataPath(t.sub) + "/."})
		listPath := t.metadataPath(t.sub) + "/"
		if version == 1 {
			listPath = t.dataPath(t.sub) + "/"
		}
		rules = append(rules, Rule{Path: listPath, Capabilities: []string{"list"}, Why: "Listing the keys (keyward list, run and export of the whole store)."})
		if r.Access == policy.Rotate && version == 2 {
			rules = append(rules, Rule{Path: t.metadataPath(t.join("*")), Capabilities: []string{"read"},
				Why: "Rotation reads each key's versions (the previous value is the previous KV version)."})
		}
	} else {
		for _, k := range r.Keys {
			rules = append(rules, Rule{Path: t.dataPath(t.join(k)), Capabilities: caps, Why: "Key " + k + "."})
			if r.Access == policy.Rotate && version == 2 {
				rules = append(rules,
					Rule{Path: t.dataPath(t.join(k + driver.SuffixRotation)), Capabilities: rw, Why: "Key " + k + "'s rotation record."},
					Rule{Path: t.metadataPath(t.join(k)), Capabilities: []string{"read"}, Why: "Key " + k + "'s versions (the previous value during the grace period)."})
			}
		}
	}
	if !r.All {
		notes = append(notes, "Listing is not granted: run, export and diff read named keys only (keyward run --only K1,K2), or print this policy with --all.")
	}
	if r.Access == policy.Rotate && version == 1 {
		notes = append(notes, "KV v1 keeps no versions: rotation uses KEY_OLD/KEY_PENDING/KEY_ROTATION secrets next to each key.")
		if !r.All {
			for _, k := range r.Keys {
				for _, s := range []string{driver.SuffixOld, driver.SuffixPending, driver.SuffixRotation} {
					rules = append(rules, Rule{Path: t.dataPath(t.join(k + s)), Capabilities: rw, Why: "Key " + k + "'s rotation companion " + k + s + "."})
				}
			}
		}
	}
	notes = append(notes, "auth/token/lookup-self and renew-self (token renewal) are in Vault's default policy.")
	return rules, notes
}
