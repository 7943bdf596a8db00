// Package schema reads keyward.yaml, the project file that declares a
// service's environments and the secrets it needs, and validates a store
// against it before a deploy.
//
// Most users want Load and Config.Validate:
//
//	cfg, err := schema.Load("keyward.yaml")
//	store, err := keyward.Open(ctx, cfg.Environments["production"].Store)
//	report, err := cfg.Validate(ctx, store, "production", nil)
//	if !report.Valid { report.WriteTable(os.Stderr) }
//
// # The file
//
// keyward.yaml has environments (name → store URL, and whether production
// rules apply) and secrets (name → description, required, min_length,
// format or pattern, generate, rotation, per-environment overrides). Every
// field is documented in docs/schema.md; JSONSchema is a JSON Schema of
// the file for editors.
//
// Load reports every problem in the file at once, each with
// file:line:column; unknown fields get a "did you mean" hint. The file is
// limited in size (MaxFileSize), nodes and aliases, so a YAML bomb is an
// error, not an outage.
//
// # Checks
//
// Validate runs the checks named by the Check constants: required, min
// length, format, pattern, test-mode keys and placeholders in production,
// entropy of generated secrets, the same value reused in another
// environment (compared by HMAC fingerprints under a key made for the run,
// never by value), rotation age, and .env files that git tracks, that
// .gitignore does not ignore, or that group or others can read. Each has a
// default severity that keyward.yaml's validate.checks can change.
//
// # Errors
//
// Load and Parse return a *keyward.Error with code InvalidArgument that
// wraps an ErrorList. No message, report or error ever contains a secret
// value.
package schema

import _ "embed"

// JSONSchema is keyward.schema.json, a JSON Schema (draft 2020-12) of
// keyward.yaml for editors: add
// "# yaml-language-server: $schema=<path or URL>" to the top of the file.
//
//go:embed keyward.schema.json
var JSONSchema []byte
