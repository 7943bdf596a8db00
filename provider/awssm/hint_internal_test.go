package awssm

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/smithy-go"
)

// Common AWS failures carry a "what next" hint, as Vault's and the local
// store's do; an error without a known cause carries none.
func TestAWSHints(t *testing.T) {
	api := func(code string) error { return &smithy.GenericAPIError{Code: code, Message: "m"} }
	for _, tc := range []struct {
		err  error
		want string
	}{
		{errors.New("operation error Secrets Manager: GetSecretValue, get identity: get credentials: failed to refresh cached credentials, no EC2 IMDS role found"), "no AWS credentials were found"},
		{api("ExpiredTokenException"), "session has expired"},
		{api("AccessDeniedException"), "secretsmanager:GetSecretValue"},
		{api("UnrecognizedClientException"), "does not recognise these credentials"},
		{api("ResourceNotFoundException"), "region"},
		{errors.New("dial tcp: lookup secretsmanager.xx.amazonaws.com: no such host"), "could not be reached"},
		{api("ThrottlingException"), ""},
	} {
		h := (&sdkError{err: tc.err}).Hint()
		if tc.want == "" && h != "" || tc.want != "" && !strings.Contains(h, tc.want) {
			t.Errorf("%v: hint %q, want %q", tc.err, h, tc.want)
		}
	}
	if (&loadError{errors.New("x")}).Hint() == "" {
		t.Error("a configuration load error has no hint")
	}
}
