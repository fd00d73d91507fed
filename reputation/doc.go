// Package reputation owns what a node believes about other peers: a Beta
// posterior per (peer, capability) that decays toward the prior, the
// outcomes that update it, how third-party attestations are weighed and
// capped, the standing the auction asks for, requesters' credit limits,
// and the verification math of replicated and sampled jobs (the odds
// rule, the sampling rule). It imports no other hayek package.
//
// Everything here is a pure state machine or a pure function, in the style
// of etcd's raft: no network, no disk, no clock, no goroutines. Every input
// carries its time; the node (package node) owns I/O and persistence.
//
// # The model
//
// The belief about peer p on capability c is Beta(α, β) with the uniform
// prior α₀ = β₀ = 1. Each outcome adds its weight to α (good) or β (bad):
//
//	outcome        side  weight  meaning
//	success        α     1       a provider's result was accepted
//	failure        β     2       refused or dropped an award, or reported its own fault
//	timeout        β     2       no acknowledgement or no result in time
//	wrong_result   β     8       a result verification rejected
//	missed_start   β     2       started later than it committed to
//	paid           α     0.5     a requester countersigned a receipt (a debt acknowledged)
//	disputed       β     2       a requester refused to sign for a delivered result
//	settled        α     1       a requester settled its debt
//
// Failures weigh more than successes so that a provider cannot hide
// occasional cheating behind volume: one wrong result undoes eight good
// jobs (it was four; see "Design choices" for why eight). A missed start
// weighs a failure: the bid sold that start time, and the auction ranked
// it on it (it weighed 0.5; see "Design choices"). A paid receipt weighs
// half a settlement because an acknowledged debt is not yet money.
//
// Evidence decays toward the prior with a half-life H (14 days): before
// every update, and whenever the book is read, the evidence beyond the
// prior is scaled by 2^(−Δt/H), so α' = 1 + (α−1)·2^(−Δt/H), likewise β.
// Decay never goes past the prior, and a clock that goes back changes
// nothing. A peer that stops working fades back into a newcomer.
//
// A Posterior reads as: Mean = α/(α+β), the expected chance of a good
// outcome; LowerBound(q), the q-quantile (q = 0.05) by gonum's inverse
// regularized incomplete beta, below which the chance lies with
// credibility q; Evidence = α+β−2, the weighted, decayed observations.
//
// # First-hand evidence and duplicates
//
// Book.Record(now, peer, capability, outcome, evidence) adds what this
// node saw itself: outcomes of receipts it is a party to (as requester:
// success, failure, timeout, missed_start about providers; as provider:
// paid, disputed, settled about requesters) and its own verification
// outcomes (wrong_result for losers). Every piece of evidence has an ID
// (a receipt CID; for receiptless outcomes a job ID) and counts once per
// subject: the book remembers, per (subject, ID), the heaviest positive and
// the heaviest negative weight counted. Recording the same again returns
// ErrDuplicate; a heavier outcome of the same sign adds only the
// difference (a missed start that became a failure counts as one failure);
// an outcome of the other sign counts on its own (a paid receipt whose
// result a sampled re-run later proves wrong: a success and a
// wrong_result). IDs are remembered for EvidenceMemory (140 days, ten
// half-lives, when old evidence weighs a thousandth).
//
// # Third parties
//
// Book.Attest takes a batch of reports another peer signed. A receiver
// weights reporter r by what it knows about r first-hand, never from
// others (trust is not transitive, so sybils cannot vouch for each other
// into relevance):
//
//	LB₁(r) = LowerBound(q) of Beta(1 + Σ_c s_rc, 1 + Σ_c f_rc)
//	         (r's first-hand evidence pooled over all capabilities,
//	          as a provider and as a requester)
//	w_r    = ReporterWeight · clamp((LB₁(r) − TrustFloor) / (1 − TrustFloor), 0, 1)
//
// A stranger (no first-hand evidence) weighs exactly zero, and so does a
// peer whose record is poor: with the defaults (ReporterWeight 0.5,
// TrustFloor 0.5) a reporter needs four clean jobs with this node to weigh
// anything (w = 0.05); ten give w = 0.26, a hundred w = 0.47. One report then
// counts as w_r × its outcome's weight. Then two caps:
//
//	per reporter:  r's raw evidence on subject p, R_rp, counts at most
//	               ReporterCap (10): its reports are scaled by min(1, 10/R_rp),
//	               so one reporter adds at most w_r · 10 observations;
//	per subject:   all third parties together add at most ThirdPartyCap (10)
//	               observations to p, over all its capabilities: with
//	               T_p = Σ_r w_r · min(1, 10/R_rp) · R_rp, every third-party
//	               contribution on p is scaled by k_p = min(1, 10/T_p).
//
// So the belief about p on c is
//
//	α = 1 + s_pc + k_p · Σ_r w_r · m_rp · S_rpc
//	β = 1 + f_pc + k_p · Σ_r w_r · m_rp · F_rpc
//
// with s, f first-hand and S, F the reporters' raw (weighted by outcome,
// decayed) reports. A swarm of sybil reporters this node has never dealt
// with buys nothing; a reporter it trusts a little buys a little (at most
// w_r·10); all of them together buy at most 10 observations, which cannot
// lift a stranger's lower bound past about 0.76 (Beta(11, 1)): first-hand
// evidence, which costs real work or real money, is what makes a peer
// eligible for demanding jobs. Weights are applied when the book is read,
// with the reporter's standing at that moment: catching a reporter
// cheating discounts everything it has said.
//
// Dedupe across reporters: a report backed by a receipt counts once per
// (subject, receipt CID), whoever reports it; a receiptless negative
// report (a timeout, say) counts once per (subject, reporter, job).
// First-hand evidence is keyed apart, so gossip can never pre-empt what
// this node saw itself (nor can a third party hold a receipt this node is
// a party to, except the counterparty, whose reports about this node are
// skipped). Positive reports must carry
// their receipt (ErrNoReceipt) — for settled, the signed settle entry —
// since praise without proof is free.
//
// Attestations about oneself: a report whose subject is its reporter is
// refused (ErrSelfReport); this node's own attestations coming back over
// gossip are refused whole (ErrSelf); reports whose subject is this node
// are skipped quietly — a node does not let others tell it about itself,
// and Standing(self) is always eligible. Reports from a reporter that
// weighs zero are neither counted nor stored.
//
// # Standing, eligibility, newcomers
//
// Book.Standing(peer, capability, minReputation) is what the auction
// needs (the node adapts it to market.Reputation):
//
//   - Eligible when LowerBound ≥ minReputation; with minReputation ≤ 0
//     everyone is, strangers included. A stranger's lower bound is q =
//     0.05, so a job with a positive minimum goes only to peers with a
//     record; newcomers bootstrap on jobs without one.
//   - Not eligible, whatever the minimum, when this node's own record of
//     the peer (first-hand evidence only, at least NewcomerEvidence of it)
//     gives a Reliability below MinReliability (0.4): one wrong result
//     takes a stranger to 0.18, two timeouts to 0.3, one lost message only
//     to 0.45. Attestations never bar anyone: they can warn (lower the
//     bound a job's minimum is checked against), not convict.
//     (Under adaptive verification a provider on probation with the
//     requester answers to a stricter floor, CheckPolicy.Probation, and
//     any provider it caught three times lately, CheckPolicy.CaughtBar
//     on Standing.Wrong, is barred.)
//   - Newcomer when Evidence < NewcomerEvidence (1): less than one
//     observation's worth. The auction ranks at most one newcomer per
//     auction and per replica group.
//   - Score is the posterior mean; it breaks ties between equal bids.
//   - Reason says why not, when not eligible.
//
// Reads (Standing, Reliability, CreditLimit, Snapshot) decay to the book's
// clock, the latest time given to Record, Attest or Tick.
//
// # Requesters and credit
//
// Providers rate requesters with the same machinery under the capability
// CapRequester ("requester") and the outcomes paid, disputed and settled;
// those outcomes go with no other capability, and provider outcomes not
// with it (ErrOutcome). CreditLimit(peer, base, max) maps a requester's
// standing, with lower bound L, to how much unsettled debt a provider
// accepts from it:
//
//	no evidence:   base
//	L ≥ q:         base + (max − base) · min(1, (L − q)/(CreditFullTrust − q))
//	L < q:         base · L/q           (a record worse than a stranger's)
//
// with CreditFullTrust 0.9, rounded to the nearest unit.
//
// # Verification (ARCHITECTURE step 8)
//
// Reliability(peer, capability) is the chance a provider's result is
// right: the posterior mean of the same evidence under the verification
// prior, Beta with mean m = VerifyPriorMean (0.9) and strength s =
// VerifyPriorStrength (2): r = (α − 1 + m·s)/(α + β − 2 + s). This prior
// assumes at most a share 1 − m of providers is faulty (Sarmenta's f);
// with the uniform prior, strangers would be worth ½ and agreeing
// strangers would never be credible.
//
// Credibility(groups), the odds rule: replicas are grouped by output
// digest (GroupReplicas; the digest covers everything that must agree byte
// for byte — the market's Result.Digest). Each provider i is right with
// probability r_i independently; a right result is unique; wrong results
// are assumed to collude. Over the hypotheses "group G is right" and "no
// group is right":
//
//	O_G = Π_{i∈G} r_i/(1 − r_i)        C_G = O_G / (1 + Σ_H O_H)
//
// Decide(groups, ε, maxReplicas, have): accept the leading group when C ≥
// 1 − ε (the node records success for its providers, Agree, and
// wrong_result for every other provider that answered, Disagree);
// otherwise, below the cap, ask for the
// fewest extra replicas that would make the leader credible if they agreed
// at the average reliability so far; at the cap, fail, blaming nobody.
// With ε = 0.01: three agreeing strangers are accepted (0.9986); two
// strangers against one need two more; two veterans outvote a known cheat
// at once; three providers at r = 0.6 never become credible within five
// runs.
//
// Sampling (sample:P): ShouldSample(secret, job, P) is a keyed hash of the
// job ID — deterministic, unpredictable to providers while the secret stays
// the requester's. JudgeSample applies the rule after delivery: a re-run on
// another provider that agrees ends it; one that disagrees calls for a
// third run on a third provider, and the digest two of three share stands;
// the odd one out gets wrong_result; three different results blame nobody.
// Sampling detects cheating after the fact: the cheater was paid once and
// loses reputation, and when the delivered result was the wrong one
// (OriginalWrong) the agent must be told.
//
// Adaptive verification (CheckPolicy, JudgeCheck, SubnetGuard): instead
// of replicating every job, a requester runs it once and checks the
// result on another provider before accepting it, with probability
// CheckPolicy.Rate: 1 while the winner's lower bound is below Proven
// (0.9, about 28 clean jobs with this requester), then falling linearly
// to 1 − Settled at Settled (0.95, about 58), then max(MinRate,
// 1 − LowerBound), scaled up for jobs worth more than RefValue — for a
// winner at Trusted, by Standing.CheckBound, the bound without its lost
// messages here up to LapseShare of its clean record ("Design choices",
// 21); drawn with ShouldSample, so a provider cannot tell which jobs are
// checked.
// Checkers are drawn at random among providers at the Trusted bound
// (0.5, about 4 clean jobs) that have not run the job; while the
// requester trusts too few, or all of them have run it, among providers
// discovery found — never chosen by price, and never in the subnet of a
// run so far. A result under check earns
// its provider nothing until the verdict, and a provider without a
// record (below Trusted) holds one unjudged award per requester at a
// time, and is not eligible once its first-hand reliability falls below
// ProbationReliability (0.44; CheckPolicy.Probation) — nor is any
// provider, veteran or not, with CaughtBar (24, three catches lately) of
// first-hand wrong-result weight against it (Standing.Wrong, kept apart
// from timeouts and failures); a result whose
// provider has an earlier result under check is checked too. JudgeCheck
// judges the runs of one checked job by the odds rule: a digest stands
// when runs of at least two cohorts (Replica.Cohort, the subnet) share it
// and its Credibility, each run weighed by its provider's first-hand
// reliability here (DirectReliability) capped at MaxCheckReliability
// (0.995) — a run agreeing with an earlier run of its cohort weighing
// nothing — reaches 1 − ε; below that it asks for another run, up to its
// cap, then blames nobody — unless the runs of providers trusted here
// returned CheckPolicy.Contradictions (4) different results: then each
// trusted provider whose result was less credible than the best
// (SampleDecision.Outvoted) takes a Failure (CheckPolicy.Contradicted);
// and, whatever the pool, every provider whose digest fewer cohorts
// returned than another that at least two did (SampleDecision.
// Outnumbered) is checked every time there for a day.
// With ε = 0.01: a stranger and a trusted checker settle it in
// two runs, three agreeing strangers do, a pair of strangers does not
// outvote a veteran, and two veteran checkers always outweigh one run.
// (JudgeRuns, the first digest two runs share, is what it replaced.)
// SubnetGuard bars newcomers from a subnet in which a wrong result was
// caught, for a quarantine, and the subnet's /16 once two of its /24s
// were: identities are free, addresses are not, and come in blocks.
//
// # Design choices forced by the simulator
//
// `hayek sim` (package internal/sim) runs the real auction, this book and
// the ledger against every attack of issue 10. What it showed, and what
// changed:
//
//	before: reputation as it was, the requester's choice of sample:0.1 or
//	        replicate:2; after: the rules below with adaptive verification.
//	hayek sim, default setting, seed 1 (README, "Market integrity").
//
//	after, seeds 1–5 (--seed N --design after), before rules 11–12 → before rules 13–14
//	→ before rule 16 → now:
//	wrong_per_10k          0, 0, 0, 0, 10.05 → 0, 3.53, 0, 0, 1.5 → 0, 0, 0, 0, 0 → 0, 0, 0, 0, 0
//	dishonest_award_share  0.0118, 0.0243, 0.0211, 0.0178, 0.0088 → 0.0109, 0.0099, 0.0109, 0.0106, 0.0087
//	                       → 0.0092, 0.0119, 0.0118, 0.0111, 0.0087 → 0.0075, 0.0117, 0.0145, 0.0071, 0.0046
//	replicas_per_job       1.181, 1.173, 1.231, 1.188, 1.220 → 1.226, 1.235, 1.241, 1.244, 1.240
//	                       → 1.257, 1.271, 1.210, 1.237, 1.276 → 1.264, 1.218, 1.195, 1.293, 1.268
//	honest_excluded_share  0 on every seed, before and now
//	detect_jobs_max        3 or 2 on every seed since rule 10; the 10–16 pairs per seed once
//	                       counted "undetected" are barred unjudged (rule 14), none slipped
//
//	                          before       before        after      goal
//	                          sample:0.1   replicate:2   adaptive
//	wrong_per_10k             8799.5       0 (79% fail)  0          ≤ 1
//	replicas_per_job          1.199        3.832         1.264      ≤ 1.3
//	detect_jobs_max           112          16            3          ≤ 10
//	dishonest_award_share     1.000        0.933         0.0075     ≤ 0.02
//	sybil_award_share         1.000        0.854         0.0013     ≤ 0.05
//	honest_excluded_share     0            0             0          ≤ 0.01
//
// 1. A caught cheat kept winning. Reputation decided eligibility only
// against a job's minimum (0 by default) and broke ties; the auction
// ranks on price, so a provider caught lying, or a sybil bidding at half
// its cost, won every auction it bid lowest in: 100% of awards after
// burn-in under sample:0.1. Now a peer whose first-hand Reliability falls
// below MinReliability (0.4) is not eligible. First-hand only, so that
// bad-mouthing cannot exclude anyone (TestAttestationCapProperty; the
// gossiping ring of attack_test.go pushes out no honest provider).
//
// 2. A wrong result weighs 8 observations, not 4. With 4, a cheat at
// rate s has reliability → (1 − s)/(1 + 3s), above the 0.4 floor for
// any s below 27%: with every other rule here in place, the
// intermittent cheats at 20% stayed eligible and won 2,747 of 26,000
// awards in the default run. With 8, (1 − s)/(1 + 7s) falls below the
// floor from s ≈ 16%, and they won 237.
//
// 3. Blanket replication is not affordable (3.8 runs per job, and
// replicate:2 with cheap cheaters in the pool failed 79% of jobs), and
// sampling after delivery accepts every first lie. CheckPolicy checks a
// result before it is accepted, always for a provider without a long
// clean record here, then at max(5%, 1 − lower bound).
//
// 4. Checks must be worth something: a stranger checking a stranger
// proved nothing, and sybils checked each other. Checkers are drawn at
// random among providers at CheckPolicy.Trusted, and a result under
// check earns nothing until the verdict (paid, but no Success
// recorded).
//
// 5. Fresh identities are free. A provider without a record holds one
// unjudged award per requester at a time (it won several auctions in
// parallel before its first check came back), and SubnetGuard bars
// newcomers from a subnet caught cheating for a day: the 100 sybils, in
// 20 /24s, fell from 85–100% of awards to 1.2%.
//
// 6. Colluders drawn together outvoted honest runs. With rules 1–5, 16
// of the 19 wrong results accepted (9.57 per 10,000 jobs) were checks in
// a requester's first minutes, when it trusted nobody yet and a check
// went to the cheapest bidder: two ring members, one checking the
// other, agreed on the ring's output, or outvoted an honest run — which
// then took a wrong_result and was excluded (4 honest providers, 2%).
// Check runs are now drawn at random among the providers discovery found
// until there are trusted ones (5 wrong results, no honest provider
// excluded), and judged by JudgeCheck rather than by the first pair that
// agrees: two strangers no longer outvote anyone, and strangers alone
// need three agreeing runs.
//
// 7. A check that ends without a verdict must not be free. Judged by
// credibility, a cheat with a long record outweighs a fresh checker, and
// a requester that trusted only three providers had nobody left to
// break the tie once all three had run the job: the check failed, nobody
// was blamed, and the cheat kept the Success of every check of its right
// results — intermittent cheats at 20% built long clean records with a
// requester and slipped 81 wrong results past spot-checks. Now a
// reliability counts at most MaxCheckReliability (two veteran checkers
// always outweigh one run), and a tie-breaker no trusted provider can
// give is drawn from the wider market.
//
// 8. Spot-checking was earned too cheaply. At Proven 0.8 (~13 clean
// jobs), an on-off cheat that gave one requester 13 of its 40 honest
// runs was spot-checked at about 1 − 0.8 and slipped about (1 − p)/p
// wrong results through: 19 accepted in the default run with every
// other rule here, 3 at 0.85, none at 0.9 (~28 clean jobs). Only a
// provider without a record (below Trusted) is held to one unjudged
// award at a time: at 0.9, holding every provider below Proven to it
// starved requesters of checkers.
//
// 9. False starters kept winning: their results are right, and a missed
// start weighed 0.5, so they stayed eligible: 63% of the dishonest
// awards with rules 1–5, 1,499 awards after burn-in with rules 1–8
// (share 0.114). A missed start now weighs 2, as a failure: the bid sold that
// start, and value-of-time jobs ranked it on it. A provider missing a
// share m of its commitments tends to a first-hand reliability of
// 1/(1 + 2m), below the 0.4 floor only for m above 75%, so a busy honest
// machine that misses some stays eligible; a false starter is out after
// about six jobs per requester (36 awards after burn-in, share 0.022).
//
// 10. Addresses come in blocks. The sybils' 100 identities in 20 /24s
// cost each requester one caught cheat per /24 (204 awards after
// burn-in, 1.2%), and each attacking operator's identities one per /24.
// SubnetGuard now also bars a /16 to newcomers once two of its /24s were
// caught (two independent catches, so one cheat cannot get its
// neighbours barred): sybil awards fell to 23, the dishonest share to
// 0.0118, and runs per job to 1.181 (fewer cheats to check).
//
// 11. Probation was too forgiving. On seeds 2 and 3 the dishonest share
// was 0.0243 and 0.0211: lazy providers (a timeout weighs 2, so one that
// drops half its jobs tends to a reliability of 1/3, below the 0.4 floor
// only after about ten jobs per requester) and intermittent cheats
// caught once but not yet twice stayed eligible and won probation jobs
// on price (144 and 64, 115 and 197 awards after burn-in). A provider on
// probation, below CheckPolicy.Trusted, now needs a first-hand
// reliability of CheckPolicy.ProbationReliability (0.44): a lazy one is
// out after about six jobs, a cheat caught within its first four; an
// honest stranger whose first job was lost keeps 0.45, and a trusted
// provider answers to MinReliability (0.4) alone. The dishonest share
// fell to 0.0136 and 0.0093.
//
// 12. A result is checked whenever an earlier result of its provider is
// still under check with this requester: until that verdict, the record
// that would excuse it from a check is in question. Without it, rule 11
// let the small market's on-off cheats slip more (27.6 wrong results per
// 10,000 jobs instead of 17.5 on seed 1; likely because, barred sooner
// elsewhere, they won more of the requester that had proven them while
// its check of a wrong result ran). With it, that market slips 22 wrong
// results over seeds 1–5 instead of 35 (internal/sim TestOnOffSeeds), and
// the default setting 10 over seeds 1–5 instead of 20, at 1.23–1.24 runs
// per job (1.17–1.23 before).
//
// 13. A check's evidence must come from independent runs. The odds rule
// assumes runs are independent, and a check drawn among strangers
// assumes an honest majority among them; sybils of one operator, drawn
// as each other's checkers, agreed on their shared wrong output (testnet
// scenario sybil-adaptive: 3 wrong results accepted on ci.toml; in the
// simulator, 3 honest providers and 5 colluding sybils on one /24,
// internal/sim TestSybilAdaptive: 4, 0 and 81 accepted on seeds 1–3,
// and on seed 3 an honest provider outvoted and excluded). JudgeCheck
// now counts agreeing runs of one cohort (the subnet) as one voice and
// needs two cohorts for a verdict, and checkers are drawn outside the
// subnets of the runs so far: none accepted on seeds 1–3, and the
// default setting is unchanged (its honest providers and attackers are
// on distinct /24s). Drawing a trusted checker as soon as a requester
// trusts one (not minTrusted) was measured too and not kept: it
// overloaded the first trusted providers, the lazy population's award
// share rose from 0.014 to 0.024 (mean of seeds 1–5 in attack_test's
// market), and cohorts alone fixed the case. A node ignores loopback
// and its gossip whitelist (a testnet's subnets) as cohorts.
//
// 14. Spot-checking started at a cliff. The rate fell from 1 to
// 1 − Proven ≈ 0.1 as the record crossed Proven, and an on-off cheat
// that had given one requester just the ~29 honest runs that prove it
// there slipped about (1 − p)/p ≈ 9 wrong results through before that
// requester drew a check of one: every wrong result accepted in the
// default setting on seeds 2 and 5 (7 and 3) was one such cheat's, at
// one requester, before any requester had caught it — so evidence
// shared between requesters (rule 15) had nothing to share yet. The rate now
// falls linearly from 1 at Proven to 1 − Settled at Settled (0.95,
// ~58 clean jobs): an on-off cheat's first wrong results past Proven are
// almost always checked. Default setting, seeds 1–5: wrong_per_10k 0, 3.53,
// 0, 0, 1.5 → 0 on all five, at 1.21–1.28 runs per job (1.23–1.24
// before), dishonest share 0.0087–0.0119; the small market of
// attack_test.go slips 2 on-off wrong results over seeds 1–5 instead
// of 22. The price: more checks while every provider earns its record —
// in that small market (3 requesters, each proving its providers itself)
// the intermittent cheats' run went from 1.257 to 1.328 runs per job and
// a dishonest share of 0.0006 to 0.0213, above the goals (the share,
// and most of the runs, were cheats kept on probation, not the ramp's
// checks: rule 16); and the non-paying
// requester, whose calls providers decline over their credit limits,
// has more checks fail for want of a checker (failed jobs 59, 239, 989,
// 973, 121 on seeds 1–5, were 95, 158, 40, 52, 54; on seed 3, 951 of
// the 989 were its own).
// Detection also counted wrong: 10 to 16 (always-cheater, requester)
// pairs per seed were "undetected" — one or two runs each whose checks
// ended without a verdict, so no evidence, after which the subnet guard
// barred them there. No wrong result of theirs was accepted; they now
// count as barred unjudged, not as a miss.
//
// 15. A catch elsewhere told a requester nothing. An on-off cheat that
// stays honest for 200 runs gets past the ramp at several requesters and
// is spot-checked at MinRate there: 42 wrong results accepted in the
// default setting on seed 1 (21.67 per 10,000; 33, 16.52, before rule
// 14), 38 in attack_test's small market — two thirds of them after
// another requester had caught the same cheat. Attestations from a
// requester this node has no record with weigh nothing, so the catch
// must carry its own proof: the cheat's signed result and the signed
// contradicting results of its checkers for the same job (no one can
// accuse without the accused's signature on a wrong output), weighed by
// the receiver's first-hand trust in those checkers, not in the
// reporter — a sybil's word, or a requester's about checkers nobody else
// has paid, moves nothing. And it only checks: the receiver checks the
// accused's results at rate 1 for a day, so a false accusation costs
// checks, never a record. Measured in the simulator as an option
// (internal/sim Config.ShareCatches; the node shares catches the same
// way, on /hayek/catch/1 with reputation.catch_window, docs/protocol.md):
// sent at once, 42 → 7 and 38 → 9; batched with attestations (a minute),
// 42 → 42 — a settled cheat wins most of a requester's jobs, and its
// slips come in bursts (17 in 90 s). The default setting on seeds 1–5
// is unchanged by it (no wrong result slips there any more), and in the
// 200-run case it costs nothing either: 1.232 runs per job instead of
// 1.248, dishonest share 0.0107 instead of 0.0145.
//
// 16. Probation bounded a cheat's record by a ratio, not a count. The
// intermittent cheats' share in attack_test's small market under rule 14
// (0.0213 on seed 1, 0.0186 over seeds 1–5) was not the ramp's doing: 67
// of their 77 awards after burn-in on seed 1 (2 before rule 14; which
// seed is unlucky moved) were probation jobs won on price by cheats below
// Trusted, caught, some several times, that kept a first-hand
// reliability above ProbationReliability: (S + 1.8)/(S + 8W + 2) ≥ 0.44
// while S ≥ 6.3·W − 1.6, so a cheat with a lucky run of clean jobs
// between catches stays on probation, and each of its jobs costs a check
// and often a tie-break. Standing.Against is this node's own evidence
// against a peer (β − 1 of the first-hand posterior, decayed;
// attestations never count in it), and a provider on probation with
// CheckPolicy.ProbationAgainst (17: more than two wrong results' weight,
// so a third catch within about a week, or a failure on top of two) is
// barred there. A veteran answers to MinReliability alone. No honest
// provider reached the bar in any attack_test run or on the default
// setting's seed 1 (the most evidence against one was 14, at a
// requester that trusted it, where the bar does not apply).
//
//	attack_test's market, seed 1 (seeds 1–5, means)   before          after
//	intermittent replicas_per_job                      1.328 (1.346)   1.280 (1.312)
//	intermittent dishonest_award_share                 0.0213 (0.0186) 0 (0.0014)
//	onoff replicas_per_job                             1.300 (1.555)   1.307 (1.516)
//	onoff wrong accepted over seeds 1–5 (TestOnOffSeeds) 2             2
//
// The lazy run went from 1.297 to 1.287 runs per job and a share of
// 0.0192 to 0.0162; every other attack there is unchanged on seed 1.
// Intermittent seeds 4 and 5 still run over 1.3 (1.376, 1.324). Default setting,
// seeds 1–5: wrong_per_10k 0 on all five as before; replicas_per_job
// 1.257, 1.271, 1.210, 1.237, 1.276 → 1.264, 1.218, 1.195, 1.293, 1.268;
// dishonest share 0.0092, 0.0119, 0.0118, 0.0111, 0.0087 → 0.0075,
// 0.0117, 0.0145, 0.0071, 0.0046; no honest provider excluded. Tried and
// dropped: a bar at 8 or 12 (a second catch): the same intermittent
// share, but on seed 1 an on-off cheat that had given one requester all
// its 40 honest runs (lower bound 0.93, rate 0.44 there) slipped 2 wrong
// results, at 1.314 runs per job; the bar for trusted providers too (24,
// 32): nothing changed. The on-off run's 1.307 is over the goal; its
// extra runs are checks that switched cheats, still trusted and drawn as
// checkers, leave without a verdict (on seed 5, 723 jobs failed so and
// the on-off cheats won 0.43 of awards after burn-in, at lower bounds of
// 0.5–0.8: a check without a verdict blames nobody, so they stay
// trusted). That is the next thing to fix (internal/sim's
// TestOnOffSeed5 pins the bound: 1.920 runs per job, 0.4284, 1,292 jobs
// failed — 723 without a verdict, 453 without bids). Rule 17 fixed it.
//
// 17. A check without a verdict blamed nobody, so a requester whose
// trusted providers had switched to cheating could not drop them. On
// attack_test's market, on-off seed 5, 721 of the 723 checks without a
// verdict were one requester's, which trusted five providers, four of
// them switched on-off cheats: every result they won on price (checked
// every time, below Proven) was checked by the others, each returning a
// wrong output of its own — five runs, five results — and the honest
// veteran's run was never credible alone (0.51: the cheats' first-hand
// reliabilities, 0.71–0.92, were those of their 40 honest runs, and no
// check without a verdict moved them). So they stayed trusted, won on
// price and checked again; paid for five runs a job, they declined that
// requester's calls over their credit limits (452 of the 453 jobs
// without bids). Escalating past the cap could not help: no digest had
// two voices, and the trusted pool was spent. Such a check is evidence:
// when the runs of providers trusted here return CheckPolicy.
// Contradictions (4) different results, at least three trusted providers
// lied in this one check, and the pool its checkers come from cannot
// settle it. CheckPolicy.Contradicted then records a Failure (weight 2;
// no verdict convicts anyone) against each trusted provider whose result
// was less credible than the best (JudgeCheck's SampleDecision.Outvoted);
// strangers are never blamed, and the job still fails. A cheat that
// keeps being outvoted so falls below Trusted, out of the checker pool,
// and the requester draws its checkers from the wider market until it
// trusts honest providers again.
//
//	attack_test's market, on-off seeds 1–5     before                             after
//	replicas_per_job                            1.307, 1.451, 1.504, 1.396, 1.920  1.307, 1.451, 1.343, 1.396, 1.373
//	seed 5: share; failed (verification_failed, no_bids)  0.4284; 1,292 (723, 453)   0; 23 (5, 0)
//	wrong accepted (TestOnOffSeeds)             2 (0, 0, 2, 0, 0)                  4 (0, 0, 3, 0, 1)
//
// Seeds 1, 2 and 4 are unchanged (the rule does not fire there). Every
// wrong result, before and after, is an on-off cheat's first at the one
// requester it gave (nearly) all its honest runs — lower bound 0.92–0.93
// there, checked with probability 0.47–0.58 on the ramp (rule 14) —
// before anyone caught it: which seeds show one moves with any change in
// who wins where (seed 3's course changed with the rule), not with the
// rule. Every other TestAttacks case and the default setting on seeds
// 1–12 are unchanged, figure for figure: the rule never fires there.
// Over twenty seeds (1–20, the same market from a TOML file, `hayek sim
// --config`, before and after in one session): wrong results 14 → 16,
// runs per job 1.400 → 1.356 (means), failed jobs 1,953 → 417, seeds
// with a dishonest share over 0.02: 1 → 0. That market (8 on-off cheats
// beside 40 honest providers, 3 requesters) misses 1.3 runs per job on
// most seeds either way, and accepts about 0.8 wrong results per 10,000
// jobs: the ramp's price, not this rule's.
// Tried and not kept, on the way (figures for on-off seeds 1–5, then the
// default setting): a failure for every trusted provider outvoted in a
// check without a verdict whose trusted runs returned three results, not
// four — 1.307, 1.360, 1.306, 1.357, 1.373 and 3 wrong results, and it
// fired on default seeds 4, 9 and 10 (1, 217 and 332 checks: seed 10's
// requester captured the same way, 1.270 → 1.217 runs per job, failed
// 1,686 → 1,002), but the intermittent cheats of TestAttacks went from
// 1.280 to 1.306 runs per job (over the goal: trusted intermittent
// cheats, outvoted, fell to rate-1 checks), and default seed 9's share
// from 0.0112 to 0.0239 (the non-paying requester's trusted providers
// changed and, refusing it credit, left its open jobs to sybils whose
// checks could not run), and at three only when the best result had two
// voices, the same intermittent 1.306 (and 5 on-off wrong results);
// whatever the number of trusted results — the same on-off figures
// (1.367 on seed 5), and default seed 2 accepted 3
// wrong results (an on-off cheat's, unchecked: the rule fired twice,
// both times on cheats, and the course changed); strangers too — 1.360,
// 1.306, 1.357, 1.369 on seeds 2–5, default seed 2 accepted 6; more runs
// past the cap (7 or 9, always or while the best digest had two voices)
// — worse: seed 5 2.086–2.376 runs per job, 1,544–2,145 failed jobs over
// seeds 1–5 (the extra runs came from the same spent pool or failed for
// want of a checker); a failure for the delivering provider alone
// (trusted or not) — 1.364–1.396 on seeds 2–4, 1.420–1.432 on seed 5, 3
// to 5 wrong results; keeping providers with a result under a disputed
// check here out of the checker pool — 1.337, 1.362, 1.333, 1.382, 1.367
// and 4 wrong results.
//
// Tried and not kept (issue 10, veterans): reputation-side suspects — the
// providers of a check that ended without a verdict and disagreed (at
// least one of them is wrong) and those this node caught, checked at
// rate 1 and drawn as no one's checker until a verdict on their digest
// clears the dispute or a day passes, and barred at a second catch
// within the day whatever their record. On attack_test's market, on-off
// seeds 1–5: 1.307, 1.451, 1.504, 1.396, 1.920 runs per job → 1.291,
// 1.369, 1.321, 1.393, 1.344; failed jobs 9, 136, 156, 11, 1,292 → 8, 6,
// 3, 28, 34; share 0.0040, 0, 0.0119, 0, 0.4284 → 0.0003, 0, 0.0080, 0, 0;
// wrong accepted 2 → 2. Intermittent runs 1.312 → 1.311 (means), lazy
// unchanged, no honest provider excluded. But the default setting, seeds
// 1–5, went from wrong_per_10k 0 on all five to 0.53 on seed 3 (a ring's
// output accepted through a check: honest checkers caught by a ring's
// verdict or in dispute leave the checker pool to it) and replicas_per_job
// 1.264, 1.218, 1.195, 1.293, 1.268 → 1.290, 1.280, 1.183, 1.222, 1.284;
// seed 7 also accepted one (0 before). Keeping only providers in an open
// dispute from checking (caught ones still check) kept seeds 3 and 7 clean
// but accepted an on-off cheat's unchecked result on seed 2 and 5 on-off
// wrong results over seeds 1–5. Keeping suspects out of the trusted
// checkers only (the first default slip was three ring strangers drawn
// together before anyone was trusted, a draw the disputes had changed)
// kept seeds 3 and 7 clean, but seed 1 accepted one, and on-off seed 1
// two (3 over seeds 1–5, at 1.346 runs per job): every variant accepted
// about one wrong result in five to eight default seeds where the design
// accepted none in eight. Each part is needed for seed 5: without
// the disputes 2.028 runs per job, without keeping suspects from checking
// 1.919. Disputing the runs already at a tie-break cost every honest
// checker of a cheat's result a check (on-off seed 1: 1.366). Barring at
// the third catch instead of the second: 11 on-off wrong results over
// seeds 1–5. With on-off cheats honest for 200 runs, barring moves a
// cheat's work to requesters that spot-check it: 94 wrong results over
// seeds 1–3 instead of 81, 52 with Config.ShareCatches instead of 38.
// More default seeds (6 and 8–12, `hayek sim --design after --seed N`),
// the design against the trusted-checkers-only variant (its simulator
// half): wrong_per_10k 0 on all six against 2 on seed 6 and 0 on the
// rest; dishonest_award_share 0.0078, 0.0066, 0.0112, 0.0094, 0.0219,
// 0.0288 against 0.0097, 0.0072, 0.0089, 0.0057, 0.009, 0.0137 — so the
// design itself misses the 2% share on seeds 11 and 12, which the
// variant meets, and the variant's wrong results are not one seed's
// noise.
//
// Tried and not kept (issue 10, the non-paying requester): the default
// setting missed the 2% share on seeds 11 and 12 (0.0219, 0.0288; seeds
// 1–10 and 13–15 at most 0.0145), and the excess was the non-paying
// requester's. Providers stop bidding for it at their credit limits:
// seed 11's 1,254 no_bids failures are its jobs closed to the 4
// providers it trusted (CheckPolicy.Trusted, minTrusted 3), all at their
// limits with it. Its checks are drawn among the same providers, so
// none bids and they fail "unchecked" (170 there): no verdict, nobody
// blamed, nobody caught. So on seed 11 sybils — fresh identities, each
// with a base credit — won its probation jobs on price, 144 of their 163
// awards after burn-in (one identity 15 times): each failed check ended
// the review hold, and its SubnetGuard, having caught nothing, barred no
// subnet (every other requester caught two and barred their /16: 2–3
// sybil awards each). On seed 12 an intermittent cheat it trusted
// (below Proven, so every result checked) won 313 of its jobs — 257
// closed jobs and 46 checks — uncaught in 502 failed checks. The rest
// is lazy providers on probation (176 awards on seed 11, 98 on 12, 29–
// 132 elsewhere), won on price with 1–3 timeouts and a reliability still
// ≥ 0.44: no requester hears of another's timeouts, so each of the 63
// (lazy, requester) pairs yields about six awards before the floor bars
// it, and one in thirteen gets trusted by luck (a simulation of the
// floor's random walk). Five fixes were measured, none kept:
//
//   - A check whose run drawn among trusted providers got no result goes
//     on in the wider market, as a tie-break does. Seeds 1–15: share at
//     most 0.0123 (0.0108, 0.0123 on 11, 12), wrong results as before
//     (one on seed 14), but the non-paying requester is served again,
//     all its results checked, at 1.57 runs per job: replicas_per_job
//     1.27, 1.288, 1.249, 1.293, 1.267, 1.264, 1.295, 1.27, 1.298, 1.331,
//     1.308, 1.253, 1.279, 1.269, 1.294 — over 1.3 on seeds 10 and 11
//     (1.198 and 1.27 before, when it was starved).
//   - Only for a result of a provider trusted there, and a provider
//     below Trusted whose check could not run holds that award unjudged
//     for a day (CheckPolicy.UncheckedHold). Seeds 1–15: every goal met —
//     share 0.0066, 0.0111, 0.0071, 0.0095, 0.0061, 0.0078, 0.0062,
//     0.0065, 0.0097, 0.0059, 0.0125, 0.0101, 0.0069, 0.012, 0.0095;
//     replicas 1.252, 1.276, 1.276, 1.282, 1.29, 1.198, 1.291, 1.224,
//     1.226, 1.285, 1.284, 1.279, 1.295, 1.232, 1.299 — except that seed
//     7 accepted one on-off result not drawn for a spot-check (seed 14's
//     went). In attack_test's market the hold cut on-off seed 5 from
//     1.920 runs per job, a share of 0.4284 and 1,292 failed jobs to
//     1.310, 0 and 15 (seeds 1–5: 1.298, 1.341, 1.293, 1.295, 1.310) and
//     the lazy share from 0.0162 to 0.0119, but accepted 3 on-off wrong
//     results over seeds 1–5 instead of 2, 59 and 27 in TestShareCatches
//     instead of 27 and 4, and starved TestSybilAdaptive's market (0.05
//     runs per job, 582 jobs without providers: its honest newcomers'
//     checks, drawn among strangers, failed and held them). The wider
//     market alone leaves that market as it was except on-off seed 5
//     (2.120 runs per job).
//   - Both, only when the failed run's providers refused the requester
//     over its credit (requester_limit declines), or only when the failed
//     run was drawn among trusted providers: seed 11 at 1.308 runs per
//     job either way, as with the wider market for everyone (the hold
//     never fired there: the newcomers' checks that failed were drawn
//     among strangers, as TestSybilAdaptive's are), on-off seed 5 at
//     2.105 and 2.095 (attack_test's requesters reach their credit
//     limits too: they settle hourly).
//   - Holding every provider below Proven whose check could not run:
//     trusted providers are the checkers, held ones do not bid, and the
//     failures cascaded (1,735 to 3,500 no_providers failures on seeds
//     3, 5, 9, 10 and 15; wrong results on seeds 2, 9 and 15).
//   - Drawing a probation job's candidates at random (3 of those
//     discovery found) so that newcomer slots are not won on price, with
//     the wider market for every check: on seed 11 the lazy providers won
//     102 awards after burn-in instead of 160, but false starters,
//     intermittent and on-off cheats more: share 0.0125, 1.314 runs per
//     job.
//
// What a fix must do is make a check that cannot run cost the provider
// under it something, without serving the non-paying requester at the
// full price of its checks and without holding honest newcomers whose
// checks fail for a moment. Rule 18 makes it cost the requester instead,
// before anyone runs the job.
//
// 18. Don't hire what you cannot check. Every fix above acted after the
// award: the provider had run the job, and its check had found no bid.
// The requester can know before: a provider that refuses its call over
// its credit says so, signed (market.DeclineRequester,
// "requester_limit"). A requester now remembers each such decline with
// what it owed that provider then; the decline stands until the
// provider bids again or the debt falls below that (it paid). When it
// draws its checkers among providers it trusts (minTrusted of them among
// those discovery found), a candidate whose result it would check
// whatever the draw — CheckPolicy.Rate 1 (below Proven), a result of it
// under check, or a suspect — is not hired for the job while fewer than
// two of its other trusted providers have not declined it: a wrong
// result needs a checker and a tie-break. The job goes to providers it
// checks only now and then, or fails before anyone runs it; nobody is
// held or blamed. The node says why: "its result would be checked, and
// 3 of the 4 other providers you trust decline you over unpaid credit (a
// check needs 2 of them): pay what you owe them, or submit with --verify
// none" (node/internal/requester, Service.hireable; internal/sim,
// requester.hireable). Default setting, seeds 1–20, before and after in
// one session:
//
//	dishonest_award_share  0.0075, 0.0117, 0.0145, 0.0071, 0.0046, 0.0078, 0.0093, 0.0066, 0.0112, 0.0094,
//	                       0.0219, 0.0288, 0.0109, 0.0072, 0.009, 0.0073, 0.0142, 0.0109, 0.0161, 0.0098
//	                    →  0.0083, 0.0116, 0.0089, 0.0073, 0.0049, 0.0053, 0.0067, 0.0073, 0.0119, 0.0055,
//	                       0.0106, 0.0101, 0.012, 0.0078, 0.0092, 0.0079, 0.0142, 0.0109, 0.0104, 0.0096
//	replicas_per_job       1.264, 1.218, 1.195, 1.293, 1.268, 1.202, 1.208, 1.267, 1.276, 1.27,
//	                       1.198, 1.244, 1.292, 1.269, 1.288, 1.281, 1.313, 1.298, 1.194, 1.197 (mean 1.252)
//	                    →  1.241, 1.201, 1.171, 1.285, 1.252, 1.265, 1.204, 1.257, 1.233, 1.254,
//	                       1.207, 1.176, 1.194, 1.211, 1.283, 1.222, 1.313, 1.298, 1.215, 1.197 (mean 1.234)
//	failed jobs            85, 959, 1280, 86, 59, 1053, 1298, 38, 1109, 1686,
//	                       1521, 541, 199, 200, 104, 38, 42, 65, 1372, 1358 (13,093)
//	                    →  340, 1250, 1357, 64, 163, 109, 1223, 144, 1364, 1678,
//	                       1154, 1194, 1232, 1014, 229, 761, 42, 65, 1130, 1283 (15,796)
//
// On seed 11 the sybils' awards after burn-in (all requesters) fell
// from 163 to 18 (sybil_award_share 0.0103 → 0.0011), on seed 12 the
// intermittent cheats' from 350 to 37. The rule never turned a candidate
// away at a requester that pays (0 of the 14,168 jobs it failed so, on
// every seed); the 2,703 more failed jobs are the non-payer's, served
// less: its jobs that once went to cheats and then failed "unchecked"
// (2,694 such failures over the twenty seeds, 334 now) or found no bid
// now fail before the auction. The wrong result of seed 14 (an on-off
// cheat's, unchecked) is still the only one: 0.51 → 0.53 per 10,000
// jobs, as fewer jobs complete. dishonest_award_share_paying moved with
// the course (at most 0.0148, on seed 17, before and after), detection
// and exclusion not at all. In attack_test's market the rule never
// fires (its requesters settle hourly; TestAttacks, TestOnOffSeeds —
// on-off seed 5 at 1.373 runs per job, a share of 0, 23 failed jobs —
// TestShareCatches 27 and 4, TestSybilAdaptive, TestNonPayingRequesters:
// every figure as before). Measured on the way: one checker left instead
// of two (trigger only when every other trusted provider declines) —
// seeds 11 and 12 at 0.0192 and 0.0166: on seed 11 the non-payer kept
// one trusted provider that still worked for it, and sybils won 90 of
// its jobs after burn-in (110 sybil awards in all) — a wrong result's
// check needs a tie-break, drawn among the same trusted providers.
// Triggered by the symptom instead of the cause — no certain-check hire
// after two checks in a row drawn among trusted providers found no bid,
// until a check so drawn ran or the requester paid — seeds 11 and 12
// met the goal too (0.0125, 0.0101; 1.176 and 1.175 runs per job), with
// attack_test's markets unchanged, but on seed 11 more jobs failed
// (1,666 against 1,154), and it learns only from checks that failed: the
// decline is what the requester is told first, and what the agent can
// act on. Not kept; the other seeds were not run.
//
// Still missed: an on-off cheat that gives one requester the ~58 honest
// runs that settle it there is spot-checked at MinRate and slips about
// (1 − MinRate)/MinRate ≈ 19 wrong results before that requester catches
// it, or someone does and (with rule 15) says so. A check that finds no
// checker fails the job rather than deliver it unchecked. With on-off
// cheats honest for 200 runs and catches shared (the simulator's default
// since, as the node's), the default setting accepts 5, 12 and 5 wrong
// results on seeds 1–3, all before anyone caught the cheat; acting on
// every verified catch, whoever the checkers, gave 7, 7 and 1 — not kept.
// Only a higher floor rate, paid on every honest job, or a deposit the
// cheat forfeits (not built) would lower it.
//
// Still missed, seeds 21–40 (the design with rule 18): wrong_per_10k over
// 1 on seeds 26 (2.07, four on-off results unchecked on the ramp), 29
// (1.57) and 37 (4.04, with a share of 0.0245; 0.0081 at the requesters
// that pay). Traced with a debug build:
//
//   - Seed 37: intermittent-002 at the non-paying requester. The checks
//     of 15 of its 27 wrong results found no bid for their tie-break and
//     failed "unchecked"; none of the checks of its 100 right results
//     did (one agreeing checker is a verdict, a contradicted result needs
//     a third run). Its record there kept its right results and few of
//     its wrong ones, it climbed past Settled, and 8 slipped at MinRate.
//     Rule 18 needs two willing checkers, but a tie-break is a new
//     auction, and by then the second may decline too. Fixed by design
//     choice 19, below.
//   - Seed 29: intermittent-001 at a paying requester reached Settled
//     with 67 of evidence and none against (two checks of its wrong
//     results there ended without a verdict; how the rest stayed clean
//     was not traced), slipped 3 at
//     MinRate, and was then caught 17 times — from a lower bound of 0.96
//     down to 0.49 — while it kept winning there on price: above Trusted,
//     ProbationAgainst does not bar, and its right results between
//     catches hold it up. A bar on repeated catches for veterans too
//     needs a tally of wrong results apart from timeouts (Against counts
//     both, and an honest veteran collects timeouts), and was measured
//     before only bundled with disputes (issue 10, veterans, above).
//     Traced further and fixed by design choice 20, below: every wrong
//     result of it there, as provider and as checker, ended without a
//     verdict. The bar on repeated catches is design choice 22.
//   - Seed 26 (traced since): onoff-002 at req-03 had given it 35 clean
//     runs (lower bound 0.911–0.918, none against) when it switched; its
//     first four wrong results there were drawn at rates 0.80, 0.75,
//     0.70 and 0.66 on the ramp and none was checked (a chance of about
//     0.2 × 0.25 × 0.3 × 0.34 ≈ 0.005), its fifth was, and it was caught
//     twice in 17 s. Nobody had caught it anywhere before, so no catch
//     was there to share (rule 15), and no result of it was under check
//     (rule 12): the ramp's price (rule 14), not a fault with a class.
//
// 19. A check left unsettled by credit loses evidence one-sidedly. A
// right result's check is settled by one agreeing checker; a wrong
// one's needs a tie-break, a new auction. At a requester whose trusted
// providers decline it over its credit, the tie-breaks found no bid, the
// checks failed with nobody blamed, and the cheat's record there kept
// its right results only (seed 37 above). Now, when a check's run finds
// no bid after a checker contradicted the result, and a provider the
// requester trusts declines it over its unpaid credit (rule 18's
// declines), the result's provider is checked every time there for a
// day — as after a shared catch (rule 15), and so, with rule 18, not
// hired while its checks cannot be staffed. Nobody is blamed: the
// checker may be the liar. The node says so in the job's events
// ("checked every time for a day: a checker contradicted … and no
// tie-break could be run …"; Service.disputeUnsettled). Default
// setting, seeds 1–40, before and after in one session: only seed 37
// moves — wrong_per_10k 4.04 → 0, dishonest_award_share 0.0245 → 0.0131
// (0.0081 → 0.0062 at the requesters that pay), 1.277 → 1.273 runs per
// job, failed jobs 175 → 298 (the non-payer's); seeds 1–20 are unchanged
// figure for figure, attack_test's markets too (their requesters settle
// hourly). Without the credit condition — any unstaffed tie-break after
// a contradiction — seed 37 was mended as well and seed 17's share fell
// (0.0142 → 0.0101), but seeds 13 and 14 rose to 1.24 and 1.277 runs per
// job (1.194, 1.211), and attack_test's markets failed: whitewashers at
// 1.420 runs per job, the cheating ring 1.324, on-off seeds 1–5 with 7
// wrong results (4), on-off seed 5 at 1.485 runs per job and 4 wrong —
// in small markets contradicted checks run out of checkers for other
// reasons than credit, and honest providers contradicted by cheats
// paid a day of checks.
//
// 20. A check without a verdict still lost only a veteran's wrong
// results. On seed 29 (still missed, above) req-08's trusted pool was,
// for its first minutes, three intermittent cheats of one operator (on
// distinct /24s, so each other's checkers) and one honest provider. A
// right result of intermittent-001 was settled by one agreeing checker:
// before its first slip, 42 Successes as a provider (22 checked, 20
// drawn for no check on the ramp) and 24 as a checker. Each wrong one,
// its own or one it returned as a checker, was contradicted, the
// trusted pool spent on the tie-breaks (the other cheats often returned
// wrong results of their own), and the check ended at five runs without
// a verdict: e.g. two veterans' wrong runs (reliability 0.995, odds 199
// each) outweighed three agreeing honest strangers (odds 9 each, 729: a
// credibility of 0.65). All ten of its wrong results there (2 its own,
// 8 as a checker) ended so; its record stayed at 67 of evidence and
// none against, it climbed past Settled, and 3 slipped at MinRate. Such a check is
// not evidence against anyone (a veteran's run is worth more than a
// stranger's), but it is lopsided: more independent cohorts
// contradicted the result than returned it. JudgeCheck now names, at
// SampleUnresolved, the providers whose digest fewer cohorts returned
// than another that at least two cohorts did (SampleDecision.
// Outnumbered; none when no digest has two), and the requester checks
// their results every time for a day, as after a shared catch (rule 15)
// or an unsettled contradiction (rule 19) — nobody is blamed, and,
// with rule 18, a provider whose checks could not be staffed is not
// hired meanwhile. An honest veteran contradicted by one cheat is not
// outnumbered (one cohort against one); only runs agreeing across two
// cohorts against it make it so. The node does the same
// (Service.disputeOutnumbered, with the job event "checked every time
// for a day: more independent providers contradicted …"). On seed 29
// intermittent-001 was outnumbered at 03:23, checked every time there
// since, caught once honest providers joined req-08's pool, and fell
// below Trusted within a minute. Default setting, seeds 1–40, before and
// after in one session: two seeds move —
//
//	seed 29  wrong_per_10k 1.57 → 0, replicas_per_job 1.241 → 1.223,
//	         dishonest_award_share 0.0071 → 0.0086 (paying 0.0066 → 0.0086),
//	         failed jobs 887 → 1,144 (uncheckable 779 → 1,062, the non-payer's)
//	seed 4   replicas_per_job 1.285 → 1.280, dishonest_award_share 0.0073 → 0.0077
//	         (paying 0.0073 → 0.0083), failed jobs 64 → 201 (uncheckable 5 → 142)
//
// and the other 38 are unchanged figure for figure; attack_test's
// markets (TestAttacks, TestOnOffSeeds, TestOnOffSeed5,
// TestNonPayingRequesters, TestSybilAdaptive, TestShareCatches) too,
// every logged figure. Seed 29's extra dishonest awards (intermittent
// after burn-in 3 → 39) are cheats with two catches (Against 16, below
// ProbationAgainst) checked every time while outnumbered: none slipped.
// Seeds 1–40 now miss a goal on two: 17 (1.313 runs per job) and 26
// (2.07 wrong per 10,000, the ramp's price, above), as before.
//
// Tried and not kept (issue 10, runs per job): what the checks are
// spent on, and three changes that cut them. `hayek sim --json` reports
// check_runs, adaptive verification's re-runs by cause. Default setting,
// seeds 1–20 (5,452 re-runs per seed, mean): a check's first run for a
// winner below Trusted 960 (17.6%), between Trusted and Proven 1,870
// (34.3%), on the ramp to Settled 917 (16.8%), settled 710 (13.0%),
// forced to rate 1 by an earlier result under check or a shared catch
// 228 (4.2%); tie-breaks 767 (14.1%). Seed 17 (1.313 runs per job)
// against seed 1 (1.264): 2,170 against 1,846 below Proven, 1,092 and
// 898 below Trusted, 1,093 and 963 on the ramp, 725 and 707 settled,
// 788 and 599 tie-breaks — more of everything but settled; 376 and 162
// of its checked results were intermittent cheats', and the non-paying
// requester's checks 908 and 756. A checker's agreeing run earns its
// Success with the verdict already, and each requester's work is
// already concentrated: 6–10 providers settle at each, and its trusted
// pool, its checkers, stays at about 4–8 providers all run long. What keeps
// honest veterans below Proven and on the ramp is lost messages: a
// timeout weighs 2, and one doubles the clean jobs a provider needs to
// reach Proven (28 → 58) and Settled (58 → 121), every result checked
// or on the ramp meanwhile (seed 17: 47 timeouts against honest
// providers; one with 2 at a requester won 72 jobs there below Proven
// and 85 on the ramp, one with 3 won 144 on the ramp). Three changes:
//
//   - The check rate by the record without lapses: Standing.CheckBound,
//     the lower bound of α and β less this node's own timeouts (a tally
//     of them kept beside β, exported), used by CheckPolicy.Rate for a
//     provider at Trusted (below it the full record decides, so a lazy
//     provider is not spot-checked on what little it delivered). A
//     timeout delivers nothing to accept, so it need not multiply the
//     checks of what is delivered; it still costs standing and
//     eligibility. Seeds 1–20: replicas_per_job mean 1.2517 → 1.2368,
//     lower on 14 of 20 (seed 17 1.313 → 1.271, 18 1.298 → 1.269, 13
//     1.292 → 1.204), failed jobs 13,093 → 12,805, seeds 11 and 12's
//     share 0.0219, 0.0288 → 0.0101, 0.0099; wrong results 1 → 3 (seeds
//     1 and 4 at 0.5 and 1 per 10,000: an on-off cheat's first on the
//     ramp, an intermittent cheat settled early at one requester, neither
//     with a timeout); but seeds 9 and 10 went to 1.297 and 1.370 runs
//     per job and a share of 0.0578 and 0.0285: one requester captured,
//     its only three trusted providers on-off cheats of one operator that
//     had switched, its checks drawn among them (tie-breaks 2,700 and
//     2,286 against 1,401 and 1,723 before; checks without a verdict 680
//     and 540 against 255 and 370). Three on-off cheats were those
//     requesters' whole trusted pools at job 2,000 before too (the
//     courses part at jobs 1,244 and 870), and no longer at job 4,000;
//     after, they were until job 5,000–7,000.
//     Seeds 21–40 (before and after in one session): mean 1.2653 →
//     1.2468, max 1.299 → 1.282, lower on 17 of 20, no capture either
//     way, wrong results 11 → 13, seeds over 1 per 10,000: 26 and 29 →
//     29. In attack_test's markets it cut runs everywhere and slipped
//     nothing more: TestAttacks (cheat, sybil, whitewash, gossiping ring,
//     cheating ring, lazy, intermittent, false start, on-off) 1.273,
//     1.241, 1.288, 1.297, 1.284, 1.287, 1.280, 1.283, 1.307 → 1.263,
//     1.235, 1.260, 1.243, 1.257, 1.281, 1.263, 1.270, 1.290 (the lazy
//     share 0.0162 → 0.0106); on-off seeds 1–5 1.307, 1.451, 1.343,
//     1.396, 1.373 → 1.290, 1.434, 1.294, 1.354, 1.360, 4 wrong results
//     either way; TestSybilAdaptive seed 3 1.428 → 1.305; TestShareCatches
//     27 wrong results without sharing → 8, 4 with it either way.
//   - With it, checkers kept out of the /16 block (SubnetGuard's block)
//     of every run so far, not only its /24, so that one operator's
//     identities never check each other: no capture, max 1.313 → 1.270,
//     mean 1.2517 → 1.2382, failed jobs 13,093 → 6,943, share at most
//     0.0157 on all 20 (seeds 11, 12: 0.0099, 0.0083) — but 10 wrong
//     results: seeds 1, 2 and 7 at 2.01, 0.5 and 2.68 per 10,000 (an
//     on-off cheat's first four at the one requester that had all its
//     honest runs; an intermittent cheat settled at one requester by job
//     900, never caught there), over the goal on two seeds where the
//     design met it. And in attack_test's markets the on-off cheats of
//     TestAttacks slipped one (none before), and TestShareCatches 125
//     and 34 (27 and 4 before).
//   - With the first, minTrusted counted by block instead: a requester
//     keeps its jobs beyond the probation share, and its checkers, to
//     the providers it trusts only once they span three /16s (the node's
//     closeToTrusted and checkCandidates alike; a provider whose subnet
//     is no cohort a block of its own). Default setting, seeds 1–20: no
//     capture, mean 1.2517 → 1.2337, max 1.313 → 1.273, lower on 13 of
//     20, share at most 0.0137 on all 20 (seeds 11, 12: 0.0103, 0.0099),
//     failed jobs 13,093 → 9,632, wrong results 1 → 2 — both on seed 14,
//     1.01 per 10,000 (0.51 before), two on-off cheats' first results
//     past Proven at job ~1,320. But attack_test's on-off market, one
//     operator's 8 cheats beside 40 honest providers, slips: a requester
//     stays open longer, and the cheap cheats win its jobs and settle
//     there — on-off seeds 1–5 at 1.299, 1.312, 1.281, 1.369, 1.326 runs
//     per job with 2, 3, 0, 0, 5 wrong results (4 before: TestOnOffSeeds,
//     TestOnOffSeed5 and TestAttacks' on-off case fail), TestShareCatches
//     56 and 15 (27 and 4). The node's tests passed (Agree, Adaptive,
//     DefaultVerify). Counting blocks for the checker pool only (jobs
//     closed to trusted providers from three of them, as now) did no
//     better there: on-off seeds 1–5 1.316, 1.315, 1.296, 1.347, 1.318
//     with 1, 1, 4, 3, 1 wrong results, TestShareCatches 23 and 18.
//
// None is kept: the goal is per seed, and which seed shows a
// capture or a slip moves with any change in who wins where (both are
// early-game: a requester whose first trusted providers are cheap cheats
// that are still honest). The first is the measured cut (0.015–0.019
// runs per job in the mean, lower on 31 of 40 seeds); it wants the
// capture fixed first — a requester whose trusted pool is one
// operator's — by something that does not keep it open to cheap cheats
// longer, as counting blocks does. What is left is the price of proving providers: without a
// lost message the 34% between Trusted and Proven is about 24 checked
// jobs per provider per requester (4 to 28 clean ones), and the ramp's
// 17% about 15 more. (Design choice 21 keeps the first, bounded, with a
// rule for the capture that opens no job.)
//
// 21. Lost messages multiplied an honest veteran's checks, and a
// requester whose trusted providers had turned could not recover. Three
// parts, measured together:
//
//   - The check rate by the record without lapses (the first change
//     above), bounded: Standing.CheckBound is the lower bound with this
//     node's own timeouts of the peer (a tally kept beside β, decayed
//     with it, exported) taken out of β, up to Params.LapseShare (0.05)
//     of its first-hand positive evidence — one lost message, weight 2,
//     per 40 clean jobs — and CheckPolicy.Rate reads it for a provider at
//     Trusted. A lost message still costs standing and eligibility; a
//     provider that times out often is hardly excused. Unbounded, seeds 9
//     and 10 were captured again in this session (1.361 and 1.339 runs
//     per job, share 0.1739 and 0.0294).
//   - Capture: a requester counts its checks in a row that end without a
//     verdict while providers it trusts returned different results in
//     them (a verdict resets the count; a check whose trusted runs agreed
//     does not count). At three its trusted pool cannot settle a check,
//     and while its checkers come from that pool no newcomer's result
//     gets a verdict, so no honest provider can earn its trust: for ten
//     minutes it draws its checkers in the wider market, as before it
//     trusted minTrusted, and checks every result of the trusted
//     providers of those checks, as after a shared catch. Nobody is
//     blamed and no job is opened: it keeps its jobs to the providers it
//     trusts, so cheap cheats gain nothing (the node: probation.checkEnded,
//     Service.checkCandidates, an event on the job that trips it).
//   - A provider a checker contradicted whose tie-break found no bid
//     while a trusted provider declines the requester over its credit
//     (rule 19) is not hired there while one still does, however many
//     others would check it: the next tie-break would find no bid either
//     (Service.hireable, requester.hireable).
//
// Default setting, seeds 1–40, before (main) and after in one session:
// replicas_per_job mean 1.2392 → 1.2223 (seeds 1–20 1.2340 → 1.2190,
// 21–40 1.2446 → 1.2256), max 1.313 → 1.278, lower on 26 of 40 — seed
// 17 1.313 → 1.264, seeds 9 and 10 1.233, 1.254 → 1.204, 1.182 (their
// early captures, in main too, end sooner: checks without a verdict 255
// and 370 → 48 and 47); where runs rose most (seeds 20, 11 and 38, by
// 0.074, 0.056 and 0.047) the non-paying requester was served rather
// than starved (its jobs failed before any award, rule 18's
// uncheckable, 1,241, 1,104 and 752 → 0, 6 and 0; check runs below
// Proven 1,630, 1,719 and 1,561 → 1,899, 1,823 and 1,850); wrong
// results 12 → 9 (seed 26 2.07 → 0 per
// 10,000, 29 1.57 → 1.06, 4 0 → 1.00, 14 and 40 one each as before);
// dishonest_award_share at most 0.0142 → 0.0131 (seed 17 0.0142 →
// 0.0069, 6 0.0053 → 0.0107, 1 0.0083 → 0.0118); failed jobs 27,048 →
// 25,913; no honest provider excluded, sybils at most 0.0017 of awards,
// detection at most 5 jobs (seed 9 2 → 3). No goal is missed on a seed
// that met it; seeds 17 (runs) and 26 (wrong results) now meet theirs,
// seed 29 (1.06 wrong per 10,000) is the one left. In attack_test's
// markets runs fall everywhere and nothing more slips: TestAttacks
// (cheat, sybil, whitewash, gossiping ring, cheating ring, lazy,
// intermittent, false start, on-off) 1.273, 1.241, 1.288, 1.297, 1.284,
// 1.287, 1.280, 1.283, 1.307 → 1.263, 1.235, 1.275, 1.253, 1.247, 1.281,
// 1.263, 1.282, 1.290 (the lazy share 0.0162 → 0.0106); on-off seeds
// 1–5 1.307, 1.451, 1.343, 1.396, 1.373 → 1.290, 1.368, 1.290, 1.368,
// 1.360 with 4 wrong results either way (0, 0, 3, 0, 1 → 0, 1, 2, 0, 1);
// TestShareCatches 27 → 8 wrong results without sharing, 4 with it
// either way; TestSybilAdaptive seed 3 1.428 → 1.325; the non-paying
// requesters' market 1.324 → 1.289. The third part never fires there
// (their requesters settle hourly).
//
// Measured on the way, not kept: the first part unbounded with the
// capture rule drawing in the wider market only — mean 1.2097, max
// 1.275, lower on 34 of 40, but wrong results 12 → 16, seed 40 0.51 →
// 1.02 per 10,000 (two on-off results on the ramp, neither provider with
// a lapse), on-off seeds 1–5 6 wrong results; with the splitters
// checked every time, on-off seed 2 still slipped one (5 over seeds
// 1–5): at a requester never captured, 54 s after another was (which
// trusted one honest provider and two switched on-off cheats). The
// capture rule alone (no check bound): default seeds 1–30 move only
// where it fires, 9, 10, 22, 23 (1.233, 1.254, 1.194, 1.218 → 1.207,
// 1.197, 1.230, 1.216), on-off seeds 1–5 1.307, 1.430, 1.343, 1.396,
// 1.373 and 5 wrong. LapseShare 0.1: 5 on-off wrong results. The first
// two parts without the third: every goal met but seed 6's share,
// 0.0053 → 0.0253 (0.0078 at the requesters that pay): at the
// non-paying requester an intermittent cheat won 289 jobs after burn-in
// and reached Settled with nothing against it, checked every time under
// rule 19 again and again — its right results' checks earned Successes,
// its wrong results' tie-breaks found no bid (58 checks failed so, 9
// before) — the one-sided record rule 19 was meant to stop, which
// checking every time alone makes faster. Which seed shows a slip still
// moves with any change in who wins where.

