//go:build !keyward_omit_vault

// Command vault-bench compares reading N keys from one Vault KV v2 secret
// (keyward's bundle layout, the guide's model) with reading N keys stored
// as N separate secrets (layout=keys), through keyward.Store.GetMany and,
// with -keyward, through `keyward run -- true`, against the in-process
// Vault server with an artificial per-request latency. It counts the
// requests the server saw.
//
//	go run ./bench/vault -latency 20ms -keys 50 -runs 5
//	go build -o /tmp/keyward ./cmd/keyward && go run ./bench/vault -keyward /tmp/keyward
//
// Results are recorded in bench/vault.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"slices"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/testing/vaultserver"
	"github.com/keyward/keyward/provider/vault"
)

func main() {
	latency := flag.Duration("latency", 20*time.Millisecond, "artificial latency per request")
	nkeys := flag.Int("keys", 50, "number of keys")
	runs := flag.Int("runs", 5, "runs per measurement (the median is reported)")
	kw := flag.String("keyward", "", "path to a keyward binary: also time `keyward run -- true`")
	flag.Parse()

	srv := vaultserver.New(nil)
	defer srv.Close()
	srv.SetMaxVersions("", "secret", 100)
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

	fmt.Printf("in-process Vault, %v per request, %d keys, median of %d runs\n\n", *latency, *nkeys, *runs)
	fmt.Printf("%-34s %10s %10s %10s\n", "case", "wall", "requests", "data reads")
	ctx := context.Background()
	for _, c := range []struct {
		name, path, layout, dataPrefix string
	}{
		{"bundle (one KV v2 secret)", "secret/bench/bundle", vault.LayoutBundle, "secret/data/bench/bundle"},
		{"keys (one secret per key)", "secret/bench/keys", vault.LayoutKeys, "secret/data/bench/keys/"},
	} {
		open := func() *keyward.Store {
			d, err := vault.NewDriver(&vault.Options{Address: srv.URL, Path: c.path, Layout: c.layout, Token: vaultserver.RootToken})
			if err != nil {
				log.Fatal(err)
			}
			return keyward.NewStore(d, &keyward.StoreOptions{TTL: -1})
		}
		measure := func(label string, s *keyward.Store, fresh bool) {
			var walls []time.Duration
			var reqs, reads int
			for range *runs {
				if fresh {
					s = open()
				}
				srv.ResetLog()
				start := time.Now()
				got, err := s.GetMany(ctx, keys)
				walls = append(walls, time.Since(start))
				if err != nil || len(got) != len(keys) {
					log.Fatalf("%s: %v (%d values)", label, err, len(got))
				}
				reqs, reads = len(srv.Requests()), srv.Count("GET", c.dataPrefix)
				if fresh {
					s.Close()
				}
			}
			slices.Sort(walls)
			fmt.Printf("%-34s %10v %10d %10d\n", label, walls[len(walls)/2].Round(time.Millisecond), reqs, reads)
		}
		measure(c.layout+": first read (login, detect)", nil, true)
		warm := open()
		if _, err := warm.GetMany(ctx, keys[:1]); err != nil {
			log.Fatal(err)
		}
		measure(c.layout+": GetMany", warm, false)
		warm.Close()

		if *kw != "" {
			var walls []time.Duration
			reqs := 0
			for range *runs {
				srv.ResetLog()
				cmd := exec.Command(*kw, "run", "--", "true")
				cmd.Env = append(os.Environ(), "KEYWARD_STORE=vault:///"+c.path+"?layout="+c.layout,
					"VAULT_ADDR="+srv.URL, "VAULT_TOKEN="+vaultserver.RootToken, "HOME="+os.TempDir())
				cmd.Stderr = os.Stderr
				start := time.Now()
				if err := cmd.Run(); err != nil {
					log.Fatalf("keyward run: %v", err)
				}
				walls = append(walls, time.Since(start))
				reqs = len(srv.Requests())
			}
			slices.Sort(walls)
			fmt.Printf("%-34s %10v %10d %10d\n", c.layout+": keyward run -- true", walls[len(walls)/2].Round(time.Millisecond), reqs, srv.Count("GET", c.dataPrefix))
		}
	}
}
