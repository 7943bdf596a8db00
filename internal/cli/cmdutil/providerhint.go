package cmdutil

import "errors"

// providerHints returns the next step a provider's own error suggests: any
// error in the chain with a Hint() string method (provider/local's errors
// say "run 'keyward init'" or "chmod 600 FILE"). A hint the verb already
// attached with WithHint is not repeated.
func providerHints(err error) []string {
	var ph interface{ Hint() string }
	if !errors.As(err, &ph) || ph.Hint() == "" {
		return nil
	}
	h := ph.Hint()
	var he *HintError
	for e := err; errors.As(e, &he); e = he.Err {
		for _, x := range he.Hints {
			if x == h {
				return nil
			}
		}
	}
	return []string{h}
}
