package cli

import (
	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/cli/auditcmd"
	"github.com/keyward/keyward/internal/cli/cmdutil"
)

func init() {
	register(func(f *cmdutil.Factory) *cobra.Command { return auditcmd.NewCmd(f, nil) }, "audit")
}
