package schema

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"
)

// Report is the result of Validate. It holds names, checks and reasons,
// never a value.
type Report struct {
	Environment string `json:"environment,omitempty"`
	Store       string `json:"store,omitempty"`
	// StoreSource is the rule that chose the store (--store, --env,
	// KEYWARD_STORE, SECRET_PROVIDER, keyward.yaml, default); set by the CLI.
	StoreSource string `json:"store_source,omitempty"`
	Production  bool   `json:"production"`
	Config      string `json:"config,omitempty"`
	// Valid is false when there is an error finding (or, in strict mode, a
	// warning).
	Valid    bool `json:"valid"`
	Strict   bool `json:"strict,omitempty"`
	Errors   int  `json:"errors"`
	Warnings int  `json:"warnings"`
	// Secrets has one entry per declared secret, in file order.
	Secrets []*SecretResult `json:"secrets"`
	// Findings are about files and environments, not one secret.
	Findings []Finding `json:"findings,omitempty"`
}

// SecretResult is what validate found for one secret.
type SecretResult struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Status is ok, error, warning or skipped (optional and not set).
	Status  string `json:"status"`
	Present bool   `json:"present"`
	// Length is the value's length in bytes (lengths are not secret).
	Length   int       `json:"length,omitempty"`
	Skipped  bool      `json:"-"`
	Findings []Finding `json:"findings,omitempty"`
}

// Finding is one failed check.
type Finding struct {
	Check    string   `json:"check"`
	Severity Severity `json:"severity"`
	Secret   string   `json:"secret,omitempty"`
	// File is the .env file the finding is about (relative to the project).
	File    string `json:"file,omitempty"`
	Message string `json:"message"`
	// Pos is where the secret (or environment) is declared in keyward.yaml.
	Pos Pos `json:"position,omitzero"`
}

func (r *Report) finish() {
	count := func(f Finding) {
		switch f.Severity {
		case SeverityError:
			r.Errors++
		case SeverityWarning:
			r.Warnings++
		}
	}
	for _, s := range r.Secrets {
		s.Status = "ok"
		if s.Skipped {
			s.Status = "skipped"
		}
		for _, f := range s.Findings {
			count(f)
			if f.Severity == SeverityError {
				s.Status = "error"
			} else if f.Severity == SeverityWarning && s.Status != "error" {
				s.Status = "warning"
			}
		}
	}
	for _, f := range r.Findings {
		count(f)
	}
	r.Valid = r.Errors == 0 && (!r.Strict || r.Warnings == 0)
}

// All returns every finding: per secret in file order, then the others.
func (r *Report) All() []Finding {
	var out []Finding
	for _, s := range r.Secrets {
		out = append(out, s.Findings...)
	}
	return append(out, r.Findings...)
}

func mark(sev Severity) string {
	switch sev {
	case SeverityError:
		return "✗"
	case SeverityWarning:
		return "!"
	}
	return "✓"
}

// WriteTable writes the report for people: one line per secret (✓ or ✗,
// its name, the reason), then file findings and a summary.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := "store " + r.Store
	if r.Environment != "" {
		head = "environment " + r.Environment + " (" + head + ")"
	}
	if r.Production {
		head += ", production rules"
	}
	fmt.Fprintln(tw, head)
	for _, s := range r.Secrets {
		switch {
		case s.Skipped:
			fmt.Fprintf(tw, "-\t%s\tnot set (optional)\n", s.Name)
		case len(s.Findings) == 0:
			fmt.Fprintf(tw, "✓\t%s\t\n", s.Name)
		default:
			for _, f := range s.Findings {
				fmt.Fprintf(tw, "%s\t%s\t%s: %s\n", mark(f.Severity), s.Name, f.Check, f.Message)
			}
		}
	}
	for _, f := range r.Findings {
		subject := f.File
		if subject == "" {
			subject = "(" + f.Check + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s: %s\n", mark(f.Severity), subject, f.Check, f.Message)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	verdict := "valid"
	if !r.Valid {
		verdict = "not valid"
	}
	_, err := fmt.Fprintf(w, "%d secrets: %s, %s, %s; %s\n", len(r.Secrets),
		plural(r.Errors, "error"), plural(r.Warnings, "warning"), plural(r.okCount(), "ok"), verdict)
	return err
}

func (r *Report) okCount() int {
	n := 0
	for _, s := range r.Secrets {
		if s.Status == "ok" {
			n++
		}
	}
	return n
}

func plural(n int, w string) string {
	if n == 1 || w == "ok" {
		return fmt.Sprintf("%d %s", n, w)
	}
	return fmt.Sprintf("%d %ss", n, w)
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// SARIF 2.1.0, the subset code-scanning tools read.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID               string       `json:"id"`
	ShortDescription sarifMessage `json:"shortDescription"`
	DefaultConfig    struct {
		Level string `json:"level"`
	} `json:"defaultConfiguration"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	Level     string          `json:"level"`
	Message   sarifMessage    `json:"message"`
	Locations []sarifLocation `json:"locations,omitempty"`
}

type sarifLocation struct {
	Physical struct {
		Artifact struct {
			URI string `json:"uri"`
		} `json:"artifactLocation"`
		Region *sarifRegion `json:"region,omitempty"`
	} `json:"physicalLocation"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
}

// WriteSARIF writes the report as SARIF 2.1.0 for code-scanning tools.
// Findings point at the secret's declaration in keyward.yaml, or at the
// .env file they are about.
func (r *Report) WriteSARIF(w io.Writer) error {
	run := sarifRun{Tool: sarifTool{Driver: sarifDriver{Name: "keyward", InformationURI: "https://github.com/keyward/keyward"}}, Results: []sarifResult{}}
	for _, name := range CheckNames() {
		rule := sarifRule{ID: name, ShortDescription: sarifMessage{checkHelp[name]}}
		rule.DefaultConfig.Level = sarifLevel(defaultSeverity[name])
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, rule)
	}
	cfg := filepath.ToSlash(filepath.Base(r.Config))
	if r.Config == "" {
		cfg = FileName
	}
	for _, f := range r.All() {
		res := sarifResult{RuleID: f.Check, Level: sarifLevel(f.Severity)}
		text := f.Message
		if f.Secret != "" {
			text = f.Secret + " " + f.Message
		} else if f.File != "" {
			text = f.File + " " + f.Message
		}
		if r.Environment != "" {
			text += " (environment " + r.Environment + ")"
		}
		res.Message.Text = text
		var loc sarifLocation
		switch {
		case f.File != "":
			loc.Physical.Artifact.URI = filepath.ToSlash(f.File)
		default:
			loc.Physical.Artifact.URI = cfg
			if f.Pos.Line > 0 {
				loc.Physical.Region = &sarifRegion{StartLine: f.Pos.Line, StartColumn: f.Pos.Column}
			}
		}
		res.Locations = []sarifLocation{loc}
		run.Results = append(run.Results, res)
	}
	log := sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(log)
}

func sarifLevel(s Severity) string {
	switch s {
	case SeverityError:
		return "error"
	case SeverityWarning:
		return "warning"
	}
	return "none"
}