//
// 22. A veteran caught repeatedly kept winning. Above Trusted only the
// book's floor (MinReliability) bars, and a cheat's right results
// between catches hold its reliability above it: on seed 29, before
// rule 20, intermittent-001 was caught 17 times at req-08 (lower bound
// 0.96 → 0.49) and kept winning there on price. ProbationAgainst (rule
// 16) cannot bar veterans, because Against counts timeouts and failures
// too, and an honest veteran collects those from lost messages (the
// most against one honest provider in a default run was 14). The book
// now keeps, beside β, the part of its first-hand evidence that wrong
// results weigh (Standing.Wrong, decayed with the rest, exported), and
// CheckPolicy.CaughtBar (24: a third catch within about a week) bars a
// provider whatever its record — as a winner and as a checker (it
// leaves the trusted pool). Timeouts and failures never reach it; no
// honest provider was excluded on any seed. Default setting, seeds
// 1–40, with rule 20 and without rule 21, before and after in one
// session: eight seeds move,
// no goal worse on any —
//
//	seed  replicas_per_job  dishonest_award_share  failed jobs (the non-payer's, rule 18)
//	15    1.283 → 1.222     0.0092 → 0.0085        229 → 1,042
//	17    1.313 → 1.291     0.0142 → 0.0097        42 → 232
//	18    1.298 → 1.202     0.0109 → 0.0097        65 → 1,213
//	20    1.197 → 1.229     0.0096 → 0.0073        1,283 → 832
//	29    1.223 → 1.299     0.0086 → 0.0075        1,144 → 83
//	33    1.277 → 1.294     0.0102 → 0.0086        202 → 58
//	37    1.273 → 1.253     0.0131 → 0.0133        298 → 536
//	40    1.254 → 1.207     0.0081 → 0.0065        347 → 1,245 (and 0.51 → 0 wrong per 10,000)
//
// (means over 1–40: 1.2387 → 1.2357 runs per job, share 0.0091 →
// 0.0088, wrong results accepted 9 → 8; sybil shares moved by at most
// 0.0003). Seed 17 now meets 1.3, so of seeds 1–40 only seed 26 misses
// a goal. In attack_test's markets only TestShareCatches moves (on-off
// cheats honest for 200 runs): a cheat barred where it is checked at
// rate 1 takes its work to requesters that spot-check it, as measured
// before (issue 10, veterans) — seed 1 27 → 30 wrong results without
// sharing, 4 → 6 with it (the test's bound, at most half, holds); over
// seeds 1–5 with sharing (the default) 4, 23, 11, 33, 34 → 6, 19, 10,
// 28, 31 (105 → 94), without 27, 38, 16, 68, 50 → 30, 21, 52, 44, 78
// (199 → 225). Every other attack figure is unchanged. Tried and not
// kept: the bar at 16 (a second catch) — 14 seeds move, seed 25 accepts
// one (0 → 0.51 per 10,000), seeds 30 and 40's shares rise (0.0086 →
// 0.011, 0.0081 → 0.0113), seed 17 at 1.300.
//
// Rules 20, 21 and 22 together (measured apart above, merged, then
// `hayek sim --seeds 1-40` against the design with rule 19, one
// session): 39 of 40 seeds meet every goal (12 wrong results → 4: 0.52
// on seed 14, 1.00 on 28, 0.50 on 36, all on-off results unchecked on
// the ramp; seeds 26 and 29, 2.07 and 1.57 before, at 0), and the 40th,
// seed 3, misses only by one (always-cheater, requester) pair counted
// undetected, as before: one check run in the requester's first minute
// that ended without a verdict (below), nothing accepted, never drawn
// or hired there again, but not barred. replicas_per_job 1.166–1.278, mean 1.2392 →
// 1.2221 (seed 17 1.313 → 1.264); dishonest_award_share at most 0.0142
// → 0.0127 (mean 0.0089); sybils at most 0.0017; detection 2–5 jobs;
// failed jobs 27,048 → 25,914; no honest provider excluded. On seeds
// 41–60, never run while the rules were tuned: 19 of 20 meet every goal,
// 4 wrong results in 390,372 completed jobs; seed 49 at 1.03 per 10,000
// (two of one on-off cheat's results unchecked on the ramp: the ramp's
// price, rule 14), runs per job 1.190–1.274, share at most 0.0185.
// attack_test's markets pass with every bound as before: TestAttacks
// 1.263, 1.235, 1.275, 1.253, 1.247, 1.281, 1.263, 1.282, 1.290 runs per
// job (cheat … on-off, as in rule 21), on-off seeds 1–5 4 wrong results
// (0, 1, 2, 0, 1) as before; but TestShareCatches (on-off cheats honest
// for 200 runs, the attack this design still misses) accepts 32 without
// sharing and 10 with it on seed 1 (27 and 4 before; rule 22 alone 30
// and 6, rule 21 alone 8 and 4): cheats barred where they are checked
// every time take their work to requesters that spot-check them. (Rule 22's bar
// on the trusted set is kept out of the design before issue 10: it had
// moved the README's "before" columns.)
//
// Tried and not kept (issue 10, seed 3's undetected pair): why it was
// undetected, and holding outnumbered newcomers out of awards. On seed
// 3, the one (always-cheater, requester) pair counted undetected,
// cheat-006 at req-02, never won a job there: its one run there was a
// check run, the first checker of lazy-003's (right) result of
// req-02-j00243 at 1m03s, drawn among strangers (req-02 trusted one
// provider). It contradicted, and the tie-breaks went: honest-182
// agreed with lazy-003 (credibility 0.8901), honest-111 too (0.9865:
// three agreeing strangers at 0.9 against one stay below 0.99), and the
// fifth and last run (maxCheckRuns) was falsestart-004, whose missed
// starts had put its first-hand reliability at req-02 at 0.56 — odds of
// 1.3 against a stranger's 9 — so the best result reached 0.9893 < 0.99
// and the check ended unresolved: nobody blamed, nothing recorded,
// cheat-006 outnumbered four cohorts to one (SampleDecision.
// Outnumbered). Rule 20's mark (checked every time for a day) changes
// nothing for a newcomer, whose results are checked every time anyway;
// and without a WrongResult SubnetGuard.Caught was never called for its
// /24 (192.169.6.0/24) at req-02, which had caught one other
// always-cheater /24 (cheat-005's 192.169.5.0/24, at 4m35s): one /24 of
// 192.169.0.0/16, not the two that bar the block. The other eleven
// never-judged pairs of seed 3 are the same story — newcomers with one
// run each, checks without a verdict — at requesters that had caught two
// /24s of that /16 (or their own), so the guard bars them (Report.
// BarredUnjudged). (Report.Undetected's "jobs" are runs delivered, check
// runs included.) Tried: a newcomer in d.Outnumbered held out of that
// requester's awards — check runs included — for a day or until it has a
// record there (repView.Standing, and the node's probation.Standing on
// its outnumbered map, with a deterministic test). Default setting, seeds
// 1–40, against current main's figures (`hayek sim --seeds 1-40`, one
// session): every seed moves (the hold changes auctions, so every run's
// draws diverge after it); seed 3 meets every goal (undetected 1 → 0,
// runs per job 1.185 → 1.218, share 0.0054 → 0.0087), but seed 1 misses
// one it met —
//
//	seed 1   dishonest_award_share 0.0109 → 0.0276 (paying 0.0115 → 0.0103),
//	         runs per job 1.252 → 1.186, failed jobs 22 → 1,523 (uncheckable 0 → 1,383)
//
// so it is not kept. Seed 1's new share is not the hold's doing, as
// traced: 266 of its 272 on-off awards after burn-in are at the
// non-paying requester, 264 of them check runs won by onoff-000 and
// onoff-006, two of its four trusted providers — the other two declined
// it over its credit, so its checks were drawn among those two (none of
// their results slipped; none of its holds hit a newcomer). The
// divergence put two on-off cheats in that requester's trusted pool; on
// main no seed of 1–40 shows it (the most on-off awards after burn-in,
// seed 1's, 38). Otherwise over 1–40: wrong results accepted 4 → 4 (seeds
// 17, 23, 39 at 0.5 per 10,000, 14, 28, 36 from 0.52, 1.00, 0.50 to 0,
// 0.50, 0), runs per job mean 1.2221 → 1.2222 (worst 1.278 → 1.280),
// share mean 0.0089 → 0.0093 (paying 0.0089 → 0.0090, worst 0.0126 →
// 0.0149), sybils at most 0.0016, detect_jobs_max mean 3.13 → 1.58
// (worst 5 → 3: a held cheat runs nothing more there), never-judged
// pairs barred 515 → 674, failed jobs 25,914 → 23,559, no honest
// provider excluded. Holds over 1–40 (newcomers only): cheat 687, ring
// 675, whitewash 405, intermittent 219, on-off 12, honest 4 (seeds 14,
// 16, 20). Seeds 41–60: 20 of 20 meet every goal (seed 49 1.03 → 0 wrong
// per 10,000). attack_test's markets pass, every bound; TestAttacks'
// cheat, whitewash and ring markets move (seed 1: runs per job 1.263 →
// 1.257, 1.275 → 1.256, 1.247 → 1.254), the rest unchanged.
// The root of this check's failure was its last run's checker, worth
// less than a stranger by its own record here (a false starter at
// 0.56): with a fifth stranger at 0.9 JudgeCheck resolves it at 0.9985
// and catches cheat-006. Also tried and not kept, the same session:
// check runs drawn among strangers drawn only among providers whose
// first-hand reliability here is at least a stranger's
// (VerifyPriorMean), the rest only when nobody else is left (the node's
// checkCandidates likewise, with a test). Seeds 1–40: 37 of 40 meet
// every goal — seed 3 1 → 4 undetected pairs, seed 33 0 → 2, seed 16
// 0 → 1.06 wrong per 10,000 (2 accepted) — undetected pairs over 1–40
// 1 → 6, barred never-judged 515 → 460, wrong results accepted 4 → 6,
// runs per job mean 1.2221 → 1.2196, share mean 0.0089 → 0.0088 (worst
// 0.0127 → 0.0147). Its four undetected pairs on seed 3 are the same
// class at another requester (req-07, all newcomers with one or two
// runs there, none of their /24s caught there): it trusted nobody for
// its first minute, and checks drawn among strangers that drew two wrong
// runs of different digests (a ring's and a cheat's) ended at five runs
// with three agreeing strangers, 0.9746 < 0.99, e.g. req-07-j00081 and
// -j00170 — so the class is wider than a weak fifth checker: any such
// check leaves its wrong providers unjudged, outnumbered (which the hold
// above covered) but unbarred; which way the divergence falls per seed
// decides whether the guard happens to bar them.
// Left alone: the non-paying requester's check runs won by cheats in its
// trusted pool once its honest providers decline it (seed 1 above),
// which the goal's dishonest_award_share counts and its paying share
// does not.

