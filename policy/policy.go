// Package policy derives the least-privilege access policy a keyward store
// needs, in the provider's own language: a Vault HCL policy, an AWS IAM
// policy, GCP IAM bindings, an Azure role assignment, a Kubernetes Role, or
// (for the local store) the list of recipients who hold access today.
//
// Each provider registers a [Deriver] for its URL scheme from its init
// function, next to the code that makes the calls the policy grants, so a
// change to what a provider calls is a change to the policy in the same
// package. A deriver never contacts the backend: it works from the store
// URL alone (the local store reads its file's clear header).
//
// `keyward policy` prints the document; `keyward policy --check` proves
// isolation with the credentials at hand (see docs/policy.md).
package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/plugin"
)

// Access is what keyward must be able to do.
type Access string

// The access levels, each a superset of the one before.
const (
	// Read is what get, run, export, template, list, diff and validate need.
	Read Access = "read"
	// Write adds what set (and copy into the store) needs.
	Write Access = "write"
	// Rotate adds what rotate (and its --resume, --retire) needs.
	Rotate Access = "rotate"
)

// ParseAccess parses read, write or rotate.
func ParseAccess(s string) (Access, error) {
	switch a := Access(strings.ToLower(s)); a {
	case Read, Write, Rotate:
		return a, nil
	}
	return "", fmt.Errorf("access %q must be read, write or rotate", s)
}

// AtLeast reports whether a includes b.
func (a Access) AtLeast(b Access) bool { return rank(a) >= rank(b) }

func rank(a Access) int {
	switch a {
	case Write:
		return 1
	case Rotate:
		return 2
	}
	return 0
}

// Request says which store, which keys and which access.
type Request struct {
	// URL is the store URL; store-level parameters (cache_ttl, timeout…)
	// are already removed (see ParseURL).
	URL *url.URL
	// Environment names the keyward.yaml environment, if any (comments).
	Environment string
	Access      Access
	// Keys are the keys to grant. With All the grant covers every key in
	// the store instead (a wildcard, or the whole store where the backend
	// cannot be narrower).
	Keys []string
	All  bool
	// Rollout lists workloads ("deployment/NAME") that `keyward sync
	// kubernetes --rollout` restarts (Kubernetes only).
	Rollout []string
	// Account is the AWS account id, when known ("" is any: "*").
	Account string
	// Principal is who is granted the access where the document names a
	// member (GCP member, Azure assignee, Kubernetes ServiceAccount); ""
	// leaves a placeholder.
	Principal string
	// Getenv reads defaults such as AWS_REGION; nil means none.
	Getenv func(string) string
	// Remote derives the policy of a provider that is not linked into this
	// program (the CLI asks the provider's plugin program, through the
	// ActionDerive plugin action); nil: such a store gets the plain text
	// document.
	Remote func(ctx context.Context, r *Request) (*Document, error)
}

// Env reads a variable through Request.Getenv ("" when unset or nil).
func (r *Request) Env(k string) string {
	if r.Getenv == nil {
		return ""
	}
	return r.Getenv(k)
}

// Document is a derived policy.
type Document struct {
	// Provider is the store's scheme (vault, awssm, …).
	Provider    string   `json:"provider"`
	Store       string   `json:"store"`
	Environment string   `json:"environment,omitempty"`
	Access      Access   `json:"access"`
	Keys        []string `json:"keys,omitempty"`
	All         bool     `json:"all,omitempty"`
	// Language is Native's language: hcl, json, yaml, shell or text.
	Language string `json:"language"`
	// Native is the document as the provider's own tools take it.
	Native string `json:"native"`
	// Document is the structured form, for --format json (nil for text).
	Document any `json:"document,omitempty"`
	// Terraform is the equivalent Terraform, where the provider has one.
	Terraform string `json:"terraform,omitempty"`
	// Notes explain choices and limits (also printed as comments).
	Notes []string `json:"notes,omitempty"`
	// Holders lists who holds access today (local store recipients).
	Holders []string `json:"holders,omitempty"`
}

// Deriver derives a provider's policy from a request.
type Deriver func(ctx context.Context, r *Request) (*Document, error)

var (
	mu       sync.RWMutex
	derivers = map[string]Deriver{}
)

// Register installs the deriver for a URL scheme. It panics on a duplicate.
func Register(scheme string, d Deriver) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := derivers[scheme]; dup {
		panic("policy: scheme " + scheme + " registered twice")
	}
	derivers[scheme] = d
}

// storeParams are the store-level URL parameters keyward.URLMux consumes.
var storeParams = []string{"cache_ttl", "max_stale", "timeout", "retries"}

// ParseURL parses a store URL as keyward.Open does and removes the
// store-level parameters the provider never sees.
func ParseURL(raw string) (*url.URL, error) {
	u, err := keyward.ParseStoreURL(raw)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	for _, p := range storeParams {
		q.Del(p)
	}
	u.RawQuery = q.Encode()
	return u, nil
}

