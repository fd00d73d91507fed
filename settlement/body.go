package settlement

import (
	"fmt"
	"strings"

	"github.com/hayek-market/hayek/internal/canon"
)

// Draft is an entry not yet in the ledger: a kind and its body, given as the
// kind's body type from types.go (value or pointer): Fund, Hold, Release,
// SignedReceipt, SignedSettle, Attestation, Outcome, Governance.
// Checkpoints are written by the ledger itself.
type Draft struct {
	Kind Kind
	Body any
}

// Size limits on the strings that become index keys and on free text.
const (
	maxName = 512  // agent, job, peer IDs, capability keys, CIDs
	maxText = 4096 // notes, reasons, details
)

// Outcome values accepted in an Outcome body.
var outcomes = map[string]bool{
	"success": true, "failure": true, "timeout": true, "wrong_result": true,
	"missed_start": true, "paid": true, "disputed": true, "settled": true,
}

// Governance actions.
const (
	ActionAgentCreate = "agent_create"
	ActionAgentLimits = "agent_limits"
	ActionAgentRevoke = "agent_revoke"
	ActionAgentPolicy = "agent_policy"
	ActionJobApprove  = "job_approve"
	ActionJobReject   = "job_reject"
	ActionJobExpire   = "job_expire"
	ActionJobCancel   = "job_cancel" // cancelled while waiting for approval (agent revoked, node stopping)
)

// openedReceipt is a receipt body with its inner Receipt decoded. id, the
// CID of the requester-signed Body, is the receipt's identity: a provider
// re-countersigning the same receipt with another head must not get paid
// twice, so duplicates are judged on Body, not on the whole SignedReceipt.
type openedReceipt struct {
	signed SignedReceipt
	r      Receipt
	id     string
}

// openedSettle is a settle body with its inner Settle decoded; id is the
// CID of the signed Body.
type openedSettle struct {
	signed SignedSettle
	s      Settle
	id     string
}

// Decode returns the entry's body as its type from types.go (Fund, Hold,
// Release, SignedReceipt, SignedSettle, Attestation, Outcome, Governance,
// Checkpoint), decoded strictly.
func (e Entry) Decode() (any, error) {
	b, err := parseBody(e.Kind, e.Body)
	if err != nil {
		return nil, err
	}
	switch b := b.(type) {
	case openedReceipt:
		return b.signed, nil
	case openedSettle:
		return b.signed, nil
	}
	return b, nil
}

// draftBody checks that body is the type kind takes and encodes it.
func draftBody(kind Kind, body any) ([]byte, error) {
	ok := false
	switch kind {
	case KindFund:
		body, ok = deref[Fund](body)
	case KindHold:
		body, ok = deref[Hold](body)
	case KindRelease:
		body, ok = deref[Release](body)
	case KindReceipt:
		body, ok = deref[SignedReceipt](body)
	case KindSettle:
		body, ok = deref[SignedSettle](body)
	case KindAttestation:
		body, ok = deref[Attestation](body)
	case KindOutcome:
		body, ok = deref[Outcome](body)
	case KindGovernance:
		body, ok = deref[Governance](body)
	case KindCheckpoint:
		return nil, fmt.Errorf("%w: checkpoints are written by the ledger, not appended", ErrInvalid)
	case KindLost:
		return nil, fmt.Errorf("%w: lost entries are written by Recover, not appended", ErrInvalid)
	default:
		return nil, fmt.Errorf("%w: unknown kind %q", ErrInvalid, kind)
	}
	if !ok {
		return nil, fmt.Errorf("%w: a %s entry takes a %s body, not %T", ErrInvalid, kind, bodyTypeName(kind), body)
	}
	raw, err := canon.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return raw, nil
}

func deref[T any](v any) (any, bool) {
	switch v := v.(type) {
	case T:
		return v, true
	case *T:
		if v == nil {
			return nil, false
		}
		return *v, true
	}
	return nil, false
}

func bodyTypeName(k Kind) string {
	switch k {
	case KindReceipt:
		return "SignedReceipt"
	case KindSettle:
		return "SignedSettle"
	}
	if k == "" {
		return "?"
	}
	return strings.ToUpper(string(k[:1])) + string(k[1:])
}

