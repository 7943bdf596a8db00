package scan

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// Canary: the value never appears in any output format, nor in the
// baseline file, however it was encoded in the scanned data.
func TestOutputsNeverContainValue(t *testing.T) {
	dir := t.TempDir()
	v := fake("KWCANARY-report-", 24, "r5")
	stripe := "sk_live_" + mixed(24)
	write(t, dir, "a.env", "A="+v+"\nB="+base64.StdEncoding.EncodeToString([]byte(v))+"\nC="+stripe+"\n")
	s := newScanner(t, managed("API", "prod", v))
	rep, err := s.ScanTree(context.Background(), []string{dir}, SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 3 {
		t.Fatalf("%d findings, want 3", len(rep.Findings))
	}
	var txt, js, sarif bytes.Buffer
	WriteText(&txt, rep.Findings)
	WriteJSON(&js, rep.Findings)
	WriteSARIF(&sarif, rep.Findings, s.Rules(), "test")
	bl := filepath.Join(dir, "baseline.json")
	if err := WriteBaseline(bl, rep.Findings); err != nil {
		t.Fatal(err)
	}
	blData, _ := readFile(bl)
	b64 := base64.StdEncoding.EncodeToString([]byte(v))
	for name, out := range map[string]string{"text": txt.String(), "json": js.String(), "sarif": sarif.String(), "baseline": blData} {
		for _, secret := range []string{v, b64[4 : len(b64)-4], stripe, "sk_live_"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s output contains a secret (%d bytes)", name, len(secret))
			}
		}
	}
	if !strings.Contains(txt.String(), "a.env:1:3: managed secret API@prod (raw) fp=") {
		t.Errorf("text output lacks the path:line:col line for the managed value")
	}
	var arr []Finding
	if err := json.Unmarshal(js.Bytes(), &arr); err != nil || len(arr) != 3 {
		t.Fatalf("json: %v", err)
	}
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Results []struct {
				RuleID string `json:"ruleId"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(sarif.Bytes(), &log); err != nil || log.Version != "2.1.0" || len(log.Runs[0].Results) != 3 {
		t.Fatalf("sarif: %v", err)
	}
	// The baseline accepts exactly these findings.
	base, err := ReadBaseline(bl)
	if err != nil {
		t.Fatal(err)
	}
	if left := base.Filter(rep.Findings); len(left) != 0 {
		t.Fatalf("baseline left %d findings", len(left))
	}
	// A new leak is still reported; moving the old one down a line is not.
	write(t, dir, "a.env", "\nA="+v+"\nB="+base64.StdEncoding.EncodeToString([]byte(v))+"\nC="+stripe+"\nD=ghp_"+mixed(36)+"\n")
	rep, _ = s.ScanTree(context.Background(), []string{dir}, SourceOptions{NoIgnore: true})
	left := base.Filter(rep.Findings)
	if len(left) != 1 || left[0].RuleID != "github-token" {
		t.Fatalf("after baseline: %d findings, want the new github token only", len(left))
	}
}

func readFile(p string) (string, error) {
	b, err := readAll(p)
	return string(b), err
}
