package scan

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/fsutil"
)

// Finding is one leak, placed in a file (and, for history scans, the commit
// that introduced it). It never carries the secret: a managed value is
// named by Key and Env, a format match by RuleID, and both by Fingerprint.
type Finding struct {
	Kind        string `json:"kind"` // "managed" or "rule"
	RuleID      string `json:"rule,omitempty"`
	Description string `json:"description,omitempty"`
	Key         string `json:"key,omitempty"`
	Env         string `json:"env,omitempty"`
	Version     string `json:"version,omitempty"`
	Encoding    string `json:"encoding,omitempty"`
	Path        string `json:"path"`
	Line        int    `json:"line"`
	Column      int    `json:"column"`
	EndLine     int    `json:"end_line"`
	EndColumn   int    `json:"end_column"`
	Fingerprint string `json:"fingerprint"`
	Blob        string `json:"blob,omitempty"`
	Commit      string `json:"commit,omitempty"`
	Author      string `json:"author,omitempty"`
	Email       string `json:"email,omitempty"`
	Date        string `json:"date,omitempty"`
}

// Name is what the finding is: the managed key (and environment) or the
// rule ID.
func (f *Finding) Name() string {
	if f.Kind == KindManaged {
		if f.Env != "" {
			return f.Key + "@" + f.Env
		}
		return f.Key
	}
	return f.RuleID
}

// BaselineID identifies a finding across runs and unrelated edits: what it
// is, where (path, commit) and the fingerprint; not the line, so code
// moving around it does not resurrect it.
func (f *Finding) BaselineID() string {
	return strings.Join([]string{f.Kind, f.Name(), f.Path, f.Commit, f.Fingerprint}, "|")
}

// findings places matches of one buffer at path.
func findings(data []byte, path string, ms []Match) []Finding {
	out := make([]Finding, 0, len(ms))
	// Matches are sorted by start: count lines incrementally.
	line, lineStart, off := 1, 0, 0
	advance := func(to int) (int, int) {
		for off < to {
			i := indexByteFrom(data, off, to)
			if i < 0 {
				off = to
				break
			}
			line++
			lineStart = i + 1
			off = i + 1
		}
		return line, to - lineStart + 1
	}
	for _, m := range ms {
		l, c := advance(m.Start)
		el, ec := Position(data, max(m.Start, m.End-1))
		out = append(out, Finding{Kind: m.Kind, RuleID: m.RuleID, Description: m.Description, Key: m.Key,
			Env: m.Env, Version: m.Version, Encoding: m.Encoding, Path: path, Line: l, Column: c,
			EndLine: el, EndColumn: ec, Fingerprint: m.Fingerprint})
	}
	return out
}

func indexByteFrom(data []byte, from, to int) int {
	for i := from; i < to; i++ {
		if data[i] == '\n' {
			return i
		}
	}
	return -1
}

// SortFindings orders findings by path, line, column, commit.
func SortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := &fs[i], &fs[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		if a.Commit != b.Commit {
			return a.Commit < b.Commit
		}
		return a.Name() < b.Name()
	})
}

// Baseline is a set of accepted findings (by BaselineID).
type Baseline map[string]bool

type baselineFile struct {
	Version int `json:"version"`
	// KeyID is the Scanner.KeyID of the fingerprint key the entries were
	// made under; empty in baselines written before keyward had per-user
	// scan keys.
	KeyID    string   `json:"key_id,omitempty"`
	Findings []string `json:"findings"`
}

// ReadBaseline loads a baseline written by WriteBaseline.
func ReadBaseline(path string) (Baseline, error) {
	bl, _, err := ReadBaselineKeyed(path)
	return bl, err
}

// ReadBaselineKeyed loads a baseline and the key ID it was written under
// ("" for a baseline from before key IDs).
func ReadBaselineKeyed(path string) (Baseline, string, error) {
	b, err := fsutil.ReadFile(path, fsutil.MaxBaselineFile)
	if err != nil {
		return nil, "", fmt.Errorf("keyward: failed to read baseline: %w", err)
	}
	var bf baselineFile
	if err := json.Unmarshal(b, &bf); err != nil {
		return nil, "", fmt.Errorf("keyward: failed to read baseline %s: %v", path, err)
	}
	bl := Baseline{}
	for _, id := range bf.Findings {
		bl[id] = true
	}
	return bl, bf.KeyID, nil
}

// Filter drops the findings the baseline accepts.
func (bl Baseline) Filter(fs []Finding) []Finding {
	out := fs[:0:0]
	for _, f := range fs {
		if !bl[f.BaselineID()] {
			out = append(out, f)
		}
	}
	return out
}

// WriteBaseline writes the findings' IDs to path atomically, mode 0600
// (fsutil.WriteFile). The file holds fingerprints, never values.
func WriteBaseline(path string, fs []Finding) error {
	return WriteBaselineKeyed(path, fs, "")
}

