//go:build !keyward_omit_awssm

package awssm

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/keyward/keyward/driver"
	"github.com/keyward/keyward/internal/cloudsm"
)

// The error mapping both drivers share (see # Errors in the package doc).

type loadError struct{ err error }

func (e *loadError) Error() string { return "failed to load the AWS configuration: " + e.err.Error() }
func (e *loadError) Unwrap() error { return e.err }

// Hint says what to do next; the CLI prints it as a "hint:" line.
func (e *loadError) Hint() string {
	return "check AWS_PROFILE, AWS_CONFIG_FILE and ~/.aws/config; see docs/providers/awssm.md"
}

var (
	errNotFound   = errors.New("no such key")
	errConflict   = errors.New("check-and-set conflict: the current version is not the expected one")
	errNotObject  = errors.New("is not a JSON object (bundle mode needs one; use ?mode=keys for one secret per key)")
	errNotText    = errors.New("bundle values must be UTF-8 text; use ?mode=keys for binary values")
	errContention = errors.New("gave up after repeated concurrent writes to the same secret")
)

type keyError struct {
	err        error
	secret     string
	key        string
	retryAfter time.Duration
}

func (e *keyError) Error() string {
	msg := "secret " + strconv.Quote(e.secret)
	if e.key != "" {
		msg += " key " + strconv.Quote(e.key)
	}
	return msg + ": " + e.err.Error()
}
func (e *keyError) Unwrap() error             { return e.err }
func (e *keyError) RetryAfter() time.Duration { return e.retryAfter }

// sdkError wraps an SDK error: it adds Retry-After and replaces the text of
// deserialization errors, which may quote bytes of a response body.
type sdkError struct {
	err        error
	retryAfter time.Duration
	truncated  bool
}

func (e *sdkError) Error() string {
	if e.truncated {
		return "malformed or truncated response from Secrets Manager"
	}
	return e.err.Error()
}
func (e *sdkError) Unwrap() error             { return e.err }
func (e *sdkError) RetryAfter() time.Duration { return e.retryAfter }

// Hint says what to do next for the common AWS failures, as the Vault and
// local providers do; the CLI prints it as a "hint:" line.
func (e *sdkError) Hint() string { return awsHint(e.err) }

func awsHint(err error) string {
	msg := err.Error()
	switch code := apiCode(err); {
	case strings.Contains(msg, "get credentials") || strings.Contains(msg, "get identity") || strings.Contains(msg, "no EC2 IMDS role"):
		return "no AWS credentials were found: run 'aws sso login' (or 'aws configure'), set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
	case code == "ExpiredToken" || code == "ExpiredTokenException":
		return "the AWS session has expired: run 'aws sso login' again, or refresh the credentials"
	case code == "AccessDeniedException" || code == "AccessDenied":
		return "the AWS identity may not do this: its IAM policy needs secretsmanager:GetSecretValue (and kms:Decrypt for a customer-managed key) on the secret; 'aws sts get-caller-identity' shows who you are"
	case code == "UnrecognizedClientException" || code == "InvalidClientTokenId" || code == "InvalidSignatureException" || code == "SignatureDoesNotMatch":
		return "AWS does not recognise these credentials: check AWS_PROFILE / AWS_ACCESS_KEY_ID, and the clock"
	case code == "ResourceNotFoundException":
		return "check the secret's name and the region (?region=… in the store URL, or AWS_REGION)"
	case strings.Contains(msg, "dial tcp") || strings.Contains(msg, "no such host") || strings.Contains(msg, "connection refused"):
		return "Secrets Manager could not be reached: check the network, the region, and AWS_ENDPOINT_URL if you set one"
	}
	return ""
}

func wrapSDK(err error) error {
	if err == nil {
		return nil
	}
	se := &sdkError{err: err}
	var de *smithy.DeserializationError
	if errors.As(err, &de) {
		se.truncated = true
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		se.retryAfter = cloudsm.RetryAfter(re.Response.Header.Get("Retry-After"))
	} else {
		var sre *smithyhttp.ResponseError
		if errors.As(err, &sre) && sre.Response != nil {
			se.retryAfter = cloudsm.RetryAfter(sre.Response.Header.Get("Retry-After"))
		}
	}
	return se
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// isScheduledForDeletion reports the InvalidRequestException the service
// answers for a secret in its recovery window.
func isScheduledForDeletion(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidRequestException" {
		return false
	}
	m := strings.ToLower(ae.ErrorMessage())
	return strings.Contains(m, "marked for deletion") || strings.Contains(m, "scheduled for deletion")
}

// ErrorCode maps the service's errors to keyward codes.
func errorCode(err error) driver.Code {
	switch {
	case err == nil:
		return driver.OK
	case errors.Is(err, errNotFound):
		return driver.NotFound
	case errors.Is(err, errConflict), errors.Is(err, errNotObject):
		return driver.FailedPrecondition
	case errors.Is(err, errNotText):
		return driver.InvalidArgument
	case errors.Is(err, errContention):
		return driver.Unavailable
	case errors.Is(err, context.Canceled):
		return driver.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return driver.DeadlineExceeded
	}
	if isScheduledForDeletion(err) {
		return driver.NotFound
	}
	switch apiCode(err) {
	case "ResourceNotFoundException":
		return driver.NotFound
	case "AccessDeniedException", "AccessDenied", "UnrecognizedClientException", "InvalidSignatureException",
		"IncompleteSignature", "IncompleteSignatureException", "MissingAuthenticationToken",
		"MissingAuthenticationTokenException", "ExpiredToken", "ExpiredTokenException",
		"InvalidClientTokenId", "SignatureDoesNotMatch", "NotAuthorized":
		return driver.PermissionDenied
	case "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded",
		"InternalServiceError", "InternalFailure", "ServiceUnavailable", "ServiceUnavailableException",
		"RequestTimeout", "RequestTimeoutException":
		return driver.Unavailable
	case "InvalidRequestException", "InvalidParameterException", "InvalidNextTokenException",
		"ValidationException", "SerializationException", "MalformedPolicyDocumentException":
		return driver.InvalidArgument
	case "ResourceExistsException":
		return driver.AlreadyExists
	case "PreconditionNotMetException", "LimitExceededException", "DecryptionFailure", "EncryptionFailure":
		return driver.FailedPrecondition
	}
	var sc interface{ HTTPStatusCode() int }
	if errors.As(err, &sc) {
		switch s := sc.HTTPStatusCode(); {
		case s == 429 || s >= 500:
			return driver.Unavailable
		case s == 401 || s == 403:
			return driver.PermissionDenied
		case s == 404:
			return driver.NotFound
		case s >= 400:
			return driver.InvalidArgument
		}
	}
	var rse *smithyhttp.RequestSendError
	var de *smithy.DeserializationError
	if errors.As(err, &rse) || errors.As(err, &de) {
		return driver.Unavailable
	}
	var le *loadError
	if errors.As(err, &le) {
		return driver.FailedPrecondition
	}
	// No usable credentials in the chain: the request was never sent.
	var sge *v4.SigningError
	if errors.As(err, &sge) {
		return driver.PermissionDenied
	}
	var oe *smithy.OperationError
	if errors.As(err, &oe) && oe.Err != nil && strings.HasPrefix(oe.Err.Error(), "get identity:") {
		return driver.PermissionDenied
	}
	return driver.Unknown
}
