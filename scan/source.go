package scan

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/fsutil"
)

// DefaultMaxFileSize is the largest file or blob scanned by default.
const DefaultMaxFileSize = 32 << 20

// SourceOptions control where a scan reads from.
type SourceOptions struct {
	// NoIgnore scans files git ignores (and is the only mode outside a
	// repository).
	NoIgnore bool
	// MaxFileSize skips larger files and blobs (reported as warnings).
	// Zero means DefaultMaxFileSize.
	MaxFileSize int64
	// Workers scanning in parallel; zero means GOMAXPROCS.
	Workers int
	// Progress, if set, is called from time to time with the files (or
	// blobs) and bytes scanned so far. It must be safe for concurrent use.
	Progress func(files, bytes int64)
	// Git is the git binary; empty means "git" on PATH.
	Git string
}

// Report is the outcome of a scan.
type Report struct {
	Findings []Finding
	// Warnings are problems that did not stop the scan: unreadable files,
	// skipped huge files, missing objects, a shallow clone.
	Warnings []string
	Files    int64 // files or blobs scanned
	Bytes    int64
}

type job struct {
	path string
	blob string
	data []byte
}

type runner struct {
	s        *Scanner
	o        SourceOptions
	mu       sync.Mutex
	rep      Report
	files    atomic.Int64
	bytes    atomic.Int64
	blobHits map[string][]Finding // history: findings per blob
	blobCtx  map[string][]uint64  // history: lineHash of each blobHits entry
}

func (s *Scanner) newRunner(o SourceOptions) *runner {
	if o.MaxFileSize <= 0 {
		o.MaxFileSize = DefaultMaxFileSize
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Git == "" {
		o.Git = "git"
	}
	return &runner{s: s, o: o}
}

func (r *runner) warn(format string, args ...any) {
	r.mu.Lock()
	r.rep.Warnings = append(r.rep.Warnings, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

func (r *runner) scanJob(j job) {
	ms := r.s.ScanBytes(j.data, j.path)
	n := r.files.Add(1)
	b := r.bytes.Add(int64(len(j.data)))
	if r.o.Progress != nil && n%64 == 0 {
		r.o.Progress(n, b)
	}
	if len(ms) == 0 {
		return
	}
	fs := findings(j.data, j.path, ms)
	r.mu.Lock()
	if j.blob != "" {
		if r.blobHits == nil {
			r.blobHits = map[string][]Finding{}
		}
		if r.blobCtx == nil {
			r.blobCtx = map[string][]uint64{}
		}
		for i := range fs {
			fs[i].Blob = j.blob
			r.blobCtx[j.blob] = append(r.blobCtx[j.blob], lineHash(j.data, ms[i]))
		}
		r.blobHits[j.blob] = append(r.blobHits[j.blob], fs...)
	} else {
		r.rep.Findings = append(r.rep.Findings, fs...)
	}
	r.mu.Unlock()
}

// pool runs scanJob on jobs with o.Workers goroutines until feed returns.
func (r *runner) pool(feed func(chan<- job) error) error {
	jobs := make(chan job, r.o.Workers)
	var wg sync.WaitGroup
	for i := 0; i < r.o.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				r.scanJob(j)
			}
		}()
	}
	err := feed(jobs)
	close(jobs)
	wg.Wait()
	return err
}

func (r *runner) report() *Report {
	r.rep.Files, r.rep.Bytes = r.files.Load(), r.bytes.Load()
	if r.o.Progress != nil {
		r.o.Progress(r.rep.Files, r.rep.Bytes)
	}
	SortFindings(r.rep.Findings)
	return &r.rep
}

