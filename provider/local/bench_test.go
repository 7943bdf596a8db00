package local_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/provider/local"
)

func benchStore(b *testing.B, n int) (*keyward.Store, string) {
	b.Helper()
	s, path, _ := benchStoreID(b, n)
	return s, path
}

func benchStoreID(b *testing.B, n int) (*keyward.Store, string, *local.Identity) {
	b.Helper()
	ctx := context.Background()
	id := newIdentity(b)
	path := filepath.Join(b.TempDir(), "keyward.age")
	// The cache is off: every Get reads and decrypts the file (a cold key).
	s, err := local.OpenStore(path, &local.Options{Identity: id}, &keyward.StoreOptions{TTL: -1})
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		if _, err := s.Put(ctx, fmt.Sprintf("SECRET_%02d", i), keyward.NewSecretString(fmt.Sprintf("bench-value-%02d-0123456789abcdef0123456789abcdef", i)), nil); err != nil {
			b.Fatal(err)
		}
	}
	return s, path, id
}

// BenchmarkGetCold reads one key from a 50-secret store with no cache: one
// file read, one X25519 unwrap and a decrypt of the whole payload.
func BenchmarkGetCold(b *testing.B) {
	s, _ := benchStore(b, 50)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Get(ctx, "SECRET_25"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetMany50 reads all 50 keys at once (what keyward run does).
func BenchmarkGetMany50(b *testing.B) {
	s, _ := benchStore(b, 50)
	ctx := context.Background()
	keys := make([]string, 50)
	for i := range keys {
		keys[i] = fmt.Sprintf("SECRET_%02d", i)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.GetMany(ctx, keys); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPut writes a new version into a 50-secret store: lock, decrypt,
// encrypt, temp file, two fsyncs, rename. Versions accumulate, so the file
// grows during the run.
func BenchmarkPut(b *testing.B) {
	s, _ := benchStore(b, 50)
	ctx := context.Background()
	val := keyward.NewSecretString("bench-put-value-0123456789abcdef")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Put(ctx, "SECRET_25", val, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// benchBatchStore writes n secrets in one PutMany and returns the path.
func benchBatchStore(b *testing.B, id *local.Identity, n int) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "keyward.age")
	d, err := local.NewDriver(path, &local.Options{Identity: id})
	if err != nil {
		b.Fatal(err)
	}
	items := make([]driver.PutItem, n)
	for i := range items {
		items[i] = driver.PutItem{Key: fmt.Sprintf("SECRET_%05d", i), Data: fmt.Appendf(nil, "bench-value-%05d-0123456789abcdef0123456789abcdef", i)}
	}
	if _, err := d.(driver.BatchWriter).PutMany(context.Background(), items); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkGetOneOf reads one key from a store of 10 and of 10,000
// secrets the way one keyward process does: a new driver (so the file key
// is unwrapped), one file read, MAC checks, one record decrypted.
func BenchmarkGetOneOf(b *testing.B) {
	for _, n := range []int{10, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			id := newIdentity(b)
			path := benchBatchStore(b, id, n)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				d, _ := local.NewDriver(path, &local.Options{Identity: id})
				if _, err := d.Get(ctx, "SECRET_00005", ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPutMany10000 writes 10,000 new secrets in one atomic write
// (what keyward copy does into a local store).
func BenchmarkPutMany10000(b *testing.B) {
	id := newIdentity(b)
	for b.Loop() {
		benchBatchStore(b, id, 10000)
	}
}

// BenchmarkOpenListGet50 is the store work of one `keyward run` of 50
// secrets: open the store, read and authenticate the file, unwrap its key,
// list (which opens each record) and read every value.
func BenchmarkOpenListGet50(b *testing.B) {
	_, path, id := benchStoreID(b, 50)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		s, err := local.OpenStore(path, &local.Options{Identity: id}, &keyward.StoreOptions{TTL: -1})
		if err != nil {
			b.Fatal(err)
		}
		infos, err := s.List(ctx)
		if err != nil {
			b.Fatal(err)
		}
		keys := make([]string, len(infos))
		for i, ki := range infos {
			keys[i] = ki.Key
		}
		if _, err := s.GetMany(ctx, keys); err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}
