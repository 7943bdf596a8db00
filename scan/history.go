package scan

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"hash/maphash"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Intro is a commit that introduced a blob at a path.
type Intro struct {
	Commit, Path, Author, Email, Date string
	// parent is the blob at Path before the commit ("" for an added file).
	parent string
}

// ScanHistory scans every commit reachable from any ref of the repository
// at dir. Each distinct blob is read and scanned once (git rev-list --all
// --objects piped into one git cat-file --batch), whatever the number of
// commits that contain it; then, only if something was found, one pass over
// `git log --raw` maps each blob with a finding to the commits, paths and
// authors that introduced it, and the report has one finding per
// introduction. A commit that modifies a file introduces only what its
// parent version did not already hold (the same rule or managed value,
// fingerprint and line text, as many times): editing other lines of a file
// that holds a secret does not report the secret again. A shallow clone is scanned as far as it goes (with a
// warning); a repository with no commits has nothing to scan (a warning);
// missing objects are warnings; a repository git cannot walk is an error.
func (s *Scanner) ScanHistory(ctx context.Context, dir string, o SourceOptions) (*Report, error) {
	r := s.newRunner(o)
	top, err := r.topLevel(ctx, dir)
	if err != nil {
		// A bare repository has no top level; accept it as is.
		if out, berr := r.git(ctx, dir, "rev-parse", "--is-bare-repository"); berr == nil && strings.TrimSpace(string(out)) == "true" {
			top = dir
		} else {
			return nil, err
		}
	}
	if out, err := r.git(ctx, top, "rev-parse", "--is-shallow-repository"); err == nil && strings.TrimSpace(string(out)) == "true" {
		r.warn("shallow clone: commits before the shallow boundary are not scanned (git fetch --unshallow)")
	}
	refs, err := r.git(ctx, top, "for-each-ref", "--count=1", "--format=%(objectname)")
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(refs)) == 0 {
		r.warn("repository has no commits: nothing in history to scan")
		return r.report(), nil
	}
	revList := exec.CommandContext(ctx, r.o.Git, "-C", top, "rev-list", "--all", "--objects", "--filter=object:type=blob", "--filter-provided-objects")
	var rlErr bytes.Buffer
	revList.Stderr = &rlErr
	pipe, err := revList.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := revList.Start(); err != nil {
		return nil, fmt.Errorf("keyward: failed to run git rev-list: %w", err)
	}
	// Keep only blob lines ("<sha> <path>"); commits come as "<sha>".
	pr, pw := io.Pipe()
	go func() {
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		bw := bufio.NewWriter(pw)
		for sc.Scan() {
			line := sc.Bytes()
			if bytes.IndexByte(line, ' ') < 0 {
				continue
			}
			bw.Write(line)
			bw.WriteByte('\n')
		}
		bw.Flush()
		pw.CloseWithError(sc.Err())
	}()
	err = r.pool(func(jobs chan<- job) error {
		return r.catFile(ctx, top, pr, jobs, true)
	})
	pr.Close()
	werr := revList.Wait()
	if err != nil {
		return nil, err
	}
	if werr != nil {
		return nil, gitError([]string{"rev-list"}, werr, rlErr.Bytes())
	}
	if len(r.blobHits) > 0 {
		intros, err := r.intros(ctx, top)
		if err != nil {
			return nil, err
		}
		counts := map[string]map[introID]int{}
		countsOf := func(blob string) map[introID]int {
			c, ok := counts[blob]
			if !ok {
				c = map[introID]int{}
				for k, f := range r.blobHits[blob] {
					c[introKey(&f, r.blobCtx[blob][k])]++
				}
				counts[blob] = c
			}
			return c
		}
		for blob, fs := range r.blobHits {
			in := intros[blob]
			if len(in) == 0 {
				r.rep.Findings = append(r.rep.Findings, fs...)
				continue
			}
			for _, i := range in {
				var had, has map[introID]int
				if _, ok := r.blobHits[i.parent]; ok && i.parent != "" {
					had, has = countsOf(i.parent), countsOf(blob)
				}
				for k, f := range fs {
					if id := introKey(&f, r.blobCtx[blob][k]); had != nil && has[id] <= had[id] {
						continue // already in the parent version
					}
					f.Commit, f.Path, f.Author, f.Email, f.Date = i.Commit, i.Path, i.Author, i.Email, utcRFC3339(i.Date)
					r.rep.Findings = append(r.rep.Findings, f)
				}
			}
		}
	}
	return r.report(), nil
}

