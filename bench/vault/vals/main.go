// Command vals-bench reads the same 50 keys as ../main.go with helmfile/vals
// (ref+vault://…#/field references), against the same in-process Vault, and
// counts the requests it makes. It is its own module so that vals and its
// dependencies stay out of keyward's go.mod.
//
//	cd bench/vault/vals && go run . -latency 20ms -keys 50 -runs 5
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"slices"
	"time"

	"github.com/helmfile/vals"

	"github.com/keyward/keyward/internal/testing/vaultserver"
)

func main() {
	latency := flag.Duration("latency", 20*time.Millisecond, "artificial latency per request")
	nkeys := flag.Int("keys", 50, "number of keys")
	runs := flag.Int("runs", 5, "runs per measurement (the median is reported)")
	flag.Parse()

	srv := vaultserver.New(nil)
	defer srv.Close()
	keys := make([]string, *nkeys)
	bundle := map[string]any{}
	for i := range keys {
		keys[i] = fmt.Sprintf("BENCH_KEY_%02d", i)
		v := fmt.Sprintf("bench-value-%02d-not-secret", i)
		bundle[keys[i]] = v
		if _, err := srv.PutKV("", "secret", "bench/keys/"+keys[i], map[string]any{"value": v}); err != nil {
			log.Fatal(err)
		}
	}
	if _, err := srv.PutKV("", "secret", "bench/bundle", bundle); err != nil {
		log.Fatal(err)
	}
	srv.SetLatency(*latency)
	os.Setenv("VAULT_ADDR", srv.URL)
	os.Setenv("VAULT_TOKEN", vaultserver.RootToken)

	fmt.Printf("helmfile/vals, in-process Vault, %v per request, %d keys, median of %d runs\n\n", *latency, *nkeys, *runs)
	fmt.Printf("%-34s %10s %10s %10s\n", "case", "wall", "requests", "data reads")
	for _, c := range []struct {
		name, dataPrefix string
		ref              func(k string) string
	}{
		{"vals bundle: Eval", "secret/data/bench/bundle", func(k string) string { return "ref+vault://secret/bench/bundle#/" + k }},
		{"vals keys: Eval", "secret/data/bench/keys/", func(k string) string { return "ref+vault://secret/bench/keys/" + k + "#/value" }},
	} {
		tmpl := map[string]any{}
		for _, k := range keys {
			tmpl[k] = c.ref(k)
		}
		// vals keeps a process-wide cache, so only the first Eval of a
		// reference reaches Vault; later runs are reported separately.
		var walls []time.Duration
		for i := range *runs {
			srv.ResetLog()
			start := time.Now()
			out, err := vals.Eval(tmpl, vals.Options{LogOutput: io.Discard})
			wall := time.Since(start)
			if err != nil || len(out) != len(keys) || out[keys[1]] != bundle[keys[1]] {
				log.Fatalf("%s: %v (%d values)", c.name, err, len(out))
			}
			if i == 0 {
				fmt.Printf("%-34s %10v %10d %10d\n", c.name+" (first)", wall.Round(time.Millisecond), len(srv.Requests()), srv.Count("GET", c.dataPrefix))
				continue
			}
			walls = append(walls, wall)
			if n := len(srv.Requests()); n != 0 {
				fmt.Printf("%-34s run %d made %d requests\n", c.name, i+1, n)
			}
		}
		if len(walls) > 0 {
			slices.Sort(walls)
			fmt.Printf("%-34s %10v %10s %10s\n", c.name+" (again)", walls[len(walls)/2].Round(time.Millisecond), "cached", "")
		}
	}
}