// parseBody strictly decodes raw as kind's body and checks what can be
// checked without the ledger's state or signatures.
func parseBody(kind Kind, raw []byte) (any, error) {
	var (
		out any
		err error
	)
	switch kind {
	case KindFund:
		out, err = decodeAs[Fund](raw)
	case KindHold:
		out, err = decodeAs[Hold](raw)
	case KindRelease:
		out, err = decodeAs[Release](raw)
	case KindReceipt:
		var sr SignedReceipt
		if sr, err = decodeAs[SignedReceipt](raw); err == nil {
			out, err = openReceiptBody(sr)
		}
	case KindSettle:
		var ss SignedSettle
		if ss, err = decodeAs[SignedSettle](raw); err == nil {
			out, err = openSettleBody(ss)
		}
	case KindAttestation:
		out, err = decodeAs[Attestation](raw)
	case KindOutcome:
		out, err = decodeAs[Outcome](raw)
	case KindGovernance:
		out, err = decodeAs[Governance](raw)
	case KindCheckpoint:
		out, err = decodeAs[Checkpoint](raw)
	case KindLost:
		out, err = decodeAs[Lost](raw)
	default:
		return nil, fmt.Errorf("%w: unknown kind %q", ErrInvalid, kind)
	}
	if err != nil {
		return nil, err
	}
	if err := checkBody(out); err != nil {
		return nil, err
	}
	return out, nil
}

func decodeAs[T any](raw []byte) (T, error) {
	var v T
	if err := canon.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return v, nil
}

func openReceiptBody(sr SignedReceipt) (openedReceipt, error) {
	r, err := decodeAs[Receipt](sr.Body)
	if err != nil {
		return openedReceipt{}, err
	}
	return openedReceipt{signed: sr, r: r, id: docCID(sr.Body)}, nil
}

