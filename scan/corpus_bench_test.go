package scan

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkScanRepoBlobs scans, in memory, every distinct blob of the git
// repository named by $KEYWARD_BENCH_REPO (for example a clone of gitleaks,
// whose history is full of test credentials): the scanning cost of
// `keyward scan --history` without git's. Skipped when the variable is
// unset. bench/scan.md has the figures.
func BenchmarkScanRepoBlobs(b *testing.B) {
	repo := os.Getenv("KEYWARD_BENCH_REPO")
	if repo == "" {
		b.Skip("set KEYWARD_BENCH_REPO to a git repository")
	}
	type blob struct {
		path string
		data []byte
	}
	rl, err := exec.Command("git", "-C", repo, "rev-list", "--all", "--objects", "--filter=object:type=blob", "--filter-provided-objects").Output()
	if err != nil {
		b.Fatal(err)
	}
	var req bytes.Buffer
	for _, l := range bytes.Split(rl, []byte{'\n'}) {
		if bytes.IndexByte(l, ' ') > 0 {
			req.Write(l)
			req.WriteByte('\n')
		}
	}
	cmd := exec.Command("git", "-C", repo, "cat-file", "--batch=%(objecttype) %(objectname) %(objectsize) %(rest)")
	cmd.Stdin = &req
	out, err := cmd.Output()
	if err != nil {
		b.Fatal(err)
	}
	br := bufio.NewReader(bytes.NewReader(out))
	var blobs []blob
	var total int64
	for {
		hdr, err := br.ReadString('\n')
		if err == io.EOF {
			break
		}
		f := strings.SplitN(strings.TrimSuffix(hdr, "\n"), " ", 4)
		n, _ := strconv.Atoi(f[2])
		data := make([]byte, n+1)
		if _, err := io.ReadFull(br, data); err != nil {
			b.Fatal(err)
		}
		if n > DefaultMaxFileSize {
			continue
		}
		p := ""
		if len(f) == 4 {
			p = f[3]
		}
		blobs = append(blobs, blob{p, data[:n]})
		total += int64(n)
	}
	b.SetBytes(total)
	var found int
	for b.Loop() {
		s, err := New(Options{}) // a cold window cache, as in one CLI run
		if err != nil {
			b.Fatal(err)
		}
		found = 0
		for _, bl := range blobs {
			found += len(s.ScanBytes(bl.data, bl.path))
		}
	}
	b.ReportMetric(float64(found), "matches")
}

// BenchmarkScanHistoryRepo is `keyward scan --history --no-managed` on
// $KEYWARD_BENCH_REPO, git included. Skipped when the variable is unset.
func BenchmarkScanHistoryRepo(b *testing.B) {
	repo := os.Getenv("KEYWARD_BENCH_REPO")
	if repo == "" {
		b.Skip("set KEYWARD_BENCH_REPO to a git repository")
	}
	var n int
	for b.Loop() {
		s, err := New(Options{}) // a cold window cache, as in one CLI run
		if err != nil {
			b.Fatal(err)
		}
		rep, err := s.ScanHistory(context.Background(), repo, SourceOptions{})
		if err != nil {
			b.Fatal(err)
		}
		n = len(rep.Findings)
	}
	b.ReportMetric(float64(n), "findings")
}
