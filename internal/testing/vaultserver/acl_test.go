package vaultserver

import (
	"slices"
	"testing"
)

func TestParsePolicy(t *testing.T) {
	rules, err := ParsePolicy(`
# comment
path "secret/data/a" {
  capabilities = ["read", "update"]
}
path "secret/data/b/*" { capabilities = ["list"] }
`)
	if err != nil {
		t.Fatal(err)
	}
	want := []PolicyRule{{"secret/data/a", []string{"read", "update"}}, {"secret/data/b/*", []string{"list"}}}
	if len(rules) != 2 || rules[0].Path != want[0].Path || !slices.Equal(rules[0].Capabilities, want[0].Capabilities) ||
		rules[1].Path != want[1].Path || !slices.Equal(rules[1].Capabilities, want[1].Capabilities) {
		t.Fatalf("got %+v, want %+v", rules, want)
	}
	for _, bad := range []string{`path "x" { capabilities = ["reed"] }`, `path "x" {`, `path "x" { capabilities = "read" `} {
		if _, err := ParsePolicy(bad); err == nil {
			t.Errorf("ParsePolicy(%q) = nil error", bad)
		}
	}
}

func TestCapabilitiesMatching(t *testing.T) {
	rules := map[string][]string{
		"secret/data/app":       {"read"},
		"secret/data/app*":      {"list"},
		"secret/data/*":         {"create"},
		"secret/data/+/config":  {"update"},
		"secret/data/+/+":       {"delete"},
		"secret/data/team/+":    {"patch"},
		"secret/data/deny/*":    {"deny"},
		"secret/data/deny/open": {"read"},
		"kv/+/x*":               {"sudo"},
	}
	for _, c := range []struct {
		path string
		want []string
	}{
		{"secret/data/app", []string{"read"}},          // exact wins over every glob
		{"secret/data/apple", []string{"list"}},        // longest prefix glob
		{"secret/data/other", []string{"create"}},      // shorter glob
		{"secret/data/svc/config", []string{"update"}}, // same first wildcard: a trailing * loses, then fewer + wins
		{"secret/data/svc/other", []string{"delete"}},  // +/+ (no trailing *) beats secret/data/*
		{"secret/data/team/x", []string{"patch"}},      // wildcard later (team/+) wins
		{"secret/data/deny/a", []string{"deny"}},
		{"secret/data/deny/open", []string{"read"}}, // exact beats the deny glob
		{"secret/data/svc/a/b", []string{"create"}}, // +/+ needs exactly two segments
		{"kv/any/xyz", []string{"sudo"}},
		{"kv/any/y", nil},
		{"elsewhere", nil},
	} {
		if got := Capabilities(rules, c.path); !slices.Equal(got, c.want) {
			t.Errorf("Capabilities(%q) = %v, want %v", c.path, got, c.want)
		}
	}
}

func TestMergeDeny(t *testing.T) {
	if got := mergeCaps([]string{"read"}, []string{"deny"}); !slices.Equal(got, []string{"deny"}) {
		t.Fatalf("deny must win, got %v", got)
	}
	if got := mergeCaps([]string{"read"}, []string{"list", "read"}); !slices.Equal(got, []string{"read", "list"}) {
		t.Fatalf("union, got %v", got)
	}
}
