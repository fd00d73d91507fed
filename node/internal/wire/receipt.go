package wire

import (
	"bufio"
	"context"
	"time"

	"github.com/libp2p/go-libp2p/core/host"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/settlement"
)

// ReceiptMsg is a frame on /hayek/receipt/1.0.0: a requester-signed
// receipt for the provider to countersign, or a creditor-signed settlement
// for the debtor to record. The answer is the same type: the countersigned
// receipt, or an error.
type ReceiptMsg struct {
	Kind    string                    `cbor:"kind"` // "receipt" or "settle"
	Receipt *settlement.SignedReceipt `cbor:"receipt"`
	Settle  *settlement.SignedSettle  `cbor:"settle"`
	Error   string                    `cbor:"error"`
}

// SendReceipt sends m to peer to and reads its answer.
func SendReceipt(ctx context.Context, h host.Host, to string, m ReceiptMsg) (ReceiptMsg, error) {
	pid, err := DecodePeer(to)
	if err != nil {
		return ReceiptMsg{}, err
	}
	st, err := h.NewStream(ctx, pid, ProtoReceipt)
	if err != nil {
		return ReceiptMsg{}, err
	}
	defer st.Close()
	st.SetDeadline(time.Now().Add(10 * time.Second))
	if err := WriteFrame(st, canon.MustMarshal(m)); err != nil {
		st.Reset()
		return ReceiptMsg{}, err
	}
	st.CloseWrite()
	b, err := ReadFrame(bufio.NewReader(st), MaxReceiptFrame)
	if err != nil {
		st.Reset()
		return ReceiptMsg{}, err
	}
	var reply ReceiptMsg
	if err := canon.Unmarshal(b, &reply); err != nil {
		return ReceiptMsg{}, err
	}
	return reply, nil
}
