// Package plugin runs a keyward provider in its own program and talks to it
// over a small, versioned protocol on the program's stdin and stdout.
//
// The keyward CLI links only its embedded providers (local, dotenv, env,
// file, mem); a remote provider such as Vault ships as a program named
// keyward-provider-<scheme> that the CLI starts the first time a command
// uses the scheme and keeps for the rest of the command. Anyone can add a
// provider this way, in any language: docs/plugins.md specifies the
// protocol. Go providers call [Main] with their opener; the client side is
// [Start] (a program) or [NewClient] (any pair of pipes).
//
// # The protocol, in brief
//
// Messages are JSON objects, one per line (UTF-8, "\n"-terminated, at most
// [MaxMessage] bytes). The client sends requests {"id":N,"method":M,
// "params":{…}}; the plugin answers each with {"id":N,"result":{…}} or
// {"id":N,"error":{"code":C,"message":S}}, in any order, so requests may
// overlap. Secret values travel only inside these messages, base64-encoded
// in "data" fields; never in arguments or the environment. The first
// request is "hello" (protocol version and capability negotiation), then
// "open" for each store URL, then the driver operations.
package plugin

import (
	"encoding/json"
	"time"

	"github.com/keyward/keyward/driver"
)

// Protocol is the protocol version this package speaks.
const Protocol = 1

// MaxMessage bounds one message line in either direction (16 MiB): a
// misbehaving peer cannot make the other side buffer without end.
const MaxMessage = 16 << 20

// The methods of protocol version 1.
const (
	MethodHello          = "hello"
	MethodOpen           = "open"
	MethodGet            = "get"
	MethodGetMany        = "get_many"
	MethodList           = "list"
	MethodPut            = "put"
	MethodDelete         = "delete"
	MethodVersions       = "versions"
	MethodRotationLayout = "rotation_layout"
	MethodRotationState  = "rotation_state"
	MethodStage          = "stage"
	MethodPromote        = "promote"
	MethodDiscard        = "discard"
	MethodRetire         = "retire"
	MethodDisableVersion = "disable_version"
	MethodClose          = "close"
	MethodCancel         = "cancel"
	MethodAction         = "action"
	MethodPutMany        = "put_many"
	MethodStamps         = "stamps"
	MethodListValues     = "list_values"
	MethodValuesListed   = "values_listed"
)

// Request is one client message.
type Request struct {
	ID     uint64          `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params,omitempty"`
}

// Response is one plugin message.
type Response struct {
	ID     uint64          `json:"id"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *Error          `json:"error,omitempty"`
}

// Error is a failed request. Code is one of the driver code names in
// snake case ("not_found", "unavailable", …; see [CodeName]). Message must
// never hold a secret value or a credential.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// RetryAfterMS is the server's Retry-After, when it gave one.
	RetryAfterMS int64 `json:"retry_after_ms,omitempty"`
	// Hint is a next step for the user ("log in again with …"), shown by
	// the CLI as a hint: line. Like Message, it never holds a value.
	NextStep string `json:"hint,omitempty"`
}

// DriverCode is the error's code (keyward.URLMux uses it for open errors).
func (e *Error) DriverCode() driver.Code { return ParseCode(e.Code) }

// Hint lets the CLI show the plugin's next step as a hint: line.
func (e *Error) Hint() string { return e.NextStep }

func (e *Error) Error() string { return e.Message }

// RetryAfter lets the keyward Store honour a plugin's Retry-After.
func (e *Error) RetryAfter() time.Duration { return time.Duration(e.RetryAfterMS) * time.Millisecond }

var codeNames = map[driver.Code]string{
	driver.Unknown: "unknown", driver.NotFound: "not_found", driver.AlreadyExists: "already_exists",
	driver.PermissionDenied: "permission_denied", driver.InvalidArgument: "invalid_argument",
	driver.FailedPrecondition: "failed_precondition", driver.Unimplemented: "unimplemented",
	driver.Unavailable: "unavailable", driver.Canceled: "canceled", driver.DeadlineExceeded: "deadline_exceeded",
}

// CodeName is the protocol's name for c.
func CodeName(c driver.Code) string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return "unknown"
}

// ParseCode is the code a protocol name stands for; unknown names are Unknown.
func ParseCode(s string) driver.Code {
	for c, n := range codeNames {
		if n == s {
			return c
		}
	}
	return driver.Unknown
}

// HelloParams opens the conversation.
type HelloParams struct {
	// Protocol is the version the client speaks.
	Protocol int `json:"protocol"`
	// Client names the client ("keyward v1.2.3").
	Client string `json:"client,omitempty"`
}

// HelloResult answers hello.
type HelloResult struct {
	Protocol int `json:"protocol"`
	// Name is the provider's scheme ("vault"); Version its build.
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	// Actions lists the provider-specific actions the plugin offers
	// ("kubernetes.sync"), beyond the driver methods.
	Actions []string `json:"actions,omitempty"`
}

// ActionParams calls a provider-specific action. Input is the action's own
// JSON document; values inside it travel like every other value, only in
// protocol messages.
type ActionParams struct {
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input,omitempty"`
	TimeoutMS int64           `json:"timeout_ms,omitempty"`
}

