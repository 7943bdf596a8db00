package schema

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/keyward/keyward"
)

// LoadProject loads the project's keyward.yaml: path when it is not empty,
// else the file Find locates from the working directory. It returns nil and
// no error when there is no keyward.yaml.
func LoadProject(path string) (*Config, error) {
	if path == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		if path, err = Find(wd); err != nil || path == "" {
			return nil, err
		}
	}
	return Load(path)
}

// pathSchemes are the store schemes whose URL (host and path together) is a
// file or directory path.
var pathSchemes = []string{"dotenv", "local", "file"}

// StoreURL returns environment env's store URL. A relative file path in a
// dotenv://, local:// or file:// URL is made absolute against the
// project directory, so the environment means the same store from any
// subdirectory.
func (c *Config) StoreURL(env string) (string, error) {
	e, err := c.Environment(env)
	if err != nil {
		return "", err
	}
	return withHistory(c.absStoreURL(e.Store), e.History), nil
}

// withHistory adds the environment's history: setting to a local store
// URL as ?history=N, unless the URL already says.
func withHistory(raw string, n int) string {
	if n <= 0 {
		return raw
	}
	if !strings.Contains(raw, "://") {
		raw = "local://" + filepath.ToSlash(raw)
	}
	u, err := keyward.ParseStoreURL(raw)
	if err != nil || u.Scheme != "local" || u.Query().Has("history") {
		return raw
	}
	sep := "?"
	if strings.Contains(raw, "?") {
		sep = "&"
	}
	return raw + sep + "history=" + strconv.Itoa(n)
}

func (c *Config) absStoreURL(raw string) string {
	if c.Dir == "" {
		return raw
	}
	if !strings.Contains(raw, "://") {
		if filepath.IsAbs(raw) {
			return raw
		}
		return filepath.Join(c.Dir, raw)
	}
	u, err := keyward.ParseStoreURL(raw)
	if err != nil || !containsStr(pathSchemes, u.Scheme) {
		return raw
	}
	p := keyward.URLPath(u)
	if p == "" || filepath.IsAbs(p) {
		return raw
	}
	out := u.Scheme + "://" + filepath.ToSlash(filepath.Join(c.Dir, p))
	if u.RawQuery != "" {
		out += "?" + u.RawQuery
	}
	return out
}
