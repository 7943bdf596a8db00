package local

import (
	"bytes"
	"crypto/hmac"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/driver"
)

// A side of a merge: one store file, decrypted.
type side struct {
	name       string
	recipients []string
	k          *fileKeys // nil for a v1 file
	wrapped    []byte    // the file key as the file wraps it (v2)
	keys       map[string]*sideKey
}

type sideKey struct {
	versions map[int]*sideVer
	marker   *recPlain
}

type sideVer struct {
	p   *recPlain
	rec *rec // the sealed record, for a v2 side
}

func sameVersion(a, b *recPlain) bool {
	return a.Created.Equal(b.Created) && hmac.Equal(a.Value, b.Value) && maps.Equal(a.Meta, b.Meta)
}

func loadSide(name string, data []byte, id *Identity, cache *keyCache) (*side, error) {
	s, err := loadSnapshot(name, data, id, cache)
	if err != nil {
		return nil, err
	}
	sd := &side{name: name, recipients: slices.Clone(s.recipients()), keys: map[string]*sideKey{}}
	get := func(key string) *sideKey {
		k := sd.keys[key]
		if k == nil {
			k = &sideKey{versions: map[int]*sideVer{}}
			sd.keys[key] = k
		}
		return k
	}
	if s.v1 != nil {
		for key, e := range s.v1.Secrets {
			for _, v := range e.Versions {
				n, _ := strconv.Atoi(v.ID)
				get(key).versions[n] = &sideVer{p: &recPlain{Key: key, Created: v.Created, Meta: v.Meta, Value: v.Value}}
			}
		}
		return sd, nil
	}
	sd.k, sd.wrapped = s.k, s.f.wrapped
	recs, err := s.fullRecs()
	if err != nil {
		return nil, err
	}
	for i := range recs {
		r := &recs[i]
		p, err := s.k.open(r)
		if err != nil {
			return nil, recDamaged(name, err)
		}
		if r.ver == 0 {
			get(p.Key).marker = p
			continue
		}
		get(p.Key).versions[r.ver] = &sideVer{p: p, rec: r}
	}
	return sd, nil
}

// MergeResult is what Merge did, for the merge driver's report. It names
// keys and versions, never values.
type MergeResult struct {
	// Both lists keys changed on both sides: every new version of both was
	// kept, renumbered by creation time (the later one is current).
	Both []string
	// Notes are one-line descriptions for stderr.
	Notes []string
}

