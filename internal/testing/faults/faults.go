// Package faults is the fault queue and call counter the in-process
// servers (internal/testing/{aws,gcp,azure}server) share: faults are matched in
// the order added, each for one operation or any, a number of times or
// until cleared.
package faults

import "sync"

// Queue holds the injected faults of type F and counts calls by
// operation. Its methods are safe for concurrent use; the zero value is
// ready.
type Queue[F any] struct {
	mu     sync.Mutex
	faults []*entry[F]
	calls  map[string]int
}

type entry[F any] struct {
	op    string
	times int
	f     F
}

// Add queues f for calls to op ("" means any operation): the next times
// matching calls meet it, or every one until Clear when times is 0.
func (q *Queue[F]) Add(op string, times int, f F) {
	q.mu.Lock()
	q.faults = append(q.faults, &entry[F]{op: op, times: times, f: f})
	q.mu.Unlock()
}

// Clear removes every fault.
func (q *Queue[F]) Clear() {
	q.mu.Lock()
	q.faults = nil
	q.mu.Unlock()
}

// Calls reports how many calls to op Take has counted.
func (q *Queue[F]) Calls(op string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.calls[op]
}

// Total reports how many calls to any operation Take has counted.
func (q *Queue[F]) Total() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, c := range q.calls {
		n += c
	}
	return n
}

// ResetCalls zeroes the counters.
func (q *Queue[F]) ResetCalls() {
	q.mu.Lock()
	clear(q.calls)
	q.mu.Unlock()
}

// Take counts a call to op and returns the first fault that matches it.
func (q *Queue[F]) Take(op string) (f F, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.calls == nil {
		q.calls = map[string]int{}
	}
	q.calls[op]++
	for i, e := range q.faults {
		if e.op != "" && e.op != op {
			continue
		}
		if e.times > 0 {
			e.times--
			if e.times == 0 {
				q.faults = append(q.faults[:i:i], q.faults[i+1:]...)
			}
		}
		return e.f, true
	}
	return f, false
}
