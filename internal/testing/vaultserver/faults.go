package vaultserver

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// FaultKind says how an injected fault answers.
type FaultKind int

const (
	// FaultStatus answers Status with Vault's {"errors": Errors} body.
	FaultStatus FaultKind = iota
	// FaultThrottle answers 429 with a Retry-After header of RetryAfter.
	FaultThrottle
	// FaultHang never answers; the request ends when the client gives up
	// or the server closes.
	FaultHang
	// FaultTruncate declares a body longer than it sends, then closes the
	// connection.
	FaultTruncate
	// FaultRedirect answers 307 with Location = Location + the request's
	// path and query (a redirect to another host when Location names one).
	FaultRedirect
)

// Fault is an injected failure for the next N requests that match.
type Fault struct {
	Kind       FaultKind
	Status     int           // FaultStatus
	Errors     []string      // FaultStatus; nil means Vault's empty list
	RetryAfter time.Duration // FaultThrottle
	Location   string        // FaultRedirect: base URL, e.g. another server's URL
	// N is how many requests the fault answers; 0 means 1.
	N int
	// PathPrefix restricts the fault to paths (without /v1/) that start with it.
	PathPrefix string
	// Method restricts the fault to one method (GET, POST, LIST, DELETE).
	Method string
}

// Inject queues a fault. Faults are consumed in the order injected.
func (s *Server) Inject(f Fault) {
	if f.N <= 0 {
		f.N = 1
	}
	s.mu.Lock()
	s.faults = append(s.faults, &f)
	s.mu.Unlock()
}

// FailNext makes the next n requests answer status with Vault's error body.
func (s *Server) FailNext(n, status int, msgs ...string) {
	s.Inject(Fault{Kind: FaultStatus, Status: status, Errors: msgs, N: n})
}

// ClearFaults drops every queued fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	s.faults = nil
	s.mu.Unlock()
}

// takeFault returns the fault for this request, if any (s.mu held).
func (s *Server) takeFault(method, path string) *Fault {
	for i, f := range s.faults {
		if !strings.HasPrefix(path, f.PathPrefix) || (f.Method != "" && f.Method != method) {
			continue
		}
		f.N--
		if f.N <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		c := *f
		return &c
	}
	return nil
}

func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f *Fault) {
	switch f.Kind {
	case FaultStatus:
		writeErrors(w, f.Status, f.Errors...)
	case FaultThrottle:
		w.Header().Set("Retry-After", strconv.Itoa(int((f.RetryAfter+time.Second-1)/time.Second)))
		writeErrors(w, http.StatusTooManyRequests, "request path \""+strings.TrimPrefix(r.URL.Path, "/v1/")+"\": rate limit quota exceeded")
	case FaultHang:
		select {
		case <-r.Context().Done():
		case <-s.quit:
		}
	case FaultTruncate:
		hj, ok := w.(http.Hijacker)
		if !ok {
			writeErrors(w, http.StatusInternalServerError, "cannot truncate: no hijacker")
			return
		}
		conn, buf, err := hj.Hijack()
		if err != nil {
			return
		}
		body := `{"request_id":"` + randID() + `","lease_id":"","data":{"da`
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body)+400, body)
		_ = buf.Flush()
		_ = conn.Close()
	case FaultRedirect:
		loc := strings.TrimSuffix(f.Location, "/") + r.URL.Path
		if r.URL.RawQuery != "" {
			loc += "?" + r.URL.RawQuery
		}
		w.Header().Set("Location", loc)
		w.WriteHeader(http.StatusTemporaryRedirect)
	}
}