// Merge is the three-way merge of store files that `keyward merge-driver`
// runs for git: base is the common ancestor (nil when there is none),
// ours and theirs the two sides. Records are united by key and version: a
// version both sides still hold stays, one a side removed (pruned or
// deleted) goes, and a version only one side added is kept. When both
// sides added versions of the same key, all of them are kept, numbered in
// creation order after the base's last, so the later one is current. The
// result is a v2 file under ours' file key (records ours already holds are
// kept byte for byte), unless one side re-keyed to remove a recipient:
// then under that side's key and without that recipient. When both sides
// re-keyed differently, Merge refuses (FailedPrecondition) and nothing is
// written.
func Merge(base, ours, theirs []byte, id *Identity) ([]byte, *MergeResult, error) {
	// One cache for the three sides: a file key they share is unwrapped
	// once (one touch of a hardware key, one passphrase prompt).
	cache := &keyCache{}
	var o *side
	if len(bytes.TrimSpace(base)) > 0 {
		var err error
		if o, err = loadSide("base", base, id, cache); err != nil {
			return nil, nil, err
		}
	}
	a, err := loadSide("ours", ours, id, cache)
	if err != nil {
		return nil, nil, err
	}
	b, err := loadSide("theirs", theirs, id, cache)
	if err != nil {
		return nil, nil, err
	}
	res := &MergeResult{}

	// Recipients and the file key.
	var baseRecips []string
	if o != nil {
		baseRecips = o.recipients
	}
	removedA := without(baseRecips, a.recipients)
	removedB := without(baseRecips, b.recipients)
	union := slices.Clone(a.recipients)
	for _, r := range b.recipients {
		if !slices.Contains(union, r) {
			union = append(union, r)
		}
	}
	var k *fileKeys
	var recipients []string
	sameKey := func(x, y *fileKeys) bool { return x != nil && y != nil && hmac.Equal(x.raw, y.raw) }
	switch {
	case len(removedA) > 0 && len(removedB) > 0 && !sameKey(a.k, b.k):
		return nil, nil, newErr(driver.FailedPrecondition,
			"take one side (git checkout --ours KEYWARD.AGE or --theirs), commit, and re-apply the other side's changes with keyward set",
			"both branches re-keyed the store to different recipients (%s removed on ours, %s on theirs): they cannot be merged automatically; nothing was written",
			strings.Join(removedA, ", "), strings.Join(removedB, ", "))
	case len(removedA) > 0:
		k, recipients = a.k, without(union, removedA)
		res.Notes = append(res.Notes, fmt.Sprintf("ours removed %s; the merge keeps ours' file key", strings.Join(removedA, ", ")))
	case len(removedB) > 0:
		k, recipients = b.k, without(union, removedB)
		res.Notes = append(res.Notes, fmt.Sprintf("theirs removed %s; the merge uses theirs' file key", strings.Join(removedB, ", ")))
	default:
		k, recipients = a.k, union
		if k == nil {
			k = b.k
		}
	}
	// Say who gains access: a recipient only one side lists is included
	// in the merge (review it: a committer can craft a side).
	for _, r := range recipients {
		switch {
		case !slices.Contains(a.recipients, r):
			res.Notes = append(res.Notes, fmt.Sprintf("recipient %s (added on theirs) can read the merged store", r))
		case !slices.Contains(b.recipients, r) && o != nil && !slices.Contains(o.recipients, r):
			res.Notes = append(res.Notes, fmt.Sprintf("recipient %s (added on ours) can read the merged store", r))
		}
	}
	if k == nil {
		if k, err = newFileKeys(); err != nil {
			return nil, nil, err
		}
	}

	t := &txn{name: "merged", byID: map[string][]rec{}, keep: -1, now: time.Now, k: k, recipients: recipients}
	// Keep a side's wrapped key when it already wraps k to exactly these
	// recipients (so the header line does not change); else wrap anew.
	for _, sd := range []*side{a, b} {
		if sameKey(sd.k, k) && slices.Equal(sd.recipients, recipients) {
			t.wrapped = sd.wrapped
			break
		}
	}
	if t.wrapped == nil {
		if err := t.setRecipients(recipients); err != nil {
			return nil, nil, err
		}
	}

	names := map[string]bool{}
	for _, sd := range []*side{a, b} {
		for n := range sd.keys {
			names[n] = true
		}
	}
	if o != nil {
		for n := range o.keys {
			names[n] = true
		}
	}
	for _, name := range slices.Sorted(maps.Keys(names)) {
		var ok, ak, bk *sideKey
		if o != nil {
			ok = o.keys[name]
		}
		ak, bk = a.keys[name], b.keys[name]
		type pick struct {
			ver int
			sv  *sideVer
			sd  *side
		}
		var kept []pick
		maxBase := 0
		if ok != nil {
			for v, ov := range ok.versions {
				maxBase = max(maxBase, v)
				av, bv := lookup(ak, v), lookup(bk, v)
				if av != nil && bv != nil && sameVersion(av.p, ov.p) && sameVersion(bv.p, ov.p) {
					kept = append(kept, pick{v, av, a})
				}
			}
		}
		newOf := func(sk *sideKey, sd *side) []pick {
			var out []pick
			if sk == nil {
				return nil
			}
			for v, sv := range sk.versions {
				if ok != nil && ok.versions[v] != nil && sameVersion(ok.versions[v].p, sv.p) {
					continue
				}
				out = append(out, pick{v, sv, sd})
			}
			slices.SortFunc(out, func(x, y pick) int { return x.ver - y.ver })
			return out
		}
		na, nb := newOf(ak, a), newOf(bk, b)
		// Versions both sides added identically count once.
		var onlyB []pick
		for _, p := range nb {
			if i := slices.IndexFunc(na, func(q pick) bool { return q.ver == p.ver && sameVersion(q.sv.p, p.sv.p) }); i < 0 {
				onlyB = append(onlyB, p)
			}
		}
		switch {
		case len(na) > 0 && len(onlyB) > 0:
			all := append(slices.Clone(na), onlyB...)
			slices.SortStableFunc(all, func(x, y pick) int { return x.sv.p.Created.Compare(y.sv.p.Created) })
			var desc []string
			for i := range all {
				all[i].ver = maxBase + 1 + i
				desc = append(desc, fmt.Sprintf("v%d (%s, %s)", all[i].ver, sideName(all[i].sd, a), all[i].sv.p.Created.UTC().Format(time.RFC3339)))
			}
			kept = append(kept, all...)
			res.Both = append(res.Both, name)
			res.Notes = append(res.Notes, fmt.Sprintf("%s changed on both branches: kept %s; v%d is current", name, strings.Join(desc, " and "), all[len(all)-1].ver))
		default:
			kept = append(kept, na...)
			kept = append(kept, onlyB...)
		}
		if ok != nil && (ak == nil || bk == nil) && len(kept) > 0 {
			res.Notes = append(res.Notes, fmt.Sprintf("%s was deleted on one branch and changed on the other: kept the changed versions", name))
		}
		if len(kept) == 0 {
			continue
		}
		slices.SortFunc(kept, func(x, y pick) int { return x.ver - y.ver })
		id := k.entryID(name)
		var rs []rec
		// The pruning marker: the larger of the two sides'.
		var marker *recPlain
		for _, sk := range []*sideKey{ak, bk} {
			if sk != nil && sk.marker != nil && (marker == nil || sk.marker.PrunedThrough > marker.PrunedThrough) {
				marker = sk.marker
			}
		}
		if marker != nil {
			data, err := k.seal(id, 0, marker)
			if err != nil {
				return nil, nil, err
			}
			rs = append(rs, rec{id: id, ver: 0, data: data})
		}
		for _, p := range kept {
			if p.sv.rec != nil && sameKey(p.sd.k, k) && p.sv.rec.ver == p.ver {
				rs = append(rs, *p.sv.rec)
				continue
			}
			data, err := k.seal(id, p.ver, p.sv.p)
			if err != nil {
				return nil, nil, err
			}
			rs = append(rs, rec{id: id, ver: p.ver, data: data})
		}
		t.byID[id] = rs
	}
	return t.encode(), res, nil
}

