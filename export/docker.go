package export

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/fsutil"
)

// DefaultMountDir is where Docker and Swarm mount secrets in a container.
const DefaultMountDir = "/run/secrets"

// FileMapping ties a key to its Docker secret: the secret (and file) name,
// the KEY_FILE variable the application reads, and the path in the container.
type FileMapping struct {
	Key  string `json:"key"`
	Name string `json:"name"` // docker secret name and file name: lower-case key
	Var  string `json:"var"`  // KEY_FILE
	Path string `json:"path"` // /run/secrets/name
}

// DockerName is the Docker secret (and file) name for a key: the key in
// lower case, as the guide's jwt_secret and db_url are. A key must be
// letters, digits and _ . - (and not "." or "..") to be a file name.
func DockerName(key string) (string, error) {
	if key == "" || key == "." || key == ".." || len(key) > 255 {
		return "", keyError(FormatDocker, key, "cannot be a file name")
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c == '_' || c == '.' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return "", keyError(FormatDocker, key, "cannot be a Docker secret name (use letters, digits and _ . -)")
		}
	}
	return strings.ToLower(key), nil
}

// DockerMappings maps keys (sorted) to their secret files under mountDir
// (DefaultMountDir when empty). Two keys that differ only in case would
// share a file, which is an error.
func DockerMappings(keys []string, mountDir string) ([]FileMapping, error) {
	if mountDir == "" {
		mountDir = DefaultMountDir
	}
	ks := append([]string(nil), keys...)
	es := make([]Entry, len(ks))
	for i, k := range ks {
		es[i].Key = k
	}
	Sort(es)
	owner := map[string]string{}
	out := make([]FileMapping, 0, len(es))
	for _, e := range es {
		name, err := DockerName(e.Key)
		if err != nil {
			return nil, err
		}
		if prev, dup := owner[name]; dup {
			return nil, keyError(FormatDocker, e.Key, "would share the file %q with %q (file names are lower case)", name, prev)
		}
		owner[name] = e.Key
		out = append(out, FileMapping{Key: e.Key, Name: name, Var: e.Key + "_FILE", Path: path.Join(mountDir, name)})
	}
	return out, nil
}

// DockerOptions control WriteDocker.
type DockerOptions struct {
	// Force allows a directory that already has files in it. Files named
	// like a secret are replaced (atomically); others are left alone.
	Force bool
	// MountDir is the directory the secrets are mounted at in the container
	// (DefaultMountDir when empty); it only shapes the returned mapping.
	MountDir string
}

// WriteDocker writes one file per secret into dir, for Docker and Swarm
// secrets (docker secret create NAME FILE, or a compose file: entry). dir
// is created 0700 when missing and set to 0700 when it exists; each file is
// created 0400 through a temporary file and a rename, with every path
// resolved inside dir (os.Root), so a symlink in it cannot redirect a write.
//
// It refuses a dir that is a symlink or world-writable, always, and a dir
// that is not empty unless o.Force. Every key is checked before anything is
// written.
func WriteDocker(dir string, es []Entry, o DockerOptions) ([]FileMapping, error) {
	es = sorted(es)
	if err := checkDuplicates(FormatDocker, es); err != nil {
		return nil, err
	}
	keys := make([]string, len(es))
	for i, e := range es {
		keys[i] = e.Key
	}
	maps, err := DockerMappings(keys, o.MountDir)
	if err != nil {
		return nil, err
	}
	if err := prepareDir(dir, o.Force); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, dirError(dir, "open", err)
	}
	defer root.Close()
	// The directory could have been swapped for a symlink between the check
	// and OpenRoot; check what was opened.
	if fi, err := root.Stat("."); err != nil || fi.Mode().Perm()&0o002 != 0 {
		return nil, keyward.Errorf(keyward.FailedPrecondition, "export", "directory %s changed while it was being checked", dir)
	}
	for i, e := range es {
		if err := fsutil.WriteFileIn(root, maps[i].Name, e.Value.Reveal(), &fsutil.WriteOptions{Perm: 0o400}); err != nil {
			return nil, keyward.Errorf(fsutil.Code(err), "export", "failed to write the file for %q in %s: %v", e.Key, dir, fsutil.StripPath(err))
		}
	}
	return maps, nil
}

func prepareDir(dir string, force bool) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return dirError(dir, "create", err)
		}
		fi, err = os.Lstat(dir)
	}
	if err != nil {
		return dirError(dir, "inspect", err)
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return keyward.Errorf(keyward.FailedPrecondition, "export", "%s is a symbolic link; keyward writes secrets only into a real directory", dir)
	case !fi.IsDir():
		return keyward.Errorf(keyward.FailedPrecondition, "export", "%s is not a directory", dir)
	case fi.Mode().Perm()&0o002 != 0:
		return keyward.Errorf(keyward.FailedPrecondition, "export", "%s is world-writable (mode %#o); anyone could replace a secret file in it", dir, fi.Mode().Perm())
	}
	fsutil.SweepTemps(dir, time.Now())
	ents, err := os.ReadDir(dir)
	if err != nil {
		return dirError(dir, "read", err)
	}
	if len(ents) > 0 && !force {
		return keyward.Errorf(keyward.FailedPrecondition, "export", "%s is not empty (%d entries); use --force to write into it anyway", dir, len(ents))
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return dirError(dir, "chmod", err)
		}
	}
	return nil
}

func dirError(dir, op string, err error) error {
	return keyward.Errorf(fsutil.Code(err), "export", "cannot %s directory %s: %v", op, dir, fsutil.StripPath(err))
}