// WriteBaselineKeyed is WriteBaseline recording the key ID
// (Scanner.KeyID) the fingerprints were made under.
func WriteBaselineKeyed(path string, fs []Finding, keyID string) error {
	ids := map[string]bool{}
	bf := baselineFile{Version: 1, KeyID: keyID, Findings: []string{}}
	for _, f := range fs {
		if id := f.BaselineID(); !ids[id] {
			ids[id] = true
			bf.Findings = append(bf.Findings, id)
		}
	}
	sort.Strings(bf.Findings)
	b, err := json.MarshalIndent(bf, "", "  ")
	if err != nil {
		return err
	}
	if err := fsutil.WriteFile(path, append(b, '\n'), nil); err != nil {
		return keyward.NewError(fsutil.Code(err), "write baseline", err)
	}
	return nil
}

// WriteText prints one line per finding:
//
//	path:line:col: key@env (encoding) fp=abcdef123456 [commit 1a2b3c4d author <email> date]
func WriteText(w io.Writer, fs []Finding) error {
	bw := bufio.NewWriter(w)
	for i := range fs {
		f := &fs[i]
		fmt.Fprintf(bw, "%s:%d:%d: ", f.Path, f.Line, f.Column)
		if f.Kind == KindManaged {
			fmt.Fprintf(bw, "managed secret %s (%s)", f.Name(), f.Encoding)
		} else {
			fmt.Fprintf(bw, "%s", f.RuleID)
		}
		fmt.Fprintf(bw, " fp=%s", f.Fingerprint)
		if f.Commit != "" {
			fmt.Fprintf(bw, " commit=%s author=%q date=%s", short(f.Commit), f.Author+" <"+f.Email+">", f.Date)
		} else if f.Blob != "" {
			fmt.Fprintf(bw, " blob=%s", short(f.Blob))
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// WriteJSON prints the findings as a JSON array.
func WriteJSON(w io.Writer, fs []Finding) error {
	if fs == nil {
		fs = []Finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(fs)
}

// WriteSARIF prints the findings as a SARIF 2.1.0 log for code-scanning
// UIs. Rules are the format rules that fired plus one "managed-secret" rule.
func WriteSARIF(w io.Writer, fs []Finding, rules []*Rule, version string) error {
	type msg struct {
		Text string `json:"text"`
	}
	type sRule struct {
		ID               string `json:"id"`
		Name             string `json:"name,omitempty"`
		ShortDescription msg    `json:"shortDescription"`
	}
	type region struct {
		StartLine   int `json:"startLine"`
		StartColumn int `json:"startColumn"`
		EndLine     int `json:"endLine"`
		EndColumn   int `json:"endColumn"`
	}
	type artifact struct {
		URI string `json:"uri"`
	}
	type physical struct {
		ArtifactLocation artifact `json:"artifactLocation"`
		Region           region   `json:"region"`
	}
	type location struct {
		PhysicalLocation physical `json:"physicalLocation"`
	}
	type result struct {
		RuleID              string            `json:"ruleId"`
		Level               string            `json:"level"`
		Message             msg               `json:"message"`
		Locations           []location        `json:"locations"`
		PartialFingerprints map[string]string `json:"partialFingerprints"`
		Properties          map[string]string `json:"properties,omitempty"`
	}
	desc := map[string]string{"managed-secret": "A value keyward manages, in clear or encoded"}
	for _, r := range rules {
		desc[r.ID] = r.Description
	}
	used := map[string]bool{}
	results := []result{}
	for i := range fs {
		f := &fs[i]
		id := f.RuleID
		text := f.Description
		if f.Kind == KindManaged {
			id = "managed-secret"
			text = fmt.Sprintf("managed secret %s found (%s encoding)", f.Name(), f.Encoding)
		}
		if text == "" {
			text = id
		}
		used[id] = true
		props := map[string]string{}
		for k, v := range map[string]string{"commit": f.Commit, "author": f.Author, "email": f.Email, "date": f.Date, "key": f.Key, "env": f.Env, "encoding": f.Encoding} {
			if v != "" {
				props[k] = v
			}
		}
		results = append(results, result{RuleID: id, Level: "error", Message: msg{text},
			Locations: []location{{physical{artifact{filepath.ToSlash(f.Path)},
				region{f.Line, f.Column, f.EndLine, f.EndColumn + 1}}}},
			PartialFingerprints: map[string]string{"keyward/v1": f.Fingerprint},
			Properties:          props})
	}
	ids := make([]string, 0, len(used))
	for id := range used {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	srules := []sRule{}
	for _, id := range ids {
		d := desc[id]
		if d == "" {
			d = id
		}
		srules = append(srules, sRule{ID: id, Name: id, ShortDescription: msg{d}})
	}
	log := map[string]any{
		"$schema": "https://json.schemastore.org/sarif-2.1.0.json",
		"version": "2.1.0",
		"runs": []any{map[string]any{
			"tool": map[string]any{"driver": map[string]any{
				"name": "keyward", "informationUri": "https://github.com/keyward/keyward",
				"version": version, "rules": srules,
			}},
			"results": results,
		}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(log)
}
