package audit

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzDecodeSection: any bytes in place of a config file give a Config or an
// error, never a panic; a rejected value is never echoed in the error.
func FuzzDecodeSection(f *testing.F) {
	for _, s := range []string{
		"", "audit:\n", "audit: {}\n", "audit:\n  required: true\n  hmac_values: false\n",
		"audit:\n  required: \"maybe\"\n", "audit: [1, 2]\n", "audit:\n  file: ~/x.log\n  key_file: /k\n",
		"audit:\n  enabled: !!bool true\n", "audit: &a\n  required: true\nother: *a\n", "- a\n- b\n",
		"audit:\n  required: yes\n", "audit:\n  fsync: null\n", "audit:\n  ? [a]\n  : b\n",
	} {
		f.Add([]byte(s), "value")
	}
	f.Fuzz(func(t *testing.T, doc []byte, v string) {
		_, err := DecodeSection("keyward.yaml", doc)
		if err != nil && !strings.HasPrefix(err.Error(), "keyward.yaml") {
			t.Fatalf("error does not name the file: %q", err)
		}
		// A canary in a boolean field: refused, and not in the error.
		canary := "KWCANARY" + v
		for _, field := range []string{"required", "enabled", "hmac_values", "fsync", "stderr"} {
			_, err := DecodeSection("keyward.yaml", []byte("audit:\n  "+field+": "+strconv.Quote(canary)+"\n"))
			if err == nil {
				t.Fatalf("%s: a string was accepted as a boolean", field)
			}
			if strings.Contains(err.Error(), "KWCANARY") {
				t.Fatalf("%s: the error echoes the value: %q", field, err)
			}
		}
	})
}
