package cli

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/export"
	"github.com/keyward/keyward/gen"
	"github.com/keyward/keyward/internal/cli/cmdutil"
)

// Shell completion ('keyward completion bash|zsh|fish|powershell'):
// key names for the verbs that take a KEY, environment names for --env,
// formats for --format, recipes for --generate and --recipe.

// keyVerbs take KEY arguments: how many (-1: any number).
var keyVerbs = map[string]int{"get": 1, "set": 1, "history": 1, "delete": 1, "rotate": 1, "status": -1}

// formatFlags are the --format values per verb.
var formatValues = map[string][]string{
	"export":   export.Formats,
	"validate": {"table", "json", "sarif"},
	"scan":     {"text", "json", "sarif"},
}

// completionTimeout bounds reading a store's key names while completing.
const completionTimeout = 3 * time.Second

func installCompletion(f *cmdutil.Factory, root *cobra.Command) {
	_ = root.RegisterFlagCompletionFunc("env", func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return prefixed(envNames(f), toComplete), cobra.ShellCompDirectiveNoFileComp
	})
	recipes := func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		var out []string
		for _, r := range gen.Recipes() {
			out = append(out, r.Name+"\t"+r.Description)
		}
		return prefixed(out, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
	for _, cmd := range root.Commands() {
		name := cmd.Name()
		if n, ok := keyVerbs[name]; ok && cmd.ValidArgsFunction == nil {
			cmd.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
				if n >= 0 && len(args) >= n {
					return nil, cobra.ShellCompDirectiveNoFileComp
				}
				keys := keyNames(cmd.Context(), f)
				keys = slices.DeleteFunc(keys, func(k string) bool { return slices.Contains(args, k) })
				return prefixed(keys, toComplete), cobra.ShellCompDirectiveNoFileComp
			}
		}
		if vals, ok := formatValues[name]; ok && cmd.Flags().Lookup("format") != nil {
			_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(vals, cobra.ShellCompDirectiveNoFileComp))
		}
		for _, fl := range []string{"generate", "recipe"} {
			if cmd.Flags().Lookup(fl) != nil {
				_ = cmd.RegisterFlagCompletionFunc(fl, recipes)
			}
		}
	}
}

// keyNames are keyward.yaml's secrets and the keys the current store lists
// (when it can be read quickly), sorted and without duplicates.
func keyNames(ctx context.Context, f *cmdutil.Factory) []string {
	var out []string
	if f.DeclaredKeys != nil {
		out = append(out, f.DeclaredKeys()...)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()
	u, env, _, err := f.ResolveStoreURL()
	if err == nil {
		if s, err := f.OpenURL(ctx, u, env); err == nil {
			if infos, err := s.List(ctx); err == nil {
				for _, in := range infos {
					out = append(out, in.Key)
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func envNames(f *cmdutil.Factory) []string {
	if f.Environments == nil {
		return nil
	}
	names, _ := f.Environments()
	return append([]string(nil), names...)
}

func prefixed(vals []string, prefix string) []string {
	var out []string
	for _, v := range vals {
		if strings.HasPrefix(v, prefix) {
			out = append(out, v)
		}
	}
	return out
}