func openSettleBody(ss SignedSettle) (openedSettle, error) {
	s, err := decodeAs[Settle](ss.Body)
	if err != nil {
		return openedSettle{}, err
	}
	return openedSettle{signed: ss, s: s, id: docCID(ss.Body)}, nil
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

func checkName(what, v string) error {
	switch {
	case v == "":
		return invalidf("%s is empty", what)
	case len(v) > maxName:
		return invalidf("%s is %d bytes, more than %d", what, len(v), maxName)
	}
	return nil
}

func checkOptName(what, v string) error {
	if v == "" {
		return nil
	}
	return checkName(what, v)
}

func checkText(what, v string) error {
	if len(v) > maxText {
		return invalidf("%s is %d bytes, more than %d", what, len(v), maxText)
	}
	return nil
}

func checkAmount(what string, v int64) error {
	if v <= 0 {
		return invalidf("%s is %d: amounts are positive integers of the smallest unit", what, v)
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// checkBody is the stateless validation of a decoded body.
func checkBody(b any) error {
	switch b := b.(type) {
	case Fund:
		return firstErr(checkName("fund agent", b.Agent), checkAmount("fund amount", b.Amount), checkText("fund note", b.Note))
	case Hold:
		return firstErr(checkName("hold job", b.Job), checkName("hold agent", b.Agent), checkAmount("hold amount", b.Amount))
	case Release:
		return firstErr(checkName("release job", b.Job), checkAmount("release amount", b.Amount), checkText("release reason", b.Reason))
	case openedReceipt:
		if err := checkReceipt(b.r); err != nil {
			return err
		}
		if len(b.signed.RequesterSig) == 0 {
			return fmt.Errorf("%w: receipt for job %s is not signed by its requester", ErrBadSignature, b.r.Job)
		}
		if len(b.signed.ProviderSig) == 0 {
			return fmt.Errorf("%w: receipt for job %s is not countersigned by its provider (countersign it first)", ErrBadSignature, b.r.Job)
		}
		return checkOptName("receipt provider head", b.signed.ProviderHead)
	case openedSettle:
		if err := checkSettle(b.s); err != nil {
			return err
		}
		if len(b.signed.Sig) == 0 {
			return fmt.Errorf("%w: settlement is not signed by its creditor %s", ErrBadSignature, b.s.Creditor)
		}
		return nil
	case Attestation:
		env, err := canon.DecodeEnvelope(b.Envelope)
		if err != nil {
			return invalidf("attestation envelope: %v", err)
		}
		if env.Kind == "" || len(env.Sig) == 0 {
			return invalidf("attestation envelope has no kind or no signature")
		}
		return nil
	case Outcome:
		if !outcomes[b.Outcome] {
			return invalidf("unknown outcome %q", b.Outcome)
		}
		return firstErr(checkName("outcome peer", b.Peer), checkOptName("outcome capability", b.Capability),
			checkOptName("outcome job", b.Job), checkOptName("outcome receipt", b.Receipt))
	case Governance:
		return checkGovernance(b)
	case Checkpoint:
		if b.Seq == 0 {
			return invalidf("checkpoint names seq 0")
		}
		if len(b.Sig) == 0 {
			return fmt.Errorf("%w: checkpoint at %d is unsigned", ErrBadSignature, b.Seq)
		}
		return firstErr(checkName("checkpoint node", b.Node), checkName("checkpoint head", b.Head))
	case Lost:
		return checkLost(b)
	}
	return invalidf("no rules for body %T", b)
}

func checkReceipt(r Receipt) error {
	if err := firstErr(checkName("receipt job", r.Job), checkName("receipt requester", r.Requester),
		checkName("receipt provider", r.Provider), checkAmount("receipt price", r.Price),
		checkOptName("receipt capability", r.Capability), checkOptName("receipt result", r.Result),
		checkOptName("receipt outcome", r.Outcome), checkOptName("receipt requester head", r.RequesterHead)); err != nil {
		return err
	}
	if r.Requester == r.Provider {
		return invalidf("receipt for job %s names %s as both requester and provider", r.Job, r.Requester)
	}
	return nil
}

func checkSettle(s Settle) error {
	if err := firstErr(checkName("settle debtor", s.Debtor), checkName("settle creditor", s.Creditor),
		checkAmount("settle amount", s.Amount), checkText("settle reference", s.Reference)); err != nil {
		return err
	}
	if s.Debtor == s.Creditor {
		return invalidf("settlement names %s as both debtor and creditor", s.Debtor)
	}
	return nil
}

func checkGovernance(g Governance) error {
	if err := checkText("governance detail", g.Detail); err != nil {
		return err
	}
	switch g.Action {
	case ActionAgentCreate, ActionAgentLimits, ActionAgentRevoke:
		if err := firstErr(checkName("governance agent", g.Agent), checkOptName("governance job", g.Job)); err != nil {
			return err
		}
		if n := len(g.TokenHash); n != 0 && n != 32 {
			return invalidf("token hash of agent %s is %d bytes, want 32 (sha256)", g.Agent, n)
		}
		if g.MaxJobPrice < 0 || g.ApproveAbove < 0 || g.RatePerHour < 0 {
			return invalidf("negative limit for agent %s (0 means no limit)", g.Agent)
		}
		return nil
	case ActionAgentPolicy:
		if err := checkName("governance agent", g.Agent); err != nil {
			return err
		}
		if g.Policy == nil {
			return invalidf("agent_policy for %s carries no policy", g.Agent)
		}
		return checkPolicy(*g.Policy)
	case ActionJobApprove, ActionJobReject, ActionJobExpire, ActionJobCancel:
		return firstErr(checkName("governance job", g.Job), checkOptName("governance agent", g.Agent))
	}
	return invalidf("unknown governance action %q", g.Action)
}

func checkPolicy(p Policy) error {
	if p.MinReputationPermill < 0 || p.MinReputationPermill > 1000 {
		return invalidf("policy minimum reputation %d‰ is outside 0..1000", p.MinReputationPermill)
	}
	if p.MaxPrice < 0 || p.MaxInputBytes < 0 {
		return invalidf("negative policy limit (0 means no limit)")
	}
	if n := len(p.Allow) + len(p.Deny) + len(p.Capabilities); n > 256 {
		return invalidf("policy names %d peers and capabilities, more than 256", n)
	}
	var errs []error
	for _, v := range p.Allow {
		errs = append(errs, checkName("policy allow", v))
	}
	for _, v := range p.Deny {
		errs = append(errs, checkName("policy deny", v))
	}
	for _, v := range p.Capabilities {
		errs = append(errs, checkName("policy capability", v))
	}
	return firstErr(errs...)
}

// lostReasons are the Reason values a Lost entry may give.
var lostReasons = map[string]bool{LostBehind: true, LostDiverged: true, LostHeadMissing: true, LostHeadCorrupt: true}

func checkLost(b Lost) error {
	if !lostReasons[b.Reason] {
		return invalidf("lost entry gives reason %q", b.Reason)
	}
	if len(b.Sig) == 0 {
		return fmt.Errorf("%w: the lost entry after %d is unsigned", ErrBadSignature, b.Kept)
	}
	if b.Covered < 0 {
		return invalidf("lost entry says it covered %d", b.Covered)
	}
	errs := []error{checkName("lost node", b.Node), checkOptName("lost kept head", b.KeptHead),
		checkOptName("lost want head", b.WantHead), checkText("lost detail", b.Detail)}
	for _, s := range b.Sources {
		errs = append(errs, checkName("lost source", s))
	}
	for _, id := range b.Reapplied {
		errs = append(errs, checkName("lost reapplied id", id))
	}
	return firstErr(errs...)
}