// git runs git in dir and returns its stdout.
func (r *runner) git(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, r.o.Git, append([]string{"-C", dir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, gitError(args, err, stderr.Bytes())
	}
	return out, nil
}

func gitError(args []string, err error, stderr []byte) error {
	msg := strings.TrimSpace(firstLine(string(stderr)))
	if msg == "" {
		msg = err.Error()
	}
	verb := "git"
	if len(args) > 0 {
		verb = "git " + args[0]
	}
	return fmt.Errorf("keyward: failed to run %s: %s", verb, msg)
}

// ScanTree scans the files under each path (a directory or a file). Inside
// a git work tree, files git ignores are skipped unless NoIgnore is set.
// Symbolic links are never followed, so nothing outside the given roots is
// read; binary files are searched for managed values only; files larger
// than MaxFileSize and unreadable files are reported as warnings and the
// scan goes on. A path that does not exist is an error.
func (s *Scanner) ScanTree(ctx context.Context, paths []string, o SourceOptions) (*Report, error) {
	r := s.newRunner(o)
	if len(paths) == 0 {
		paths = []string{"."}
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return nil, pathError(p, err)
		}
	}
	err := r.pool(func(jobs chan<- job) error {
		for _, root := range paths {
			if err := r.walk(ctx, root, jobs); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r.report(), nil
}

// pathError is a scan root that cannot be read: NotFound when it does not
// exist (exit 3 in the CLI).
func pathError(p string, err error) error {
	return keyward.Errorf(fsutil.Code(err), "scan "+p, "%v", fsutil.StripPath(err))
}

func (r *runner) walk(ctx context.Context, root string, jobs chan<- job) error {
	// A root the user named is followed if it is a symbolic link; nothing
	// below it is.
	fi, err := os.Stat(root)
	if err != nil {
		return pathError(root, err)
	}
	if !fi.IsDir() {
		r.file(root, fi, jobs)
		return nil
	}
	walkRoot := root
	if lfi, err := os.Lstat(root); err == nil && lfi.Mode()&os.ModeSymlink != 0 {
		if real, err := filepath.EvalSymlinks(root); err == nil {
			walkRoot = real
		}
	}
	if !r.o.NoIgnore {
		if out, err := r.git(ctx, root, "rev-parse", "--is-inside-work-tree"); err == nil && strings.TrimSpace(string(out)) == "true" {
			list, err := r.git(ctx, root, "-c", "core.quotePath=false", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
			if err != nil {
				return err
			}
			for _, rel := range bytes.Split(list, []byte{0}) {
				if len(rel) == 0 {
					continue
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				p := filepath.Join(root, filepath.FromSlash(string(rel)))
				fi, err := os.Lstat(p)
				if err != nil {
					if !os.IsNotExist(err) {
						r.warn("%s: %v", p, fsutil.StripPath(err))
					}
					continue // tracked but deleted in the work tree
				}
				r.file(p, fi, jobs)
			}
			return nil
		}
	}
	return filepath.WalkDir(walkRoot, func(p string, d fs.DirEntry, err error) error {
		if walkRoot != root {
			if rel, rerr := filepath.Rel(walkRoot, p); rerr == nil {
				p = filepath.Join(root, rel)
			}
		}
		if err != nil {
			r.warn("%s: %v", p, fsutil.StripPath(err))
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if d.IsDir() {
			if d.Name() == ".git" && p != root && p != walkRoot {
				return fs.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			r.warn("%s: %v", p, fsutil.StripPath(err))
			return nil
		}
		r.file(p, fi, jobs)
		return nil
	})
}

// file queues one regular file; symlinks, devices and the like are skipped.
func (r *runner) file(p string, fi fs.FileInfo, jobs chan<- job) {
	if !fi.Mode().IsRegular() {
		return
	}
	if fi.Size() > r.o.MaxFileSize {
		r.warn("%s: skipped: %d bytes is larger than the %d-byte limit", p, fi.Size(), r.o.MaxFileSize)
		return
	}
	// Read through fsutil: the file was a regular file when listed, but a
	// FIFO swapped in since then must not block the scan.
	data, err := fsutil.ReadFile(p, r.o.MaxFileSize)
	if err != nil {
		var fe *fsutil.Error
		if errors.As(err, &fe) {
			r.warn("%v: skipped", err)
			return
		}
		r.warn("%s: %v", p, fsutil.StripPath(err))
		return
	}
	jobs <- job{path: p, data: data}
}

// gitDir checks dir is in a git repository and returns its top level.
func (r *runner) topLevel(ctx context.Context, dir string) (string, error) {
	if _, err := os.Stat(dir); err != nil {
		return "", pathError(dir, err)
	}
	out, err := r.git(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return "", fmt.Errorf("%w (is %s in a git repository?)", err, dir)
	}
	return strings.TrimSpace(string(out)), nil
}

// ScanStaged scans what is staged for the next commit in the repository at
// dir: the index's blobs of every added, copied, modified, renamed or
// type-changed path. Paths in findings are relative to the top level.
func (s *Scanner) ScanStaged(ctx context.Context, dir string, o SourceOptions) (*Report, error) {
	r := s.newRunner(o)
	top, err := r.topLevel(ctx, dir)
	if err != nil {
		return nil, err
	}
	names, err := r.git(ctx, top, "-c", "core.quotePath=false", "diff", "--cached", "--name-only", "-z", "--no-renames", "--diff-filter=ACMRT")
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, n := range bytes.Split(names, []byte{0}) {
		if len(n) > 0 {
			want[string(n)] = true
		}
	}
	if len(want) == 0 {
		return r.report(), nil
	}
	stage, err := r.git(ctx, top, "-c", "core.quotePath=false", "ls-files", "--stage", "-z")
	if err != nil {
		return nil, err
	}
	var req bytes.Buffer
	for _, e := range bytes.Split(stage, []byte{0}) {
		// "<mode> <sha> <stage>\t<path>"
		tab := bytes.IndexByte(e, '\t')
		if tab < 0 {
			continue
		}
		f := strings.Fields(string(e[:tab]))
		path := string(e[tab+1:])
		if len(f) != 3 || !want[path] || f[0] == "160000" || f[0] == "120000" {
			continue
		}
		fmt.Fprintf(&req, "%s %s\n", f[1], path)
	}
	err = r.pool(func(jobs chan<- job) error {
		return r.catFile(ctx, top, &req, jobs, false)
	})
	if err != nil {
		return nil, err
	}
	return r.report(), nil
}

// catFile streams `git cat-file --batch` for the object names (each line
// "<sha> <path>") read from in, and queues every blob. history marks jobs
// with their blob id.
func (r *runner) catFile(ctx context.Context, top string, in io.Reader, jobs chan<- job, history bool) error {
	cmd := exec.CommandContext(ctx, r.o.Git, "-C", top, "cat-file", "--batch=%(objecttype) %(objectname) %(objectsize) %(rest)")
	cmd.Stdin = in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("keyward: failed to run git cat-file: %w", err)
	}
	rerr := r.readBatch(bufio.NewReaderSize(out, 1<<16), jobs, history)
	if rerr != nil {
		_, _ = io.Copy(io.Discard, out)
	}
	werr := cmd.Wait()
	if rerr != nil {
		return rerr
	}
	if werr != nil {
		return gitError([]string{"cat-file"}, werr, stderr.Bytes())
	}
	return nil
}

func (r *runner) readBatch(br *bufio.Reader, jobs chan<- job, history bool) error {
	for {
		hdr, err := br.ReadString('\n')
		if err == io.EOF && hdr == "" {
			return nil
		}
		if err != nil {
			return fmt.Errorf("keyward: failed to read git objects: %w", err)
		}
		hdr = strings.TrimSuffix(hdr, "\n")
		f := strings.SplitN(hdr, " ", 4)
		if len(f) >= 2 && (f[1] == "missing" || f[1] == "ambiguous") {
			r.warn("object %s is %s (corrupt or incomplete repository)", f[0], f[1])
			continue
		}
		if len(f) < 3 {
			return fmt.Errorf("keyward: failed to read git objects: unexpected header %q", hdr)
		}
		size, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return fmt.Errorf("keyward: failed to read git objects: bad size in %q", hdr)
		}
		path := ""
		if len(f) == 4 {
			path = f[3]
		}
		if f[0] != "blob" || size > r.o.MaxFileSize {
			if f[0] == "blob" {
				r.warn("%s (blob %s): skipped: %d bytes is larger than the %d-byte limit", path, short(f[1]), size, r.o.MaxFileSize)
			}
			if _, err := br.Discard(int(size) + 1); err != nil {
				return fmt.Errorf("keyward: failed to read git objects: %w", err)
			}
			continue
		}
		data := make([]byte, size+1)
		if _, err := io.ReadFull(br, data); err != nil {
			return fmt.Errorf("keyward: failed to read git objects: %w", err)
		}
		j := job{path: path, data: data[:size]}
		if history {
			j.blob = f[1]
		}
		jobs <- j
	}
}