func sideName(sd, ours *side) string {
	if sd == ours {
		return "ours"
	}
	return "theirs"
}

func lookup(sk *sideKey, v int) *sideVer {
	if sk == nil {
		return nil
	}
	return sk.versions[v]
}

// without returns the elements of a not in b.
func without(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// DiffText renders a store file for `git diff` (the diff driver's
// textconv): the format, the recipients, and one line per version —
// "KEY v4 2026-12-01T09:00:00Z fp:1a2b3c4d5e6f" — never a value. The
// fingerprint is keyed with the file key: equal values within one file
// key show equal fingerprints, and it tells nothing to anyone without it.
// Without an identity that can read the file (id nil, or not a
// recipient) it lists entry identifiers instead of names.
func DiffText(data []byte, id *Identity) []byte {
	var b bytes.Buffer
	if isV2(data) {
		b.WriteString("keyward store v2\n")
	} else {
		b.WriteString("keyward store v1\n")
	}
	var s *snapshot
	var err error
	if id != nil {
		s, err = loadSnapshot("store", data, id, nil)
	}
	if id == nil || err != nil {
		if recips, rerr := recipientsOf("store", data); rerr == nil {
			for _, r := range recips {
				fmt.Fprintf(&b, "recipient %s\n", r)
			}
		}
		if isV2(data) {
			if f, perr := parseV2("store", data); perr == nil {
				for _, r := range f.recs {
					fmt.Fprintf(&b, "entry %s v%d (not decrypted)\n", r.id, r.ver)
				}
			}
		}
		if err != nil {
			fmt.Fprintf(&b, "(cannot decrypt: %s)\n", strings.ReplaceAll(err.Error(), "\n", " "))
		} else {
			b.WriteString("(no identity: names and fingerprints not shown)\n")
		}
		return b.Bytes()
	}
	for _, r := range s.recipients() {
		fmt.Fprintf(&b, "recipient %s\n", r)
	}
	p, markers, err := s.materialize()
	if err != nil {
		fmt.Fprintf(&b, "(cannot decrypt: %s)\n", err)
		return b.Bytes()
	}
	for _, name := range slices.Sorted(maps.Keys(p.Secrets)) {
		for _, v := range p.Secrets[name].Versions {
			// A v1 file has no file key to key a fingerprint with.
			fp := "-"
			if s.k != nil {
				fp = s.k.fingerprint(v.Value)
			}
			fmt.Fprintf(&b, "%s v%s %s fp:%s\n", name, v.ID, v.Created.UTC().Format(time.RFC3339), fp)
		}
		if m := markers[name]; m != nil {
			fmt.Fprintf(&b, "%s versions 1-%d pruned (%d)\n", name, m.PrunedThrough, m.PrunedCount)
		}
	}
	return b.Bytes()
}
