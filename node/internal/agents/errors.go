package agents

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/settlement"
)

// ledgerError turns what the ledger refused into the API error a caller
// can act on: an amount that would overflow a sum is 422 naming the
// request's field (apiField) and the largest value that fits; refusals by
// the ledger's rules are 4xx; only a ledger that is closed or broken is
// 5xx. what says what was being done, for the message.
func LedgerError(err error, what, apiField string) error {
	if err == nil {
		return nil
	}
	var fe *settlement.FieldError
	if errors.As(err, &fe) {
		msg := fmt.Sprintf("%s: %d would overflow the %s; the largest %s that fits now is %d", apiField, fe.Value, fe.Sum, apiField, fe.Max)
		if fe.Max <= 0 {
			msg = fmt.Sprintf("%s: %d would overflow the %s, which is at its limit", apiField, fe.Value, fe.Sum)
		}
		return &api.Error{Code: api.CodeOutOfRange, Message: what + ": " + msg,
			Fields: []api.FieldError{{Field: apiField, Message: msg}}}
	}
	status, code := 0, ""
	switch {
	case errors.Is(err, settlement.ErrBudgetExceeded):
		code = api.CodeBudgetExceeded
	case errors.Is(err, settlement.ErrRevoked):
		code = api.CodeUnauthorized
	case errors.Is(err, settlement.ErrUnknownAgent):
		code = api.CodeNotFound
	case errors.Is(err, settlement.ErrInvalid):
		code = api.CodeBadRequest
	case errors.Is(err, settlement.ErrHoldExists), errors.Is(err, settlement.ErrDuplicate),
		errors.Is(err, settlement.ErrUnknownHold), errors.Is(err, settlement.ErrHoldClosed),
		errors.Is(err, settlement.ErrOverHold), errors.Is(err, settlement.ErrOverSettle):
		code = api.CodeConflict
	case errors.Is(err, settlement.ErrNotParty), errors.Is(err, settlement.ErrBadSignature):
		status, code = http.StatusUnprocessableEntity, api.CodeBadRequest
	case errors.Is(err, settlement.ErrClosed):
		code = api.CodeUnavailable
	default:
		return fmt.Errorf("node: %s: %w", what, err)
	}
	return &api.Error{Status: status, Code: code, Message: fmt.Sprintf("%s: %v", what, err)}
}
