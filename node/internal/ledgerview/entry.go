package ledgerview

import (
	"encoding/json"
	"time"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/settlement"
)

// Entry is how the API shows a ledger entry.
func Entry(e settlement.Entry) api.LedgerEntry {
	v := api.LedgerEntry{Seq: e.Seq, CID: e.CID(), Prev: e.Prev, Time: time.UnixMilli(e.Time).UTC(), Kind: string(e.Kind)}
	body, err := e.Decode()
	if err == nil {
		body = readableBody(body)
		v.Body, err = json.Marshal(body)
	}
	if err != nil {
		v.Body, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	return v
}

// readableBody opens the signed bodies (receipts, settlements) so the JSON
// shows what they say; the signatures stay in the ledger.
func readableBody(b any) any {
	switch x := b.(type) {
	case settlement.SignedReceipt:
		var r settlement.Receipt
		if err := canon.Unmarshal(x.Body, &r); err == nil {
			return struct {
				settlement.Receipt
				ProviderHead string `json:"provider_head"`
			}{r, x.ProviderHead}
		}
	case settlement.SignedSettle:
		var s settlement.Settle
		if err := canon.Unmarshal(x.Body, &s); err == nil {
			return s
		}
	}
	return b
}
