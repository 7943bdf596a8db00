// Package audit keeps a tamper-evident record of who read, wrote and rotated
// which secret.
//
// Most users want [Open] (or [FromConfig]) and [Logger.Hook], which plugs
// into keyward.StoreOptions.Audit so that every Get, List, Put, Delete and
// History of a Store appends one JSON line:
//
//	l, err := audit.Open(audit.Options{Path: audit.DefaultPath(os.Getenv)})
//	store, err := keyward.DefaultURLMux().OpenStore(ctx, url, &keyward.StoreOptions{Audit: l.Hook})
//
// Records never carry a value. With a per-project audit key they may carry an
// HMAC-SHA256 of the value, so a value found in a leak can be traced to the
// records of whoever read it ([Logger.ValueHMAC], `keyward audit hash`).
//
// # Tamper evidence
//
// Each record carries a sequence number, the SHA-256 of the previous
// record's line, and its own hash. [Verify] detects an edited, deleted,
// inserted, reordered or partially written record and names the first bad
// line; truncation of whole records at the end is detected against an
// anchor (the chain head, [Head]) stored elsewhere.
//
// # Concurrency
//
// Appends take an exclusive flock on the log, read the chain head, write one
// line with O_APPEND and (by default) fsync, so any number of processes can
// append at once without interleaving or breaking the chain.
package audit

import (
	"time"
)

// FormatVersion is the record schema version, written as "v": 1 for a
// record about one key (or none), 2 for a record that names many keys in
// Keys (a delivery: keyward run, one record for the whole store). A log may
// hold both; readers of this package read both.
const FormatVersion = 1

// FormatVersionKeys is the schema version of a record with Keys.
const FormatVersionKeys = 2

// Record is one audit line. Field order in JSON is fixed by this struct.
type Record struct {
	V       int       `json:"v"`
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Actor   Actor     `json:"actor"`
	Action  string    `json:"action"`
	Env     string    `json:"env,omitempty"`
	Store   string    `json:"store,omitempty"`
	Key     string    `json:"key,omitempty"`
	Version string    `json:"version,omitempty"`
	Outcome string    `json:"outcome"`        // ok, error, denied
	Code    string    `json:"code,omitempty"` // error code when not ok
	Cached  bool      `json:"cached,omitempty"`
	Stale   bool      `json:"stale,omitempty"`
	// ValueHMAC is hex HMAC-SHA256 of the value under the audit key, if
	// configured. Never the value.
	ValueHMAC string `json:"value_hmac,omitempty"`
	// Detail is free text from the CLI (a verb's argument summary); never a value.
	Detail string `json:"detail,omitempty"`
	// Keys names every key of a batched read (v2 records: keyward run
	// reads the whole store in one record); Key and Version are then empty.
	Keys []KeyRecord `json:"keys,omitempty"`
	// Prev is the hex SHA-256 of the previous line (without its newline);
	// empty for the first record.
	Prev string `json:"prev"`
	// Hash is the hex SHA-256 of this record's JSON with Hash empty.
	Hash string `json:"hash"`
}

// KeyRecord is one key of a record's Keys.
type KeyRecord struct {
	Key     string `json:"key"`
	Version string `json:"version,omitempty"`
	Cached  bool   `json:"cached,omitempty"`
	Stale   bool   `json:"stale,omitempty"`
	// ValueHMAC is as Record.ValueHMAC, for this key's value.
	ValueHMAC string `json:"value_hmac,omitempty"`
}

// HasKey reports whether r is about key: its Key, or one of its Keys.
func (r *Record) HasKey(key string) bool {
	if r.Key == key {
		return true
	}
	for _, k := range r.Keys {
		if k.Key == key {
			return true
		}
	}
	return false
}

// HasValueHMAC reports whether r carries the value HMAC h, for its Key or
// one of its Keys.
func (r *Record) HasValueHMAC(h string) bool {
	if r.ValueHMAC == h {
		return true
	}
	for _, k := range r.Keys {
		if k.ValueHMAC == h {
			return true
		}
	}
	return false
}

// Actor says who did it.
type Actor struct {
	User    string `json:"user,omitempty"`
	UID     string `json:"uid,omitempty"`
	Host    string `json:"host,omitempty"`
	PID     int    `json:"pid,omitempty"`
	Process string `json:"process,omitempty"`
	CI      *CI    `json:"ci,omitempty"`
	K8s     *K8s   `json:"k8s,omitempty"`
}

// CI identifies a CI job from its standard variables.
type CI struct {
	System string `json:"system"`
	Actor  string `json:"actor,omitempty"`
	Repo   string `json:"repo,omitempty"`
	Run    string `json:"run,omitempty"`
	Job    string `json:"job,omitempty"`
}

// K8s identifies the pod's service account.
type K8s struct {
	Namespace      string `json:"namespace,omitempty"`
	ServiceAccount string `json:"service_account,omitempty"`
	Pod            string `json:"pod,omitempty"`
}

// String renders the actor briefly for tables: "alice@host" or "ci:github-actions/bob".
func (a Actor) String() string {
	if a.CI != nil {
		s := "ci:" + a.CI.System
		if a.CI.Actor != "" {
			s += "/" + a.CI.Actor
		}
		return s
	}
	if a.K8s != nil && a.K8s.ServiceAccount != "" {
		return "k8s:" + a.K8s.Namespace + "/" + a.K8s.ServiceAccount
	}
	if a.Host != "" {
		return a.User + "@" + a.Host
	}
	return a.User
}
