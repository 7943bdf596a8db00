package cli

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/audit"
	"github.com/keyward/keyward/internal/cli/cmdutil"
)

// The audit trail: every store opened by a verb reports its operations to
// the audit logger, and every verb itself leaves one record ("cli.<verb>").
func init() {
	factoryHooks = append(factoryHooks, installAudit)
}

type auditState struct {
	once   sync.Once
	cfg    audit.Effective
	logger *audit.Logger
	err    error
}

func (a *auditState) open(f *cmdutil.Factory) (*audit.Logger, audit.Effective, error) {
	a.once.Do(func() {
		var err error
		if a.cfg, err = audit.Resolve(f.Getenv, f.ProjectConfigPath()); err != nil {
			a.err = err
			return
		}
		if !a.cfg.Enabled {
			return
		}
		// One fsync when the command ends, not one per record.
		o := audit.Options{Path: a.cfg.File, NoFsync: !a.cfg.Fsync, SyncOnClose: true}
		if a.cfg.Stderr {
			o.Sinks = append(o.Sinks, &audit.WriterSink{W: f.IO.ErrOut})
		}
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

func installAudit(f *cmdutil.Factory) {
	st := &auditState{}
	prev := f.StoreOptions
	f.StoreOptions = func(f *cmdutil.Factory, o *keyward.StoreOptions) error {
		if prev != nil {
			if err := prev(f, o); err != nil {
				return err
			}
		}
		l, cfg, err := st.open(f)
		if err != nil {
			if cfg.Required || f.Getenv("KEYWARD_AUDIT_REQUIRED") == "1" {
				return cmdutil.WithHint(keyward.NewError(keyward.FailedPrecondition, "open the audit log", err),
					"audit is required; fix the audit log location or permissions (docs/audit.md)")
			}
			return nil
		}
		if l != nil {
			o.Audit = l.Hook
			o.AuditRequired = cfg.Required
		}
		return nil
	}
	prevAfter := f.AfterCommand
	f.AfterCommand = func(ctx context.Context, cmd *cobra.Command, cmdErr error) error {
		var errs []error
		if prevAfter != nil {
			errs = append(errs, prevAfter(ctx, cmd, cmdErr))
		}
		if isAuditVerb(cmd) || cmd.Name() == "help" || cmd.Name() == "completion" {
			return errors.Join(errs...)
		}
		l, cfg, err := st.open(f)
		if err == nil && l != nil {
			r := &audit.Record{Action: "cli." + strings.ReplaceAll(strings.TrimPrefix(cmd.CommandPath(), "keyward "), " ", "."),
				Env: f.EnvName, Outcome: "ok"}
			if cmdErr != nil {
				var se *cmdutil.SilentError
				if !errors.As(cmdErr, &se) {
					r.Outcome, r.Code = "error", keyward.ErrorCode(cmdErr).String()
				}
			}
			err = errors.Join(l.Append(ctx, r), l.Close())
		}
		if err != nil && cfg.Required && cmdErr == nil {
			errs = append(errs, keyward.NewError(keyward.FailedPrecondition, "write the audit log", err))
		}
		return errors.Join(errs...)
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
