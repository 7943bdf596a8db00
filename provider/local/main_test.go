package local

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"strconv"
	"testing"
)

// The crash and multi-process tests re-run this test binary as a child
// writer; childEnv selects the child's job.
const (
	childEnv     = "KEYWARD_LOCAL_TEST_CHILD" // "crash" or "writer"
	childPath    = "KEYWARD_LOCAL_TEST_PATH"
	childStep    = "KEYWARD_LOCAL_TEST_STEP"
	childName    = "KEYWARD_LOCAL_TEST_NAME"
	childWrites  = "KEYWARD_LOCAL_TEST_WRITES"
	childCrashed = 86 // never reached: the child kills itself
)

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		flag.Parse()
		if *updateVectors {
			generateVectors(fatalf{})
		}
		if *addV2Vectors {
			generateV2Vectors(fatalf{})
		}
		os.Exit(m.Run())
	case "crash":
		os.Exit(crashChild())
	case "writer":
		os.Exit(writerChild())
	case "merge":
		os.Exit(mergeChild())
	default:
		fmt.Fprintln(os.Stderr, "unknown child mode")
		os.Exit(2)
	}
}

// writerChild does N Puts of KEY, each value naming the child and write.
func writerChild() int {
	n, _ := strconv.Atoi(os.Getenv(childWrites))
	// Every version is kept, so a lost update would show.
	d, err := NewDriver(os.Getenv(childPath), &Options{KeepVersions: -1})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	w := d.(*localDriver)
	for i := range n {
		v := fmt.Sprintf("%s-%d", os.Getenv(childName), i)
		if _, err := w.Put(context.Background(), "COUNTER", []byte(v), nil); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

type fatalf struct{}

func (fatalf) Fatal(args ...any) { log.Fatal(args...) }
