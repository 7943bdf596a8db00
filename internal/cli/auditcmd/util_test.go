package auditcmd

import (
	"encoding/hex"
	"os"
)

func writeKey(p string, k []byte) error {
	return os.WriteFile(p, []byte(hex.EncodeToString(k)+"\n"), 0o600)
}
func readFile(p string) ([]byte, error)  { return os.ReadFile(p) }
func writeFile(p string, b []byte) error { return os.WriteFile(p, b, 0o600) }
