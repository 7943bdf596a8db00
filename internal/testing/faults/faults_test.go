package faults

import "testing"

func TestQueue(t *testing.T) {
	var q Queue[string]
	q.Add("get", 2, "twice")
	q.Add("", 0, "always")
	for i, want := range []struct {
		op, f string
		ok    bool
	}{
		{"get", "twice", true},
		{"set", "always", true},
		{"get", "twice", true},
		{"get", "always", true},
	} {
		f, ok := q.Take(want.op)
		if f != want.f || ok != want.ok {
			t.Errorf("call %d (%s): %q %v, want %q %v", i, want.op, f, ok, want.f, want.ok)
		}
	}
	q.Clear()
	if f, ok := q.Take("get"); ok {
		t.Errorf("after Clear: %q", f)
	}
	if q.Calls("get") != 4 || q.Calls("set") != 1 || q.Calls("list") != 0 {
		t.Errorf("calls get=%d set=%d list=%d", q.Calls("get"), q.Calls("set"), q.Calls("list"))
	}
	if q.Total() != 5 {
		t.Errorf("total %d, want 5", q.Total())
	}
	q.ResetCalls()
	if q.Total() != 0 || q.Calls("get") != 0 {
		t.Errorf("after ResetCalls: total %d, get %d", q.Total(), q.Calls("get"))
	}
}
