// Command eval scores a scanner's JSON report against the benchmark's
// planted list: recall on planted format secrets and managed values, and
// the number of findings at places nothing was planted (distinct
// path:line).
//
//	go run ./bench/scan/eval -planted planted.tsv -mode tree|history -tool keyward|gitleaks -strip PREFIX REPORT.json
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

type loc struct {
	path string
	line int
}

type finding struct {
	path       string
	start, end int
	what       string
}

func main() {
	plantedPath := flag.String("planted", "planted.tsv", "planted list")
	mode := flag.String("mode", "tree", "tree or history")
	tool := flag.String("tool", "keyward", "keyward or gitleaks (report format)")
	strip := flag.String("strip", "", "path prefix to remove from reported paths")
	missed := flag.Bool("missed", false, "list planted items not found")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: eval [flags] REPORT.json")
		os.Exit(2)
	}
	type item struct {
		id, kind, what, where string
		at                    loc
	}
	var items []item
	f, err := os.Open(*plantedPath)
	if err != nil {
		panic(err)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		if len(c) != 7 || c[0] == "id" {
			continue
		}
		n, _ := strconv.Atoi(c[6])
		if *mode == "tree" && c[3] != "tree" {
			continue
		}
		items = append(items, item{c[0], c[1], c[2], c[3], loc{c[5], n}})
	}
	b, err := os.ReadFile(flag.Arg(0))
	if err != nil {
		panic(err)
	}
	var fs []finding
	norm := func(p string) string {
		p = filepath.ToSlash(filepath.Clean(p))
		if *strip != "" {
			p = strings.TrimPrefix(p, strings.TrimSuffix(filepath.ToSlash(*strip), "/")+"/")
		}
		return p
	}
	if *tool == "gitleaks" {
		var r []struct {
			RuleID    string
			File      string
			StartLine int
			EndLine   int
		}
		if len(b) > 0 {
			if err := json.Unmarshal(b, &r); err != nil {
				panic(err)
			}
		}
		for _, x := range r {
			fs = append(fs, finding{norm(x.File), x.StartLine, max(x.EndLine, x.StartLine), x.RuleID})
		}
	} else {
		var r []struct {
			Rule    string `json:"rule"`
			Key     string `json:"key"`
			Path    string `json:"path"`
			Line    int    `json:"line"`
			EndLine int    `json:"end_line"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			panic(err)
		}
		for _, x := range r {
			fs = append(fs, finding{norm(x.Path), x.Line, max(x.EndLine, x.Line), x.Rule + x.Key})
		}
	}
	hit := func(it item) bool {
		for _, f := range fs {
			if f.path == it.at.path && f.start <= it.at.line && it.at.line <= f.end {
				return true
			}
		}
		return false
	}
	var ruleN, ruleHit, manN, manHit int
	var miss []string
	for _, it := range items {
		h := hit(it)
		if it.kind == "rule" {
			ruleN++
			if h {
				ruleHit++
			}
		} else {
			manN++
			if h {
				manHit++
			}
		}
		if !h {
			miss = append(miss, it.id+":"+it.what)
		}
	}
	other := map[loc]bool{}
	for _, f := range fs {
		planted := false
		for _, it := range items {
			if f.path == it.at.path && f.start <= it.at.line && it.at.line <= f.end {
				planted = true
			}
		}
		if !planted {
			other[loc{f.path, f.start}] = true
		}
	}
	// recall_rules recall_managed nonplanted findings
	fmt.Printf("%d/%d\t%d/%d\t%d\t%d\n", ruleHit, ruleN, manHit, manN, len(other), len(fs))
	if *missed {
		fmt.Fprintln(os.Stderr, "missed:", strings.Join(miss, " "))
		n := 0
		for l := range other {
			if n < 40 {
				fmt.Fprintf(os.Stderr, "other: %s:%d\n", l.path, l.line)
			}
			n++
		}
	}
}
