package main

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEDailyUse keeps testdata/script/readme.txtar in step with the
// README's "Daily use" block: every command there must appear in the script
// as a command line of its own, or as a "# cloud: COMMAND" comment for the
// lines that need a cloud account, or "# teammate: COMMAND" for the lines
// that need another person's key (the script shows the same verb run with
// one it made).
func TestREADMEDailyUse(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile("testdata/script/readme.txtar")
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]bool{}
	for _, l := range strings.Split(string(script), "\n") {
		lines[strings.TrimSpace(l)] = true
	}
	cmds := dailyUse(t, string(readme))
	if len(cmds) < 10 {
		t.Fatalf("found %d commands in README's Daily use block; is the block still there?", len(cmds))
	}
	for _, c := range cmds {
		as := c
		if name, in, ok := strings.Cut(c, " < "); ok {
			as = name // stdin redirection: the script says "stdin FILE" first
			if !lines["stdin "+strings.TrimSpace(in)] {
				t.Errorf("readme.txtar does not feed %q on stdin for %q", strings.TrimSpace(in), c)
			}
		}
		if !lines[as] && !lines["# cloud: "+c] && !lines["# teammate: "+c] {
			t.Errorf("README's Daily use line %q is neither run nor marked '# cloud:' or '# teammate:' in readme.txtar", c)
		}
	}
}

// dailyUse returns the commands of the sh block under "## Daily use", with
// their trailing comments removed.
func dailyUse(t *testing.T, readme string) []string {
	_, rest, ok := strings.Cut(readme, "## Daily use\n")
	if !ok {
		t.Fatal(`README.md has no "## Daily use" section`)
	}
	_, rest, ok = strings.Cut(rest, "```sh\n")
	if !ok {
		t.Fatal("the Daily use section has no ```sh block")
	}
	block, _, _ := strings.Cut(rest, "```")
	var out []string
	for _, l := range strings.Split(block, "\n") {
		if i := strings.Index(l, " #"); i >= 0 {
			l = l[:i]
		}
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