// OpenParams opens one store. URL carries no credentials (keyward's store
// URLs never do): the plugin finds them as its SDK's default chain does.
type OpenParams struct {
	URL string `json:"url"`
}

// OpenResult names the opened store and what it can do.
type OpenResult struct {
	// Store is the handle later requests name.
	Store string `json:"store"`
	// Abilities lists the driver abilities the store has (driver.Ability
	// names: "list", "write", "delete", "versions", "batch_get", "rotate",
	// "disable_version").
	Abilities []driver.Ability `json:"abilities"`
}

// StoreParams names a store in every request after open. TimeoutMS, when
// set, is the client's remaining deadline: the plugin gives up after it.
type StoreParams struct {
	Store     string `json:"store"`
	TimeoutMS int64  `json:"timeout_ms,omitempty"`
}

// storeParams is promoted to every params type that embeds StoreParams.
func (p *StoreParams) storeParams() *StoreParams { return p }

type hasStoreParams interface{ storeParams() *StoreParams }

// KeyParams name one key (and a version, where the method takes one).
type KeyParams struct {
	StoreParams
	Key     string `json:"key"`
	Version string `json:"version,omitempty"`
}

// Value is a fetched secret; Data is base64 in JSON.
type Value struct {
	Data    []byte         `json:"data"`
	Version driver.Version `json:"version"`
}

// GetManyParams asks for several keys.
type GetManyParams struct {
	StoreParams
	Keys []string `json:"keys"`
}

// GetManyResult holds the keys that exist.
type GetManyResult struct {
	Values map[string]*Value `json:"values"`
}

// ListResult is a listing; it never carries values.
type ListResult struct {
	Keys []driver.KeyInfo `json:"keys"`
}

// PutParams writes a version.
type PutParams struct {
	StoreParams
	Key       string            `json:"key"`
	Data      []byte            `json:"data"`
	IfVersion string            `json:"if_version,omitempty"`
	Meta      map[string]string `json:"meta,omitempty"`
	// BestEffortCheck accepts an if_version the backend can only check by
	// reading first (driver.PutOptions.BestEffortCheck).
	BestEffortCheck bool `json:"best_effort_check,omitempty"`
}

// ValuesListedResult says whether list_values brings values now (a driver
// may learn it only after its first request, e.g. Vault's layout).
type ValuesListedResult struct {
	Listed bool `json:"listed"`
}

// ListValuesResult is a listing with the values that came with it.
type ListValuesResult struct {
	Keys   []driver.KeyInfo  `json:"keys"`
	Values map[string]*Value `json:"values"`
}

// PutManyParams writes several versions atomically (all or none).
type PutManyParams struct {
	StoreParams
	Items []PutItem `json:"items"`
}

// PutItem is one write of a batch.
type PutItem struct {
	Key       string            `json:"key"`
	Data      []byte            `json:"data"`
	IfVersion string            `json:"if_version,omitempty"`
	Meta      map[string]string `json:"meta,omitempty"`
	// BestEffortCheck: see PutParams.
	BestEffortCheck bool `json:"best_effort_check,omitempty"`
}

// StampsParams asks for the change tokens of keys.
type StampsParams struct {
	StoreParams
	Keys []string `json:"keys"`
}

// StampsResult holds a change token per key (metadata, never a value).
type StampsResult struct {
	Stamps map[string]string `json:"stamps"`
}

// VersionResult is one version.
type VersionResult struct {
	Version driver.Version `json:"version"`
}

// VersionsResult is a history, oldest first.
type VersionsResult struct {
	Versions []driver.Version `json:"versions"`
}

// LayoutResult is a key's rotation layout ("" when the store cannot rotate).
type LayoutResult struct {
	Layout driver.RotationLayout `json:"layout"`
}

// RingEntry is driver.RingEntry on the wire.
type RingEntry struct {
	ID      string         `json:"id"`
	Data    []byte         `json:"data"`
	Version driver.Version `json:"version"`
	Expires time.Time      `json:"expires,omitzero"`
}

// RotationStateResult is driver.RotationState on the wire.
type RotationStateResult struct {
	Current   *RingEntry  `json:"current,omitempty"`
	RotatedAt time.Time   `json:"rotated_at,omitzero"`
	Pending   *RingEntry  `json:"pending,omitempty"`
	Previous  []RingEntry `json:"previous,omitempty"`
}

// StageParams stages a rotation (driver.Rotator.Stage).
type StageParams struct {
	StoreParams
	Key             string    `json:"key"`
	Data            []byte    `json:"data"`
	IfCurrent       string    `json:"if_current,omitempty"`
	PreviousExpires time.Time `json:"previous_expires,omitzero"`
	RotatedAt       time.Time `json:"rotated_at,omitzero"`
}

// CancelParams cancels an earlier request that is still running.
type CancelParams struct {
	ID uint64 `json:"id"`
}

func toWireEntry(e *driver.RingEntry) *RingEntry {
	if e == nil {
		return nil
	}
	return &RingEntry{ID: e.ID, Data: e.Data, Version: e.Version, Expires: e.Expires}
}

func fromWireEntry(e *RingEntry) *driver.RingEntry {
	if e == nil {
		return nil
	}
	return &driver.RingEntry{ID: e.ID, Data: e.Data, Version: e.Version, Expires: e.Expires}
}