// # Attestation batches
//
// Batcher collects this node's reports and cuts an Attestation every
// MaxReports (64) reports, when the oldest has waited MaxDelay (1 minute),
// or before MaxBytes (64 KiB, estimated) would be exceeded, numbering
// batches lastSeq+1, lastSeq+2, … It refuses what receivers would refuse.
// The node signs each batch (canon, kind "attestation"), appends it to its
// ledger and publishes it on /hayek/reputation/1.
//
// # What the node feeds it
//
//	event                                          call
//	receipt countersigned (as requester)           Record(now, provider, cap, Success, receiptCID)
//	  … started later than committed               Record(now, provider, cap, MissedStart, receiptCID)
//	award not acknowledged / no result in time     Record(now, provider, cap, Timeout, jobID)
//	provider refused an award or reported a fault  Record(now, provider, cap, Failure, jobID)
//	Decide accepted (replicate:K)                  Success for Agree (their receipts), WrongResult for Disagree (jobID)
//	JudgeSample resolved                           WrongResult for Wrong (the receipt CID, or jobID)
//	adaptive job completed                         CheckPolicy.Rate(Standing of the winner), 1 while one of its results is under check → ShouldSample: check it?
//	  check run ended                              JudgeCheck over DirectReliability: verdict, or one more run
//	  verdict                                      Success (deferred) for runs of the digest that stands, WrongResult for Wrong
//	  WrongResult recorded                         SubnetGuard.Caught(the provider's subnet)
//	receipt countersigned (as provider)            Record(now, requester, CapRequester, Paid, receiptCID)
//	requester refused to sign                      Record(now, requester, CapRequester, Disputed, jobID)
//	settle entry appended                          Record(now, requester, CapRequester, Settled, settleCID)
//	each of the above                              Batcher.Add(now, Report{…}) → sign and publish what it returns
//	attestation received and verified              Attest(now, att)
//	periodically (e.g. every minute)               Tick(now), Batcher.Tick(now)
//	auction, adaptive job                          Standing, and CheckPolicy.Probation(Standing, DirectReliability)
//	auction, replica group                         Standing, Reliability → Decide
//	call for bids from a requester                 CreditLimit against its bilateral balance
//	shutdown / start                               Export → store; Restore; Batcher.Flush
//
// Before Attest the node verifies the envelope's signature and freshness
// and every report's receipt: countersigned, the reporter one of its two
// parties and the subject the other, and not older than EvidenceMemory
// (older receipts could be counted again once forgotten).
//
// A Book is safe for concurrent use. A Batcher is not.
//
// # Parameters
//
//	Params field          default    meaning
//	HalfLife              14 days    evidence older by this weighs half
//	Weights               see above  observations per outcome
//	Quantile              0.05       q of the lower credible bound
//	NewcomerEvidence      1          below this evidence a peer is a newcomer
//	ReporterWeight        0.5        the most one report counts (fully trusted reporter)
//	TrustFloor            0.5        reporter lower bound at which its weight starts
//	ReporterCap           10         raw observations one reporter can add on one subject
//	ThirdPartyCap         10         observations all third parties can add on one subject
//	EvidenceMemory        140 days   how long evidence IDs are remembered; older attestations refused
//	CreditFullTrust       0.9        requester lower bound at which credit reaches max
//	VerifyPriorMean       0.9        a stranger's reliability (1 − assumed faulty share)
//	VerifyPriorStrength   2          observations the verification prior is worth
//	MinReliability        0.4        first-hand reliability below which a peer is not eligible (0: off)
//	LapseShare            0.05       timeouts CheckBound leaves out, per unit of first-hand positive evidence (0: none)
//	LapseShare            0.05       timeout weight per clean job that Standing.CheckBound leaves out (0: none)
//
// Validate reports every bad field (ParamsError, matching ErrParams); in
// particular TrustFloor must be at least Quantile, or strangers would
// weigh something.
//
// # Known limits
//
// Wrong results are assumed to collude, but nothing stops real colluders
// from being drawn together: two colluding veterans outvote one honest
// replica (Decide), and two colluding trusted checkers one honest run
// (JudgeCheck) — unless they share a /24, which makes them one voice in
// JudgeCheck. Colluders spread over many operators' addresses look
// independent. Drawing replicas at random among the best bids and
// checkers at random, never by price, distinct /24s, the cap on
// newcomers, and trust earned first-hand before anyone checks are the
// market's defences. Sybils this node has
// paid (done real work with) carry a little weight — bounded by the caps.
// A peer with a bad record can start over as a stranger (whitewashing):
// strangers therefore get only the base credit and no eligibility for
// jobs with a minimum reputation.
//
// Behaviour is pinned by the datadriven scripts in testdata; run
// `go test ./reputation -run Scripts -rewrite` to regenerate them after a
// deliberate change and review the diff. Property tests take -seed.
package reputation
