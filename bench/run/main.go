// Command run is the Go half of bench/run/run.sh: it times commands when
// hyperfine is not installed, and turns the timings (hyperfine's --export-json
// format, which its own timer also writes) into the figures of bench/run.md:
// mean, median, the milliseconds `keyward run` adds over the bare command,
// and the ratio.
//
//	go run ./bench/run time -n 200 -o out.json -- 'bare::true' 'keyward::keyward run -- true'
//	go run ./bench/run report out.json [more.json...]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"
)

// Result mirrors one entry of hyperfine's --export-json "results" (seconds).
type Result struct {
	Command string    `json:"command"`
	Mean    float64   `json:"mean"`
	Stddev  float64   `json:"stddev"`
	Median  float64   `json:"median"`
	Min     float64   `json:"min"`
	Max     float64   `json:"max"`
	Times   []float64 `json:"times"`
}

type export struct {
	Results []Result `json:"results"`
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "time":
		timeCmd(os.Args[2:])
	case "report":
		if len(os.Args) < 3 {
			usage()
		}
		report(os.Args[2:])
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: run time [-n N] [-warmup W] -o FILE -- NAME::COMMAND...\n       run report FILE...")
	os.Exit(2)
}

// timeCmd runs each command (split on spaces, no shell) N times after W
// warm-up runs, interleaving the commands so drift hits all alike.
func timeCmd(args []string) {
	fs := flag.NewFlagSet("time", flag.ExitOnError)
	n := fs.Int("n", 200, "runs per command")
	warm := fs.Int("warmup", 10, "warm-up runs per command")
	out := fs.String("o", "", "write hyperfine-style JSON here")
	fs.Parse(args)
	if *out == "" || fs.NArg() == 0 {
		usage()
	}
	type cmd struct {
		name string
		argv []string
	}
	var cmds []cmd
	for _, a := range fs.Args() {
		name, line, ok := strings.Cut(a, "::")
		if !ok {
			usage()
		}
		cmds = append(cmds, cmd{name, strings.Fields(line)})
	}
	runOnce := func(argv []string) float64 {
		c := exec.Command(argv[0], argv[1:]...)
		start := time.Now()
		if err := c.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", strings.Join(argv, " "), err)
			os.Exit(1)
		}
		return time.Since(start).Seconds()
	}
	times := make([][]float64, len(cmds))
	for i := 0; i < *warm+*n; i++ {
		for j, c := range cmds {
			t := runOnce(c.argv)
			if i >= *warm {
				times[j] = append(times[j], t)
			}
		}
	}
	var e export
	for j, c := range cmds {
		e.Results = append(e.Results, summarize(c.name, times[j]))
	}
	b, _ := json.MarshalIndent(e, "", "  ")
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func summarize(name string, ts []float64) Result {
	s := append([]float64(nil), ts...)
	sort.Float64s(s)
	var sum float64
	for _, t := range s {
		sum += t
	}
	mean := sum / float64(len(s))
	var v float64
	for _, t := range s {
		v += (t - mean) * (t - mean)
	}
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Result{Command: name, Mean: mean, Stddev: math.Sqrt(v / float64(max(len(s)-1, 1))), Median: med, Min: s[0], Max: s[len(s)-1], Times: ts}
}

// report prints a Markdown table of the results of every file, merging the
// times of a command timed in several files (alternating rounds); the
// first command is the baseline. A command whose name ends in "via env)" is compared
// with the command named "env true" instead (it runs through env(1) to set
// a variable). Then each keyward run's added time (and the run-essentials
// floor's) as a share of sops'.
func report(paths []string) {
	var order []string
	times := map[string][]float64{}
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		var one export
		if err := json.Unmarshal(b, &one); err != nil || len(one.Results) == 0 {
			fmt.Fprintf(os.Stderr, "%s: not a timing export: %v\n", path, err)
			os.Exit(1)
		}
		for _, r := range one.Results {
			if _, ok := times[r.Command]; !ok {
				order = append(order, r.Command)
			}
			times[r.Command] = append(times[r.Command], r.Times...)
		}
	}
	res := map[string]Result{}
	for _, c := range order {
		res[c] = summarize(c, times[c])
	}
	base := res[order[0]]
	baseOf := func(c string) Result {
		if e, ok := res["env true"]; ok && strings.HasSuffix(c, "via env)") {
			return e
		}
		return base
	}
	ms := func(s float64) string { return fmt.Sprintf("%.2f", s*1000) }
	fmt.Println("| command | mean ms | ± σ | median ms | min ms | runs | added (median) ms | added (min) ms |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, c := range order {
		r, b := res[c], baseOf(c)
		added, addedMin := "—", "—"
		if c != b.Command {
			added, addedMin = ms(r.Median-b.Median), ms(r.Min-b.Min)
		}
		fmt.Printf("| `%s` | %s | %s | %s | %s | %d | %s | %s |\n", c, ms(r.Mean), ms(r.Stddev), ms(r.Median), ms(r.Min), len(r.Times), added, addedMin)
	}
	var sops *Result
	for _, c := range order {
		if strings.HasPrefix(c, "sops ") {
			r := res[c]
			sops = &r
		}
	}
	if sops == nil {
		return
	}
	sAdded := sops.Median - base.Median
	fmt.Println()
	for _, c := range order {
		if !strings.Contains(c, " run ") { // keyward's run rows and the run-essentials floor
			continue
		}
		r := res[c]
		a := r.Median - baseOf(c).Median
		fmt.Printf("* `%s` adds %s ms, %.2f× of what sops adds (%s ms)\n", c, ms(a), a/sAdded, ms(sAdded))
	}
}