// intros maps each blob with a finding to the commits that added it (as a
// new file or a modification) at some path.
func (r *runner) intros(ctx context.Context, top string) (map[string][]Intro, error) {
	cmd := exec.CommandContext(ctx, r.o.Git, "-C", top, "-c", "core.quotePath=false", "log", "--all",
		"--no-renames", "--raw", "--no-abbrev", "--format=%x01%H%x00%an%x00%ae%x00%aI")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("keyward: failed to run git log: %w", err)
	}
	res := map[string][]Intro{}
	var cur Intro
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "\x01") {
			f := strings.Split(line[1:], "\x00")
			if len(f) == 4 {
				cur = Intro{Commit: f[0], Author: f[1], Email: f[2], Date: f[3]}
			}
			continue
		}
		// ":100644 100644 <old> <new> M\tpath"
		if !strings.HasPrefix(line, ":") {
			continue
		}
		tab := strings.IndexByte(line, '\t')
		if tab < 0 {
			continue
		}
		f := strings.Fields(line[1:tab])
		if len(f) < 5 || f[4] == "D" {
			continue
		}
		blob := f[3]
		if _, ok := r.blobHits[blob]; !ok {
			continue
		}
		parent := ""
		if f[4] != "A" && strings.Trim(f[2], "0") != "" {
			parent = f[2]
		}
		path := line[tab+1:]
		if strings.HasPrefix(path, `"`) {
			if p, err := strconv.Unquote(path); err == nil {
				path = p
			}
		}
		in := cur
		in.Path, in.parent = path, parent
		res[blob] = append(res[blob], in)
	}
	serr := sc.Err()
	if serr != nil {
		_, _ = io.Copy(io.Discard, out)
	}
	if err := cmd.Wait(); err != nil {
		return nil, gitError([]string{"log"}, err, stderr.Bytes())
	}
	if serr != nil {
		return nil, fmt.Errorf("keyward: failed to read git log: %w", serr)
	}
	return res, nil
}

// utcRFC3339 writes git's ISO 8601 author date (2026-12-01T09:21:24+01:00)
// in the one timestamp form every keyward verb prints: RFC 3339 in UTC.
func utcRFC3339(d string) string {
	t, err := time.Parse(time.RFC3339, d)
	if err != nil {
		return d
	}
	return t.UTC().Format(time.RFC3339)
}

// introID is what a finding is and the text of its lines, without where:
// the kind, the rule or managed key, the fingerprint and a hash of the
// lines the match spans. A commit introduces a finding when its version of
// the file holds more of them than the parent version: an added or edited
// line with the secret, not an untouched one (as in the commit's diff).
type introID struct {
	what string
	line uint64
}

func introKey(f *Finding, line uint64) introID {
	return introID{f.Kind + "\x00" + f.Name() + "\x00" + f.Encoding + "\x00" + f.Fingerprint, line}
}

var lineSeed = maphash.MakeSeed()

// lineHash hashes the whole lines that match m spans in data.
func lineHash(data []byte, m Match) uint64 {
	lo := bytes.LastIndexByte(data[:m.Start], '\n') + 1
	hi := bytes.IndexByte(data[m.End:], '\n')
	if hi < 0 {
		hi = len(data)
	} else {
		hi += m.End
	}
	return maphash.Bytes(lineSeed, data[lo:hi])
}
