// Package settlement is each node's ledger: an append-only, hash-chained
// log of money and evidence in one pebble database, with the indexes that
// answer "how much may this agent still spend", "what does this job still
// hold" and "who owes whom". It imports no other hayek package; the node
// drives it.
//
// # What it owns
//
//   - Agents' budgets: funded, held on open holds, spent, left; and their
//     limits, token hashes and revocation, from governance entries.
//   - Budget holds: a job's maximum cost is set aside before its auction,
//     paid out by receipts, returned by releases.
//   - Receipts countersigned by requester and provider, and the bilateral
//     balance with every peer they leave, netted both ways.
//   - Settlements: a creditor's signed acknowledgement that a debt was paid
//     outside the ledger (PaymentRail is where a real rail would plug in;
//     there is none).
//   - First-hand reputation evidence (outcome) and the attestations this
//     node issued, kept as evidence; their meaning is the reputation
//     package's.
//   - Verification: of the database (Verify), of an export offline
//     (VerifyExport), and of several nodes' exports against each other
//     (Audit).
//   - Lost writes: noticing at Open that entries it once acknowledged are
//     gone (the head file), and recovering honestly (Recover).
//
// # Driving it
//
//	l, err := settlement.Open(ctx, filepath.Join(home, "ledger"), settlement.Options{Signer: id, Verifier: peers})
//	defer l.Close()
//	_, err = l.Append(ctx, settlement.KindHold, settlement.Hold{Job: job, Agent: agent, Amount: maxCost})
//	if errors.Is(err, settlement.ErrBudgetExceeded) { /* API code budget_exceeded */ }
//
// The receipt protocol: the requester signs (SignReceipt) with its Head()
// in RequesterHead; the provider checks the requester's signature
// (OpenReceiptRequest), countersigns with its own Head() (Countersign), and
// both Append the same SignedReceipt. Append checks both signatures.
// Settlement: the creditor signs a Settle (SignSettle), both Append it.
//
// Entries, Agent(s), Hold, OpenHolds, Balance(s), Totals and Head read; Verify,
// Export, VerifyExport and Audit check; Recover, run on a closed ledger that
// Open refused with a LostWritesError, repairs. Everything is safe for
// concurrent use.
//
// What an error means, and what the node's API makes of it:
//
//	*FieldError (ErrOverflow)  an amount would carry a sum past int64: 422,
//	                           naming Field and Max
//	ErrInvalid, ErrBudgetExceeded, ErrHoldExists, ErrUnknownHold,
//	ErrHoldClosed, ErrOverHold, ErrOverSettle, ErrDuplicate, ErrNotParty,
//	ErrUnknownAgent, ErrRevoked, ErrBadSignature
//	                           the entry breaks a rule: 4xx, nothing appended
//	*CorruptionError           the data is damaged: 500; restore it
//	*LostWritesError           Open: acknowledged entries are gone; the node
//	                           does not start until Recover
//	ErrFailed, ErrClosed       the ledger cannot append now: 503
//
// # Entries
//
// An Entry is {Seq, Prev, Time, Kind, Body}: Seq counts from 1, Prev is the
// CID of entry Seq-1 ("" for the first), Time is Unix ms (never going
// back), Body is the canonical CBOR of the kind's body type (types.go). An
// entry's CID is the CIDv1 (cbor, sha2-256) of its canonical encoding, so
// each entry commits to the whole history before it. Amounts are int64 of
// the smallest unit, positive; never floats. Every sum an entry moves
// (budget, held, spent, funded, a hold's amount and payments, balances,
// earned, settled, the totals) is checked before anything changes: an
// entry that would carry one past int64 (balances: past ±MaxInt64, so they
// can always be negated) is refused with a *FieldError{Field, Value, Max,
// Sum} that unwraps to ErrOverflow and names the largest value that fits
// (amount.go). Invariant checks compare exact 128-bit sums, so no wrap can
// pass for a match.
//
// What each kind does (self is the node, Options.Signer):
//
//	fund        agent's budget += amount
//	hold        needs budget ≥ amount (ErrBudgetExceeded), no open hold for
//	            the job (ErrHoldExists), agent not revoked (ErrRevoked);
//	            budget -= amount, held += amount. A job whose hold closed may
//	            be held again, for the same agent.
//	release     needs an open hold (ErrUnknownHold, ErrHoldClosed) with
//	            remaining ≥ amount (ErrOverHold); back to the budget. A hold
//	            whose remaining reaches 0 closes.
//	receipt     a SignedReceipt, both signatures verified on append
//	            (ErrBadSignature), recorded once (ErrDuplicate, judged on the
//	            requester-signed body: re-countersigning does not make a new
//	            receipt). Requester = self: needs an open hold for the job
//	            covering the price (ErrUnknownHold, ErrHoldClosed,
//	            ErrOverHold); held -= price, the agent's spent and the
//	            ledger's paid += price, Balance(provider) -= price. Several
//	            receipts per job (replicas) while the hold covers them.
//	            Provider = self: Balance(requester) += price, earned += price.
//	            Neither: ErrNotParty.
//	settle      a SignedSettle, verified as the creditor's (ErrBadSignature),
//	            recorded once. Creditor = self: Balance(debtor) -= amount;
//	            debtor = self: Balance(creditor) += amount; more than the
//	            debt is ErrOverSettle; neither is ErrNotParty.
//	governance  agent_create (ErrDuplicate if created before), agent_limits, agent_policy,
//	            agent_revoke (ErrUnknownAgent, ErrRevoked) update the Account;
//	            job_approve, job_reject, job_expire, job_cancel are recorded only.
//	outcome     recorded (a valid outcome value; not about self).
//	attestation recorded (a canon.Envelope).
//	checkpoint  written by the ledger, never appended: see below.
//	lost        written by Recover, never appended: the node's signed
//	            statement that entries it acknowledged were lost; it must
//	            follow the last entry kept (Kept, KeptHead) and moves no
//	            money. See "Lost writes".
//
// Malformed bodies are ErrInvalid. A rejected append changes nothing.
// Every error carries the "settlement: " prefix and the case's details.
//
// The rules live in a pure state (state.apply, rules.go), in the manner of
// etcd's raft: no I/O, no clock, fed one entry at a time. Append runs it
// before writing and persists only what it accepted; Open's rebuild,
// Verify and VerifyExport run the same code over a chain.
//
// # Invariants
//
// After every entry:
//
//	Funded = BudgetsLeft + Held + Paid                     (agents' money)
//	Owed - Owing = Earned - Paid - SettledIn + SettledOut  (balances)
//
// apply checks both on the running Totals (O(1), always on). Under the
// invariants build tag (go test -tags invariants) it also recounts them
// from every account, open hold and balance after each entry; Verify always
// recounts at the end, per agent (Funded = Budget + Held + Spent) and per
// hold (Amount = Remaining + Paid + Released) too.
//
// # Durability and group commit
//
// Append returns only once its entry is synced. Appenders encode, decode
// and verify signatures on their own goroutines, then queue. One committer
// goroutine takes everything queued (up to Options.MaxBatch entries, one
// AppendAll always whole), applies it request by request (a request that
// breaks a rule is rolled back alone: AppendAll is all or nothing), appends
// one checkpoint — the node's signature over the group's last entry —
// and writes entries, lookup keys, changed index records and the head
// record in one pebble batch with Sync. Only then are the appenders
// answered, and only then do readers see the new state. With many
// appenders a group carries many entries per fsync, so throughput grows
// with concurrency instead of collapsing to one fsync per entry.
//
// Beside the batch, and in parallel with its sync, the committer writes the
// head file (HEAD, below); a group is acknowledged once both are durable.
//
// Because entries, indexes and checkpoint share one synced batch, a crash
// leaves whole groups or nothing: the chain always ends on a checkpoint and
// the indexes always match it. An append whose ctx ends before the
// committer takes it appends nothing; once taken it is answered after its
// group's write. If a write fails, what reached the disk is unknown: the
// ledger refuses appends (ErrFailed) until it is closed and opened again.
//
// # The database
//
// keys.go gives the layout: e/<seq> entries, i/ records (accounts, holds,
// open holds, balances, receipt and settlement ids), x/ lookup keys by
// kind, job, peer and agent (Entries), m/ metadata naming the node and the
// entry the indexes reflect. Indexes are derived from the chain: Open
// loads them if they match the last entry, and replays the chain to rebuild
// them if they are missing or stale, or if Options.RebuildIndexes. Open
// keeps agents, balances and open holds in memory; closed holds and receipt
// ids are read from disk when needed.
//
// A database belongs to one node: Open refuses another node's key
// (ErrWrongNode). On disk the directory is 0700 and every file 0600, made
// so by a vfs wrapper when pebble creates them (fsmode.go), whatever the
// umask; Open narrows what an older build left wider.
//
// # Lost writes
//
// Pebble replays a damaged, truncated or deleted write-ahead log as a
// shorter one, silently, and m/head and the indexes go with the entries
// they describe: the database stays consistent with itself, only shorter.
// So the ledger keeps <dir>/HEAD outside pebble (headfile.go): two 4 KiB
// slots written in turn in place, each with a generation and a CRC (a torn
// write spoils only the slot being written), updated with one fdatasync
// per group, in parallel with pebble's sync. Each record names the head
// before the group as acked and the group's checkpoint as pending; Close,
// and the committer after 100 ms idle, confirm the pending one.
//
// Open compares: a chain that ends before acked, or holds another entry
// where the record names one, has lost acknowledged writes, and Open fails
// with a *LostWritesError (IsLostWrites) saying how many entries are
// missing and to run hayek ledger recover. Appending on top would bury the
// loss. A chain that ends between acked and pending lost only a group that
// was never acknowledged (a crash during its commit): accepted. A missing
// HEAD is a loss of unknown size when the database carries m/headfile
// (written with the first head file), so deleting it cannot hide a loss;
// a ledger an older build wrote has no marker and adopts a head file at
// its current head. A HEAD with no valid slot is refused likewise. Damage
// inside pebble (an altered entry, m/head ahead of the chain) remains a
// CorruptionError: that is not a lost write but a damaged database.
//
// Recover(ctx, dir, opts, RecoverOptions{Exports, ReleaseOpenHolds}) is
// the way back. It appends, in one atomic group after the last entry kept:
// a lost entry signed by the node (kept, acked head, reason, sources, the
// IDs re-appended, the amount covered); every receipt and settlement that
// the counterparties' exports hold with this node and this ledger lacks,
// in their order, with the ordinary rules; and optionally the release of
// holds left open (their jobs died). A requester's receipt whose hold was
// lost is covered first by a fund and hold noted as the recovery's, in the
// hold's agent if the hold survived closed (its budget stays as it was)
// or in RecoveredAgent ("~recovered") if nothing names the agent: the
// provider did the work and holds both signatures, so the money was paid;
// only whose budget it left is unknown. The invariants hold throughout.
// The plan is a dry run of the same rules on the journaled state, so the
// append accepts exactly what the lost entry lists. While recovering, the
// head file is written only after the group is durable, so a failed
// recovery keeps the evidence. Entries nobody else holds (funds, holds,
// governance, outcomes) are gone; the lost entry says how many. Verify
// reports every declared loss (Report.Lost), and Audit reports what a
// declared loss explains (a re-appended receipt naming a head that was
// lost, a receipt from the time of the loss) as FindingLost, not a fault.
//
// # Corruption
//
// Damage is an error category: IsCorruption(err) is true for a
// *CorruptionError (and for pebble's own corruption marker). Its Seq is
// the first entry that cannot be trusted — every entry before it verified —
// or 0 when the damage is in an index (reopen with RebuildIndexes). Open
// checks the head: the last entry must be the one the indexes were written
// for, and the loaded indexes must add up. Options.VerifyOnOpen runs a
// full Verify. A changed entry k shows as entry k+1's Prev not naming it,
// and is reported at k; a missing or misplaced entry at the sequence
// number that was expected.
//
// # Verify and exports
//
// Verify(ctx, deep) reads a consistent snapshot and checks every entry:
// canonical encoding, seq and link, time order, the rules against the state
// the entries before left, every checkpoint (it seals exactly the head
// before it, at its own time, signed by the node), the invariants
// recounted from scratch, then every stored index against the ones the
// chain implies (records compared, lookup keys by count and an
// order-independent digest). With deep it also verifies every receipt's two
// signatures and every settlement's creditor signature. Decoding, hashing
// and signature checks run on every core; the rules run in order.
// Report.Unsealed counts entries after the last checkpoint (0 for a
// ledger this package wrote).
//
// Export writes JSON lines holding only the hash-covered fields of each
// entry (seq, prev, time, kind, body by field; export.go shows the
// format), then a trailer the node signs naming the last entry's seq and
// CID. Canonical CBOR makes re-encoding those fields give back the exact
// bytes, so VerifyExport recomputes every CID and signature offline and
// runs the same checks, learning whose ledger it is from the checkpoints
// (all must name the same node, and the trailer's signer too). An export
// cut short anywhere, or whose trailer was altered or lines added after
// it, is a CorruptionError at the first entry that is missing or wrong;
// one with no trailer wraps ErrNoTrailer. Exports written before trailers
// fail likewise, unless VerifyExportOptions.AllowUntrailed (the CLI's
// --allow-untrailed): then Report.Trailer is false and entries cut off the
// end go unnoticed. A trailer proves the export whole as written, not that
// the node appended nothing since: compare Report.Head with a head you
// trust for that.
//
// Audit is that comparison done for you, across nodes: receipts name both
// parties' heads and both ledgers hold them, so every pair's exports must
// hold the same receipts and settlements, over heads each chain contains
// before the receipt. audit.go lists what it finds and whom it blames.
//
// # Figures
//
// Measured on the 2-vCPU CI machine (AMD EPYC, ext4 on a virtual disk,
// ~0.2 ms per fsync), shared with other work, so runs vary by ±25 %; the
// ranges below span several runs of each:
//
//	go test ./settlement -run '^$' -bench Append -benchtime 2s -count 3
//	  1 appender:    3,150–4,800 appends/s; raw pebble synced batches of the same
//	                 bytes 3,800–5,800/s; our/raw 0.76–0.91 (a one-entry group also
//	                 signs its checkpoint: ~18 µs of ed25519)
//	  64 appenders:  69,000–87,000 appends/s (goal ≥ 50,000); raw 33,000–54,000/s;
//	                 our/raw 1.3–2.4 (one batch, one fsync and one checkpoint per
//	                 ~22 appends, where raw commits a batch per append)
//	go test ./settlement -run '^$' -bench Verify -benchtime 3x -cpu 1,2 -count 2
//	  verify:        210,000–260,000 entries/s on 2 vCPUs (goal ≥ 200,000);
//	                 130,000–176,000 on one
//	  deep verify:   20,000–21,400 receipts/s on 2 vCPUs, 10,000–10,700 per vCPU
//	                 (goal ≥ 10,000 per core); 9,600–11,000 on one vCPU. Two
//	                 ed25519 verifications per receipt (~40 µs each here) cap a
//	                 core near 12,000; the two vCPUs scale ed25519 only ~1.3×.
//
// The ledger of the Verify benchmark is 52,000 entries: per group of 65, a
// fund, 21 holds, 21 receipts as requester, 21 as provider, a checkpoint.
//
// Pebble's compactions take most of the CPU in the append benchmark: the
// head record and the touched index records are rewritten every group.
//
// The head file adds one fdatasync per group, run beside pebble's sync, so
// a group takes about as long as before. The figures above predate it; on
// a different, heavily shared 2-vCPU machine (~1.4 ms per fsync), the same
// command run in one session with the build before it and the build with
// it gave, 64 appenders: 13,800–20,200 appends/s before, 16,600–19,700
// after (one outlier at 44,000); 1 appender: 330–1,000 before, 910–1,380
// after. Noise there exceeds any difference.
//
// # Tests
//
// rules_test.go tables every rule; metamorphic_test.go replays a seeded
// random sequence against an independent model under four configurations
// and compares heads (-seed, -ops); crash_test.go crashes a strict
// in-memory file system under concurrent appenders and kills a real child
// process with SIGKILL, then checks every acknowledged entry; verify_test.go
// tampers with exports and databases and checks the Seq reported, and cuts
// exports short; amount_test.go drives amounts near MaxInt64 from a seed
// and compares every total with an exact big.Int sum; lostwrites_test.go
// flips a byte in, truncates and deletes pebble's real log and damages the
// head file; recover_test.go recovers those ledgers from counterparties'
// exports (and a recovery that crashes, on a strict in-memory file system)
// and audits the result; fsmode_test.go walks the directory's modes. Seeds
// are logged with the command that replays them.
package settlement
