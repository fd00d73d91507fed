package api

import (
	"errors"
	"fmt"
	"net/http"
)

// Stable error codes, with the HTTP status each is served with.
const (
	CodeBadRequest      = "bad_request"            // 400: malformed JSON, unknown field, bad parameter
	CodeInvalidSpec     = "invalid_spec"           // 422: the job spec is well-formed but invalid; see fields
	CodeInvalidModule   = "invalid_module"         // 422: the module is not a WebAssembly module
	CodeBlobNotFound    = "blob_not_found"         // 404 on GET /v1/blobs; 422 when a spec names a CID this node does not hold
	CodeNotFound        = "not_found"              // 404: no such job or route
	CodeIdempotencyUsed = "idempotency_key_reused" // 409: same key, different spec
	CodeNotFinished     = "not_finished"           // 409: the job has no result yet
	CodeTooLarge        = "too_large"              // 413: body above its limit
	CodeTimeout         = "request_timeout"        // 408: the request body came too slowly or stalled
	CodeTooManyConns    = "too_many_connections"   // 429: the caller's Unix user holds the most connections it may
	CodeBusy            = "busy"                   // 503: the socket serves its maximum of connections
	CodeMethod          = "method_not_allowed"     // 405
	CodeUnavailable     = "unavailable"            // 503: the node is shutting down
	CodeUnauthorized    = "unauthorized"           // 401: missing, unknown or revoked token
	CodeForbidden       = "forbidden"              // 403: an agent asked for the operator's business or another agent's job
	CodeBudgetExceeded  = "budget_exceeded"        // 402: the agent's budget left cannot cover the job's max cost
	CodeOverLimit       = "over_limit"             // 403: above the agent's max job price or jobs per hour
	CodeNotApproval     = "not_awaiting_approval"  // 409: approve/reject of a job that is not waiting for approval
	CodeExists          = "already_exists"         // 409: an agent of that name exists
	CodeOutOfRange      = "out_of_range"           // 422: an amount would overflow what the ledger can hold; see fields
	CodeConflict        = "conflict"               // 409: the ledger's rules refuse it as things stand (a hold closed, a debt smaller)
	CodeInternal        = "internal"               // 500
	CodeRateLimited     = "rate_limited"           // 429: the caller asks for quotes faster than the node answers them
	CodePolicy          = "policy_forbids"         // 403: the job's placement or its agent's policy forbids it; fields name the rule
)

// StatusOf is the HTTP status a code is served with.
func StatusOf(code string) int {
	switch code {
	case CodeBadRequest:
		return http.StatusBadRequest
	case CodeInvalidSpec, CodeInvalidModule, CodeOutOfRange:
		return http.StatusUnprocessableEntity
	case CodeBlobNotFound, CodeNotFound:
		return http.StatusNotFound
	case CodeIdempotencyUsed, CodeNotFinished:
		return http.StatusConflict
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeMethod:
		return http.StatusMethodNotAllowed
	case CodeUnavailable, CodeBusy:
		return http.StatusServiceUnavailable
	case CodeTimeout:
		return http.StatusRequestTimeout
	case CodeTooManyConns, CodeRateLimited:
		return http.StatusTooManyRequests
	case CodeUnauthorized:
		return http.StatusUnauthorized
	case CodeForbidden, CodeOverLimit, CodePolicy:
		return http.StatusForbidden
	case CodeBudgetExceeded:
		return http.StatusPaymentRequired
	case CodeNotApproval, CodeExists, CodeConflict:
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

// Error is an API error: what the server sends and what the client returns.
// Backends return *Error to choose the code; any other error is internal.
type Error struct {
	Status  int // HTTP status; 0 means StatusOf(Code)
	Code    string
	Message string
	Fields  []FieldError
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "hayek: " + e.Code
	}
	return fmt.Sprintf("hayek: %s: %s", e.Code, e.Message)
}

// HTTPStatus is the status the error is served with.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	return StatusOf(e.Code)
}

// Errorf builds an *Error with a code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// IsCode reports whether err is an *Error with the given code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}
