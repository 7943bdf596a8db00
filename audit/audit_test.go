package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/provider/mem"
)

func newLog(t *testing.T, n int) (string, []byte) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(Options{Path: p, NoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := l.Append(context.Background(), &Record{Action: "get", Key: fmt.Sprintf("K%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return p, b
}

func lines(b []byte) [][]byte { return bytes.SplitAfter(bytes.TrimSuffix(b, nil), []byte{'\n'}) }

func join(ls [][]byte) []byte { return bytes.Join(ls, nil) }

func TestVerifyIntact(t *testing.T) {
	_, b := newLog(t, 10)
	res, err := Verify(bytes.NewReader(b), nil)
	if err != nil || res.Records != 10 || res.Head.Seq != 10 {
		t.Fatalf("intact log: %v %+v", err, res)
	}
	if _, err := Verify(bytes.NewReader(b), &res.Head); err != nil {
		t.Fatalf("intact log against its own head: %v", err)
	}
}

func TestVerifyCatchesTampering(t *testing.T) {
	_, b := newLog(t, 6)
	ls := lines(b)
	ls = ls[:len(ls)-1] // SplitAfter leaves an empty tail
	head, _ := Verify(bytes.NewReader(b), nil)
	edit := func(i int, from, to string) [][]byte {
		c := append([][]byte(nil), ls...)
		c[i] = bytes.Replace(c[i], []byte(from), []byte(to), 1)
		return c
	}
	for _, tc := range []struct {
		name     string
		log      []byte
		anchor   *Anchor
		wantLine int
	}{
		{"edited key", join(edit(2, `"key":"K2"`, `"key":"K9"`)), nil, 3},
		{"edited last record", join(edit(5, `"key":"K5"`, `"key":"KX"`)), nil, 6},
		{"deleted record", join(append(append([][]byte{}, ls[:2]...), ls[3:]...)), nil, 3},
		{"inserted copy", join(append(append(append([][]byte{}, ls[:3]...), ls[1]), ls[3:]...)), nil, 4},
		{"reordered", join([][]byte{ls[0], ls[2], ls[1], ls[3], ls[4], ls[5]}), nil, 2},
		{"partial last line", join(append(append([][]byte{}, ls[:5]...), ls[5][:20])), nil, 6},
		{"truncated whole records", join(ls[:4]), &head.Head, 0},
		{"broken json", join(edit(1, `{"v":1`, `{"v":1,`)), nil, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(bytes.NewReader(tc.log), tc.anchor)
			var p *Problem
			if !errors.As(err, &p) {
				t.Fatalf("tampering not detected: %v", err)
			}
			if p.Line != tc.wantLine {
				t.Fatalf("first bad line = %d (%s), want %d", p.Line, p.Reason, tc.wantLine)
			}
		})
	}
}

// TestConcurrentProcesses: 8 processes × 1,000 appends give 8,000 valid records.
func TestConcurrentProcesses(t *testing.T) {
	if os.Getenv("KEYWARD_AUDIT_CHILD") != "" {
		t.Skip("child")
	}
	p := filepath.Join(t.TempDir(), "audit.log")
	const procs, per = 8, 1000
	var wg sync.WaitGroup
	errs := make(chan error, procs)
	for i := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestAppendChild$")
			cmd.Env = append(os.Environ(), "KEYWARD_AUDIT_CHILD="+p, "KEYWARD_AUDIT_N="+strconv.Itoa(per), "KEYWARD_AUDIT_ID="+strconv.Itoa(i))
			if out, err := cmd.CombinedOutput(); err != nil {
				errs <- fmt.Errorf("child %d: %v: %s", i, err, out)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := Verify(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != procs*per {
		t.Fatalf("%d records, want %d", res.Records, procs*per)
	}
}

func TestAppendChild(t *testing.T) {
	p := os.Getenv("KEYWARD_AUDIT_CHILD")
	if p == "" {
		t.Skip("only run as a child of TestConcurrentProcesses")
	}
	n, _ := strconv.Atoi(os.Getenv("KEYWARD_AUDIT_N"))
	l, err := Open(Options{Path: p, NoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := range n {
		if err := l.Append(context.Background(), &Record{Action: "get", Key: "K" + os.Getenv("KEYWARD_AUDIT_ID") + "-" + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestHookNeverRecordsValuesAndHMACs(t *testing.T) {
	const canary = "KWCANARY-audit-hook-value"
	p := filepath.Join(t.TempDir(), "audit.log")
	key := []byte("0123456789abcdef0123456789abcdef")
	var slogBuf bytes.Buffer
	l, err := Open(Options{Path: p, NoFsync: true, Key: key, Sinks: []Sink{SlogSink{slog.NewJSONHandler(&slogBuf, nil)}}})
	if err != nil {
		t.Fatal(err)
	}
	s := mem.NewBackend().OpenStore(&keyward.StoreOptions{Audit: l.Hook, URL: "mem://audit", Environment: "production"})
	ctx := context.Background()
	if _, err := s.Put(ctx, "JWT_SECRET_KEY", keyward.NewSecretString(canary), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "JWT_SECRET_KEY"); err != nil {
		t.Fatal(err)
	}
	_, _ = s.Get(ctx, "MISSING")
	l.Close()
	b, _ := os.ReadFile(p)
	if bytes.Contains(b, []byte(canary)) || bytes.Contains(slogBuf.Bytes(), []byte(canary)) {
		t.Fatalf("an audit record contains the secret value")
	}
	recs, err := Search(bytes.NewReader(b), Filter{HMAC: ValueHMAC(key, []byte(canary))}, 0)
	if err != nil || len(recs) != 2 {
		t.Fatalf("HMAC search found %d records (%v), want the put and the get", len(recs), err)
	}
	if recs[1].Action != "get" || recs[1].Env != "production" || recs[1].Store != "mem://audit" || recs[1].Actor.PID != os.Getpid() {
		t.Fatalf("record fields wrong: %+v", recs[1])
	}
	miss, _ := Search(bytes.NewReader(b), Filter{Key: "MISSING"}, 0)
	if len(miss) != 1 || miss[0].Outcome != "error" || miss[0].Code != "not found" {
		t.Fatalf("failed get must be recorded with its code: %+v", miss)
	}
	if !strings.Contains(slogBuf.String(), `"action":"get"`) {
		t.Fatalf("slog sink did not receive records")
	}
}

func TestFailClosedWhenUnwritable(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "audit.log")
	l, err := Open(Options{Path: p, NoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	l.Close() // every append now fails
	b := mem.NewBackend()
	seed := b.OpenStore(nil)
	_, _ = seed.Put(context.Background(), "K", keyward.NewSecretString("v"), nil)
	s := b.OpenStore(&keyward.StoreOptions{Audit: l.Hook, AuditRequired: true})
	if _, err := s.Get(context.Background(), "K"); !errors.Is(err, keyward.ErrFailedPrecondition) {
		t.Fatalf("read with an unwritable required audit log: %v, want denial", err)
	}
	s2 := b.OpenStore(&keyward.StoreOptions{Audit: l.Hook})
	if _, err := s2.Get(context.Background(), "K"); err != nil {
		t.Fatalf("without required, a failing audit must not block reads: %v", err)
	}
}

func TestMergeRepoCannotDisable(t *testing.T) {
	env := map[string]string{"HOME": "/home/u"}
	getenv := func(k string) string { return env[k] }
	off := false
	e := Merge(Config{}, Config{Enabled: &off, File: "/dev/null"}, getenv)
	if !e.Enabled || e.File == "/dev/null" {
		t.Fatalf("a repository switched audit off or moved it: %+v", e)
	}
	e = Merge(Config{Enabled: &off}, Config{}, getenv)
	if e.Enabled {
		t.Fatalf("the user's own config must be able to switch audit off")
	}
	e = Merge(Config{Enabled: &off}, Config{Required: true}, getenv)
	if !e.Enabled || !e.Required {
		t.Fatalf("a project that requires audit must get it")
	}
}

func TestAnchorParse(t *testing.T) {
	a := Anchor{Seq: 5, Hash: strings.Repeat("ab", 32)}
	b, err := ParseAnchor(a.String())
	if err != nil || b != a {
		t.Fatalf("round trip: %v %v", b, err)
	}
	if _, err := ParseAnchor("5:xyz"); err == nil {
		t.Fatalf("bad anchor accepted")
	}
}

func FuzzVerify(f *testing.F) {
	p := filepath.Join(f.TempDir(), "a.log")
	l, _ := Open(Options{Path: p, NoFsync: true, Clock: func() time.Time { return time.Unix(0, 0) }})
	for i := range 3 {
		_ = l.Append(context.Background(), &Record{Action: "get", Key: strconv.Itoa(i)})
	}
	l.Close()
	b, _ := os.ReadFile(p)
	f.Add(b)
	f.Add([]byte("{}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Verify(bytes.NewReader(data), nil)
		if err == nil && res.Records > 0 && !bytes.HasSuffix(data, []byte{'\n'}) {
			t.Fatalf("accepted a log without a final newline")
		}
		_, _ = Search(bytes.NewReader(data), Filter{}, 5)
	})
}

func BenchmarkAppend(b *testing.B) {
	for _, fsync := range []bool{false, true} {
		b.Run("fsync="+strconv.FormatBool(fsync), func(b *testing.B) {
			l, err := Open(Options{Path: filepath.Join(b.TempDir(), "a.log"), NoFsync: !fsync})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			ctx := context.Background()
			for b.Loop() {
				if err := l.Append(ctx, &Record{Action: "get", Key: "JWT_SECRET_KEY", Store: "local://keyward.age"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestSyncOnCloseWritesAtOnce(t *testing.T) {
	p := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(Options{Path: p, SyncOnClose: true})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := l.Append(context.Background(), &Record{Action: "get", Key: "K"}); err != nil {
			t.Fatal(err)
		}
	}
	f, _ := os.Open(p)
	res, err := Verify(f, nil)
	f.Close()
	if err != nil || res.Records != 3 {
		t.Fatalf("records must be written before Close: %d, %v", res.Records, err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close (with its fsync): %v", err)
	}
}
