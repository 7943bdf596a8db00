package schema

import (
	"fmt"
	"strconv"
	"strings"
)

// knownRecipes mirrors package gen's recipe names until schema can use
// gen directly.
var knownRecipes = []string{"urlsafe", "base64", "hex", "uuid", "uuid-dashed", "alnum", "passphrase"}

func recipeNames() []string { return knownRecipes }

// checkRecipe checks a generate spec, "RECIPE" or "RECIPE:SIZE".
func checkRecipe(spec string) error {
	name, size, hasSize := strings.Cut(strings.TrimSpace(spec), ":")
	if !containsStr(knownRecipes, name) {
		return fmt.Errorf("unknown recipe %q (known: %s)", name, strings.Join(knownRecipes, ", "))
	}
	if hasSize {
		if n, err := strconv.Atoi(size); err != nil || n <= 0 {
			return fmt.Errorf("size %q is not a positive whole number", size)
		}
	}
	return nil
}
