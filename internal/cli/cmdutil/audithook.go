package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/audit"
)

// The audit trail: every store opened by a verb reports its operations to
// the audit logger, and every verb itself leaves one record ("cli.<verb>").
// NewWith wires it (wireAudit).

type auditState struct {
	once   sync.Once
	cfg    audit.Effective
	cfgErr error // the user's or the project's audit section could not be read
	logger *audit.Logger
	err    error // the log could not be opened

	warnOnce sync.Once
}

func (a *auditState) open(f *Factory) (*audit.Logger, audit.Effective, error) {
	a.once.Do(func() {
		// The user's settings apply even when the project's section is
		// broken: AuditConfig returns them together with the error.
		a.cfg, a.cfgErr = f.AuditConfig()
		if !a.cfg.Enabled {
			return
		}
		// No fsync per record: one before the command's outcome record
		// (AfterCommand), or in the background after a delivery record.
		o := audit.Options{Path: a.cfg.File, NoFsync: !a.cfg.Fsync, SyncOnClose: true}
		if a.cfg.Stderr {
			o.Sinks = append(o.Sinks, &audit.WriterSink{W: f.IO.ErrOut})
		}
		var err error
		if a.cfg.HMACValues {
			if o.Key, err = audit.LoadOrCreateKey(a.cfg.KeyFile); err != nil {
				a.err = err
				return
			}
		}
		a.logger, a.err = audit.Open(o)
	})
	return a.logger, a.cfg, a.err
}

// warn prints, once per command, the one line that says records are being
// lost while audit is not required.
func (a *auditState) warn(f *Factory, err error) {
	a.warnOnce.Do(func() {
		msg := strings.Join(strings.Fields(err.Error()), " ")
		msg = strings.TrimPrefix(msg, "keyward: ")
		fmt.Fprintf(f.IO.ErrOut, "keyward: warning: audit records are not being written (%s); continuing because audit is not required (docs/audit.md)\n", msg)
	})
}

// configError is the error a verb that opens a store gets while an audit
// section cannot be read: exit code 2, like any invalid configuration.
func configError(err error) error {
	var pe *audit.ProjectError
	hint := "fix the audit section of your config file (docs/audit.md)"
	if errors.As(err, &pe) {
		hint = "fix keyward.yaml's audit: section (docs/audit.md); keyward reads no secret while it cannot tell what that section asks for, and a repository can never switch audit off"
	}
	return WithHint(keyward.NewError(keyward.InvalidArgument, "read the audit configuration", err), hint)
}

func (f *Factory) wireAudit() {
	st := &auditState{}
	f.StoreOptions = func(o *keyward.StoreOptions) error {
		l, cfg, err := st.open(f)
		if st.cfgErr != nil {
			return configError(st.cfgErr)
		}
		if err != nil {
			if cfg.Required {
				return WithHint(keyward.NewError(keyward.FailedPrecondition, "open the audit log", err),
					"audit is required; fix the audit log location or permissions (docs/audit.md)")
			}
			st.warn(f, err)
			return nil
		}
		if l != nil {
			o.Audit = func(ctx context.Context, e *keyward.Event) error {
				err := l.Hook(ctx, e)
				if err != nil && !cfg.Required {
					st.warn(f, err)
				}
				return err
			}
			o.AuditRequired = cfg.Required
		}
		return nil
	}
	f.AfterCommand = func(ctx context.Context, cmd *cobra.Command, cmdErr error) error {
		if isAuditVerb(cmd) || cmd.Name() == "help" || cmd.Name() == "completion" {
			return nil
		}
		l, cfg, err := st.open(f)
		if err == nil && l != nil {
			r := &audit.Record{Action: "cli." + strings.ReplaceAll(strings.TrimPrefix(cmd.CommandPath(), "keyward "), " ", "."),
				Env: f.EnvName, Outcome: "ok"}
			if cmdErr != nil {
				var se *SilentError
				if !errors.As(cmdErr, &se) {
					r.Outcome, r.Code = "error", keyward.ErrorCode(cmdErr).String()
				}
			}
			// The records of what the command read and wrote are made
			// durable first (a run's delivery record already is, synced
			// while its child started); the outcome record after them is
			// fsynced only when audit is required (docs/audit.md).
			err = errors.Join(l.SyncPending(), l.Append(ctx, r))
			if cfg.Required {
				err = errors.Join(err, l.Close())
			} else {
				err = errors.Join(err, l.CloseUnsynced())
			}
		}
		switch {
		case err == nil:
		case !cfg.Required:
			st.warn(f, err)
		case cmdErr == nil:
			return keyward.NewError(keyward.FailedPrecondition, "write the audit log", err)
		}
		return nil
	}
}

// The audit verbs read the log; recording them would make `audit verify`
// chase its own tail.
func isAuditVerb(cmd *cobra.Command) bool {
	for c := cmd; c != nil; c = c.Parent() {
		if c.Name() == "audit" {
			return true
		}
	}
	return false
}
