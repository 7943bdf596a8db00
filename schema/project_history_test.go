package schema

import (
	"strings"
	"testing"
)

func TestStoreURLHistory(t *testing.T) {
	for _, c := range []struct {
		raw  string
		n    int
		want string
	}{
		{"local://keyward.age", 0, "local://keyward.age"},
		{"local://keyward.age", 5, "local://keyward.age?history=5"},
		{"local://keyward.age?identity=id.txt", 5, "local://keyward.age?identity=id.txt&history=5"},
		{"local://keyward.age?history=3", 5, "local://keyward.age?history=3"},
		{"secrets/dev.age", 7, "local://secrets/dev.age?history=7"},
		{"dotenv://.env", 5, "dotenv://.env"},
	} {
		if got := withHistory(c.raw, c.n); got != c.want {
			t.Errorf("withHistory(%q, %d) = %q, want %q", c.raw, c.n, got, c.want)
		}
	}
}

func TestEnvironmentHistoryAndRecipients(t *testing.T) {
	c, err := Parse([]byte(`version: 1
environments:
  development:
    store: local://keyward.age
    history: 3
    recipients: [age1m36ea75k8trekc5ar4fntms99h0v5urjfeh5yu03xe90s9p5mftq6a5lch]
secrets:
  K: {}
`), "keyward.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e := c.Environments["development"]
	if e.History != 3 || len(e.Recipients) != 1 {
		t.Fatalf("history %d, recipients %v", e.History, e.Recipients)
	}
	if u, _ := c.StoreURL("development"); u != "local://keyward.age?history=3" {
		t.Fatalf("store URL %q", u)
	}
	for _, bad := range []string{"history: lots", "recipients: age1x"} {
		_, err := Parse([]byte("version: 1\nenvironments:\n  dev:\n    store: local://k.age\n    "+bad+"\nsecrets:\n  K: {}\n"), "keyward.yaml")
		if err == nil || !strings.Contains(err.Error(), "keyward.yaml:5:") {
			t.Fatalf("%s: %v", bad, err)
		}
	}
}
