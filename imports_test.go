package keyward_test

import (
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/keyward/keyward"

// TestImportRules enforces the layering docs/design.md describes, on every
// non-test Go file of the module:
//
//   - the root package imports, of this module, only driver;
//   - driver imports nothing of this module; the leaf libraries
//     internal/{dotenv,redact,fsutil,cloudsm} import at most the root package
//     and driver (for error codes);
//   - a provider never imports another provider (provider/all excepted) or
//     the CLI;
//   - no library imports internal/cli: only internal/cli itself and cmd/ do.
func TestImportRules(t *testing.T) {
	pkgs := modulePackages(t)
	if len(pkgs) < 20 {
		t.Fatalf("found only %d packages; the walk is broken", len(pkgs))
	}
	leaf := map[string]bool{"driver": true, "internal/dotenv": true, "internal/redact": true, "internal/fsutil": true, "internal/cloudsm": true}
	checked := 0
	for rel, imports := range pkgs {
		for _, imp := range imports {
			if imp != module && !strings.HasPrefix(imp, module+"/") {
				continue
			}
			dep := strings.TrimPrefix(strings.TrimPrefix(imp, module), "/")
			checked++
			switch {
			case rel == "" && dep != "driver":
				t.Errorf("the root package imports %s; it may import only driver", imp)
			case leaf[rel] && dep != "" && (rel == "driver" || dep != "driver"):
				t.Errorf("%s is a leaf library but imports %s", rel, imp)
			case isProvider(rel) && rel != "provider/all" && isProvider(dep):
				t.Errorf("provider %s imports provider %s; providers never import each other", rel, dep)
			case isCLI(dep) && !isCLI(rel) && !strings.HasPrefix(rel, "cmd/"):
				t.Errorf("library %s imports the CLI package %s", rel, dep)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no in-module imports seen; the walk is broken")
	}
}

func isProvider(rel string) bool { return strings.HasPrefix(rel, "provider/") }
func isCLI(rel string) bool      { return rel == "internal/cli" || strings.HasPrefix(rel, "internal/cli/") }

// modulePackages maps each package directory (relative to the module root,
// "" for the root) to the imports of its non-test files.
func modulePackages(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != "." && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata") {
			return filepath.SkipDir
		}
		ctx := build.Default
		ctx.UseAllFiles = true // every build-tagged variant counts
		p, err := ctx.ImportDir(path, 0)
		if err != nil {
			var noGo *build.NoGoError
			if ok := asNoGo(err, &noGo); ok {
				return nil
			}
			// Mixed package names (e.g. package main and a test helper) are
			// reported per file; fall back to the default context.
			if p, err = build.Default.ImportDir(path, 0); err != nil {
				return nil
			}
		}
		rel := filepath.ToSlash(path)
		if rel == "." {
			rel = ""
		}
		out[rel] = p.Imports
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("go.mod"); err != nil {
		t.Fatal("run from the module root:", err)
	}
	return out
}

func asNoGo(err error, target **build.NoGoError) bool {
	e, ok := err.(*build.NoGoError)
	if ok {
		*target = e
	}
	return ok
}
