package requester

import (
	"context"
	"log/slog"

	"github.com/hayek-market/hayek/settlement"
)

// OrphanLedger is what ReleaseOrphans needs of the ledger.
type OrphanLedger interface {
	OpenHolds() []settlement.HoldState
	AppendAll(ctx context.Context, drafts ...settlement.Draft) ([]settlement.Entry, error)
}

// ReleaseOrphans returns the holds of jobs that died with the previous run
// of the node: jobs live in memory, so after a restart no job can settle
// an open hold, and its money goes back to its agent. The node calls it
// once, when it opens its ledger, before any job can take a hold.
func ReleaseOrphans(ctx context.Context, l OrphanLedger, log *slog.Logger) error {
	var drafts []settlement.Draft
	for _, h := range l.OpenHolds() {
		if h.Remaining > 0 {
			drafts = append(drafts, settlement.Draft{Kind: settlement.KindRelease, Body: settlement.Release{
				Job: h.Job, Amount: h.Remaining, Reason: "the node restarted: the job was lost"}})
		}
	}
	if len(drafts) == 0 {
		return nil
	}
	log.Warn("releasing the holds of jobs lost in a restart", "jobs", len(drafts))
	_, err := l.AppendAll(ctx, drafts...)
	return err
}
