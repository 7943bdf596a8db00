package cmdutil

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

type hinted struct{ hint string }

func (h *hinted) Error() string { return "provider failure" }
func (h *hinted) Hint() string  { return h.hint }

func TestProviderHints(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want []string
	}{
		{"provider hint", fmt.Errorf("wrapped: %w", &hinted{"run 'keyward init'"}), []string{"keyward: hint: run 'keyward init'"}},
		{"verb hint and provider hint", WithHint(&hinted{"chmod 600 f"}, "verb hint"), []string{"keyward: hint: verb hint", "keyward: hint: chmod 600 f"}},
		{"same hint once", WithHint(&hinted{"same"}, "same"), []string{"keyward: hint: same"}},
		{"empty hint", &hinted{""}, nil},
		{"no hint", errors.New("plain"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			PrintError(&b, tc.err)
			var got []string
			for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
				if strings.Contains(l, "hint:") {
					got = append(got, l)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("hints %q, want %q", got, tc.want)
			}
		})
	}
}
