// Command redact measures the throughput of keyward run's output filter
// (internal/redact) in CPU time, which a shared machine does not distort
// the way wall time is: MB of child output filtered per CPU second, against
// the same bytes through io.Copy (what cat does).
//
//	go run ./bench/redact -mb 256 -secrets 50
//
// The input is log lines with no secret in them (the common case: every
// byte is scanned, nothing is replaced), delivered in 32 KiB writes as a pipe
// does; -hits plants a secret every N lines.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"syscall"
	"time"

	"github.com/keyward/keyward/internal/redact"
)

func cpu() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sink copies what it is given, as a pipe buffer would; io.Discard would
// make the io.Copy baseline free.
type sink struct{ buf []byte }

func (s *sink) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		p = p[copy(s.buf, p):]
	}
	return n, nil
}

func main() {
	mb := flag.Int("mb", 256, "MiB of output to filter")
	nsec := flag.Int("secrets", 50, "number of 32-byte secrets")
	hits := flag.Int("hits", 0, "plant a secret every N lines (0: never)")
	flag.Parse()

	r := rand.New(rand.NewPCG(1, 2))
	secrets := map[string][]byte{}
	var first []byte
	for i := range *nsec {
		b := make([]byte, 32)
		for j := range b {
			b[j] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[r.IntN(62)]
		}
		if first == nil {
			first = b
		}
		secrets[fmt.Sprintf("SECRET_%03d", i)] = b
	}
	line := []byte("2026-11-27T10:00:00Z INFO request handled path=/api/v1/users status=200 duration=12ms user=alice\n")
	var chunk bytes.Buffer
	for i := 0; chunk.Len() < 1<<20; i++ {
		if *hits > 0 && i%*hits == 0 && first != nil {
			chunk.WriteString("token=" + string(first) + "\n")
			continue
		}
		chunk.Write(line)
	}
	in := chunk.Bytes()
	total := int64(0)
	const w = 32 << 10

	t0 := cpu()
	out := &sink{buf: make([]byte, 64<<10)}
	f, _ := redact.New(out, secrets)
	build := cpu() - t0

	t0 = cpu()
	for range *mb {
		for off := 0; off < len(in); off += w {
			_, _ = f.Write(in[off:min(off+w, len(in))])
		}
		total += int64(len(in))
	}
	_ = f.Close()
	filt := cpu() - t0

	t0 = cpu()
	buf := make([]byte, w)
	for range *mb {
		_, _ = io.CopyBuffer(out, bytes.NewReader(in), buf)
	}
	cat := cpu() - t0

	mbs := func(d time.Duration) float64 { return float64(total) / (1 << 20) / d.Seconds() }
	fmt.Fprintf(os.Stdout, "input\t%d MiB, %d secrets (%d patterns incl. encoded forms), hits every %d lines\n", total>>20, *nsec, len(redact.Forms(first))**nsec, *hits)
	fmt.Fprintf(os.Stdout, "build\t%.1f ms CPU\n", build.Seconds()*1000)
	fmt.Fprintf(os.Stdout, "filter\t%.2f s CPU\t%.0f MiB/CPU-s\n", filt.Seconds(), mbs(filt))
	fmt.Fprintf(os.Stdout, "copy\t%.2f s CPU\t%.0f MiB/CPU-s\n", cat.Seconds(), mbs(cat))
}
