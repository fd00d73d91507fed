package node

import (
	"context"

	"github.com/hayek-market/hayek/node/api"
)

// Audit implements api.Auditor. The requester assembles the bundle: it
// keeps every signed message of its jobs.
func (n *Node) Audit(ctx context.Context, id string) (api.Audit, error) {
	return n.requester.Audit(ctx, id)
}