// Derive derives the policy for r. A scheme without a deriver (env, dotenv,
// file, mem) gets a text document saying where its access lives.
func Derive(ctx context.Context, r *Request) (*Document, error) {
	if r.URL == nil {
		return nil, keyward.Errorf(keyward.InvalidArgument, "derive the policy", "no store URL")
	}
	if r.Access == "" {
		r.Access = Read
	}
	if !r.All && len(r.Keys) == 0 {
		return nil, keyward.Errorf(keyward.InvalidArgument, "derive the policy", "no keys: name them with --keys, declare them in keyward.yaml, or grant the whole store with --all")
	}
	r.Keys = Dedup(r.Keys)
	mu.RLock()
	d := derivers[r.URL.Scheme]
	mu.RUnlock()
	var doc *Document
	var err error
	switch {
	case d != nil:
		if doc, err = d(ctx, r); err != nil {
			return nil, err
		}
	case r.Remote != nil && IsRemote(r.URL.Scheme):
		// The provider is not linked in (the CLI runs it as a plugin
		// program): its program derives the policy.
		if doc, err = r.Remote(ctx, r); err != nil {
			return nil, err
		}
	default:
		doc = plain(r)
	}
	doc.Provider = r.URL.Scheme
	doc.Store = keyward.RedactURL(r.URL)
	doc.Environment = r.Environment
	doc.Access = r.Access
	if !r.All {
		doc.Keys = r.Keys
	}
	doc.All = r.All
	return doc, nil
}

func plain(r *Request) *Document {
	var where string
	switch r.URL.Scheme {
	case "env":
		where = "the process environment: whoever starts the process, or can read /proc/PID/environ, holds every key. There is no narrower grant."
	case "dotenv", "file":
		where = "file-system permissions on " + keyward.URLPath(r.URL) + ": keep it mode 0600 (0700 for a directory), owned by the one user that runs the service; every reader holds every key."
	case "mem":
		where = "the process itself (an in-memory store)."
	default:
		where = "the backend's own access control; keyward has no policy derivation for " + r.URL.Scheme + "://."
	}
	text := "Access to this store is " + where + "\n"
	return &Document{Language: "text", Native: text, Notes: []string{"no policy document exists for " + r.URL.Scheme + "://"}}
}

// Dedup returns keys sorted and without duplicates or empty entries.
func Dedup(keys []string) []string {
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		if k = strings.TrimSpace(k); k != "" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// Or returns s, or def when s is empty.
func Or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Comment prefixes each line of notes with prefix ("# ", "// ").
func Comment(prefix string, lines ...string) string {
	var b strings.Builder
	for _, l := range lines {
		for _, s := range strings.Split(l, "\n") {
			b.WriteString(strings.TrimRight(prefix+s, " "))
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// Header is the comment lines every native document starts with.
func Header(r *Request) []string {
	what := keyward.RedactURL(r.URL)
	if r.Environment != "" {
		what += " (environment " + r.Environment + ")"
	}
	keys := "keys " + strings.Join(r.Keys, ", ")
	if r.All {
		keys = "every key in the store"
	}
	return []string{
		"keyward policy: " + string(r.Access) + " access to " + what,
		"for " + keys + ", and nothing more.",
	}
}

// IsRemote reports the schemes whose policy a plugin program derives.
func IsRemote(scheme string) bool { return slices.Contains(plugin.RemoteSchemes, scheme) }

// ActionDerive is the plugin action that derives a policy in the
// provider's own program.
const ActionDerive = "policy.derive"

// WireRequest is a Request on the wire (the plugin reads its own
// environment for defaults such as AWS_REGION).
type WireRequest struct {
	URL         string   `json:"url"`
	Environment string   `json:"environment,omitempty"`
	Access      Access   `json:"access"`
	Keys        []string `json:"keys,omitempty"`
	All         bool     `json:"all,omitempty"`
	Rollout     []string `json:"rollout,omitempty"`
	Account     string   `json:"account,omitempty"`
	Principal   string   `json:"principal,omitempty"`
}

// Wire is r's wire form.
func (r *Request) Wire() *WireRequest {
	return &WireRequest{URL: r.URL.String(), Environment: r.Environment, Access: r.Access, Keys: r.Keys, All: r.All,
		Rollout: r.Rollout, Account: r.Account, Principal: r.Principal}
}

// DeriveAction serves ActionDerive in a plugin program: it decodes a
// WireRequest and derives with the providers linked into that program.
func DeriveAction(ctx context.Context, input json.RawMessage) (any, error) {
	var w WireRequest
	if err := json.Unmarshal(input, &w); err != nil {
		return nil, keyward.Errorf(keyward.InvalidArgument, "derive the policy", "malformed request")
	}
	u, err := url.Parse(w.URL)
	if err != nil {
		return nil, keyward.Errorf(keyward.InvalidArgument, "derive the policy", "malformed store URL")
	}
	return Derive(ctx, &Request{URL: u, Environment: w.Environment, Access: w.Access, Keys: w.Keys, All: w.All,
		Rollout: w.Rollout, Account: w.Account, Principal: w.Principal, Getenv: os.Getenv})
}
