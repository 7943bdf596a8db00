package schema

import (
	"errors"
	"strings"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/gen"
)

func recipeNames() []string { return gen.Names() }

// checkRecipe checks a generate spec, "RECIPE" or "RECIPE:SIZE", with
// package gen's rules (known recipe, allowed size).
func checkRecipe(spec string) error {
	if strings.TrimSpace(spec) == "" {
		return errors.New("empty recipe")
	}
	if _, err := gen.Parse(spec); err != nil {
		var ke *keyward.Error
		if errors.As(err, &ke) && ke.Unwrap() != nil {
			return ke.Unwrap()
		}
		return err
	}
	return nil
}
