package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/settlement"
)

func TestLedgerList(t *testing.T) {
	f, sock := startNode(t)
	f.AddAgent(api.AgentCreate{Name: "crawler", Budget: 10})
	hayek(t, sock, "", "agent", "fund", "crawler", "100", "--note", "march").want(t, 0)
	hayek(t, sock, "", "ledger", "settle", "12D3KooWRequesterZZZZZZZZZZZZZZZZZZZZZZZZZZZZ99999999", "30").want(t, 0)

	r := hayek(t, sock, "", "ledger")
	r.want(t, 0)
	r.stdoutHas(t, "SEQ", "KIND", "SUMMARY",
		"governance", "action=agent_create agent=crawler",
		"fund", "agent=crawler amount=100", "note=march",
		"settle", "amount=30", "debtor=12D3…999999")
	if strings.Contains(r.stdout, "sig") || strings.Contains(r.stdout, "token_hash") {
		t.Errorf("summaries show signatures or token hashes:\n%s", r.stdout)
	}

	r = hayek(t, sock, "", "ledger", "--kind", "fund", "--json")
	r.want(t, 0)
	var es []api.LedgerEntry
	if err := json.Unmarshal([]byte(r.stdout), &es); err != nil || len(es) != 1 || es[0].Kind != "fund" || es[0].Seq != 2 {
		t.Errorf("ledger --kind fund --json: %v %s", err, r.stdout)
	}
	r = hayek(t, sock, "", "ledger", "--after", "1", "--limit", "1")
	r.want(t, 0, "more may follow: hayek ledger --limit 1 --after 2")
	if strings.Contains(r.stdout, "governance") || !strings.Contains(r.stdout, "fund") {
		t.Errorf("--after 1 --limit 1:\n%s", r.stdout)
	}
	hayek(t, sock, "", "ledger", "--job", "nothing").want(t, 0, "no ledger entries match")
	hayek(t, sock, "", "ledger", "--kind", "recipt").want(t, ExitUsage, "receipt")
	hayek(t, sock, "", "ledger", "--limit", "0").want(t, ExitUsage)
	hayek(t, sock, "", "ledger", "bogus").want(t, ExitUsage)
}

func TestSummarize(t *testing.T) {
	for body, want := range map[string]string{
		`{"agent":"a","amount":5,"note":""}`:                "agent=a amount=5",
		`{"job":"j1","agent":"a","amount":1000}`:            "agent=a amount=1000 job=j1",
		`{"job":"j1","amount":0,"reason":"provider_fault"}`: "amount=0 job=j1 reason=provider_fault",
		`{"node":"12D3KooWSelfXXXXXXXXXXXXXXX12345678","head":"bafyreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","seq":9,"time":5,"sig":"AAAA"}`:                                                                                                                                                              "node=12D3…345678 seq=9 head=…aaaaaaaa",
		`{"receipt":{"job":"j1","attempt":1,"requester":"12D3KooWReqAAAAAAAAAAAA11111111","provider":"12D3KooWProvBBBBBBBBBBBB22222222","cap":"runtime/wasm","price":40,"result":"bafyR","outcome":"ok","requester_head":"bafyH","created":7},"requester_sig":"x","provider_head":"bafyP","provider_sig":"y"}`: "price=40 job=j1 attempt=1 provider=12D3…222222 requester=12D3…111111 cap=runtime/wasm outcome=ok",
		`{"reports":[1,2,3],"issuer":"p"}`:            "issuer=p reports=[3]",
		`{"agent":"a","amount":1,"note":"for march"}`: `agent=a amount=1 note="for march"`,
		`{"action":"agent_create","agent":"operator","detail":"the node's operator, funded at its very first start"}`: `action=agent_create agent=operator detail="the node's operator, funded at its very…"`,
		`not json`: "not json",
		``:         "-",
	} {
		if got := summarize(json.RawMessage(body)); got != want {
			t.Errorf("summarize(%s)\n got %q\nwant %q", body, got, want)
		}
	}
}

func TestLedgerBalance(t *testing.T) {
	f, sock := startNode(t)
	f.AddAgent(api.AgentCreate{Name: "crawler", Budget: 500})
	dir := files(t, "m.wasm", "\x00asm")
	hayek(t, sock, "", "job", "submit", "--wasm", filepath.Join(dir, "m.wasm"), "--env", "OUTCOME=hang").want(t, 0)

	r := hayek(t, sock, "", "ledger", "balance")
	r.want(t, 0)
	r.stdoutHas(t, "funded", "1000500", "budgets left", "999500", "held", "1000",
		"invariant", "funded 1000500 = budgets left 999500 + held 1000 + paid 0: holds",
		"agents", "crawler", "open holds", "j1", "operator",
		"peers", "12D3…111111", "-120", "this node owes it", "+70", "owes this node", "10000")
	r = hayek(t, sock, "", "ledger", "balance", "--json")
	r.want(t, 0)
	var b api.Balance
	if err := json.Unmarshal([]byte(r.stdout), &b); err != nil || b.Funded != 1000500 || len(b.Peers) != 2 {
		t.Errorf("balance --json: %v %s", err, r.stdout)
	}

	f.BreakBalance(7)
	r = hayek(t, sock, "", "ledger", "balance")
	r.want(t, ExitFailed, "does not add up", "off by 7", "Try: hayek ledger verify")
	r.stdoutHas(t, "BROKEN")
}

func TestLedgerVerifyOnTheNode(t *testing.T) {
	f, sock := startNode(t)
	r := hayek(t, sock, "", "ledger", "verify")
	r.want(t, 0)
	r.stdoutHas(t, "the ledger verifies: 12 entries, 3 checkpoints", "head bafyheadHHHH (seq 12)")
	r = hayek(t, sock, "", "ledger", "verify", "--deep")
	r.want(t, 0)
	r.stdoutHas(t, "2 receipts", "with their signatures")

	f.SetVerifyReport(api.VerifyReport{OK: false, Entries: 6, BadSeq: 7, Error: "settlement: ledger corrupt at entry 7: link broken"})
	r = hayek(t, sock, "", "ledger", "verify")
	r.want(t, ExitFailed, "corrupt at entry 7", "link broken", "Try: restore")
	r = hayek(t, sock, "", "ledger", "verify", "--json")
	r.want(t, ExitFailed, "corrupt at entry 7")
	var rep api.VerifyReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.OK || rep.BadSeq != 7 {
		t.Errorf("verify --json: %v %s", err, r.stdout)
	}
}

func TestLedgerExport(t *testing.T) {
	f, sock := startNode(t)
	f.SetExport(`{"seq":1}`, `{"seq":2}`)
	const export = "{\"seq\":1}\n{\"seq\":2}\n"
	r := hayek(t, sock, "", "ledger", "export")
	r.want(t, 0)
	if r.stdout != export {
		t.Errorf("export to stdout: %q", r.stdout)
	}
	out := filepath.Join(t.TempDir(), "ledger.jsonl")
	r = hayek(t, sock, "", "ledger", "export", "--out", out)
	r.want(t, 0, "hayek ledger verify --file "+out)
	b, err := os.ReadFile(out)
	if err != nil || string(b) != export {
		t.Errorf("--out: %q %v", b, err)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("--out mode: %v %v, want 0600", fi.Mode(), err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(out)); len(ents) != 1 {
		t.Errorf("export left %d files, want 1", len(ents))
	}
	hayek(t, sock, "", "ledger", "export", "--out", filepath.Join(out, "nope", "x")).want(t, ExitFailed, "--out")
}

func TestLedgerSettle(t *testing.T) {
	f, sock := startNode(t)
	const debtor = "12D3KooWRequesterZZZZZZZZZZZZZZZZZZZZZZZZZZZZ99999999"
	r := hayek(t, sock, "", "ledger", "settle", debtor, "50", "--reference", "invoice 7")
	r.want(t, 0)
	r.stdoutHas(t, "recorded: 12D3…999999 paid 50 outside the ledger (entry 1)")
	if settled := f.Settled(); len(settled) != 1 || settled[0] != (api.Settle{Peer: debtor, Amount: 50, Reference: "invoice 7"}) {
		t.Errorf("the node got %+v", settled)
	}
	hayek(t, sock, "", "ledger", "settle", debtor, "100").want(t, ExitFailed, "exceeds the debt", "Try: hayek ledger balance")
	hayek(t, sock, "", "ledger", "settle", debtor, "3x").want(t, ExitUsage, "AMOUNT")
	hayek(t, sock, "", "ledger", "settle", debtor).want(t, ExitUsage, "a PEER ID and an AMOUNT")
	r = hayek(t, sock, "", "ledger", "settle", debtor, "5", "--json")
	r.want(t, 0)
	var e api.LedgerEntry
	if err := json.Unmarshal([]byte(r.stdout), &e); err != nil || e.Kind != "settle" {
		t.Errorf("settle --json: %v %s", err, r.stdout)
	}
}

func TestRep(t *testing.T) {
	f, sock := startNode(t)
	hayek(t, sock, "", "rep").want(t, 0, "no evidence about any peer yet")
	// Two hours on, so the table shows a time of day, never a date.
	suspect := time.Now().Add(2 * time.Hour).Truncate(time.Second)
	f.SetReputation(
		api.RepRow{Peer: "12D3KooWProviderOneAAAAAAAAAAAAAAAAAAAAAAAA11111111", Capability: "runtime/wasm", Alpha: 9.5, Beta: 1.25,
			Mean: 0.884, LowerBound: 0.71, Evidence: 9.75, FirstHand: 8, ThirdParty: 1.75},
		api.RepRow{Peer: "12D3KooWProviderTwoBBBBBBBBBBBBBBBBBBBBBBBB22222222", Capability: "runtime/wasm", Alpha: 1, Beta: 4, Mean: 0.2, LowerBound: 0.01, Evidence: 3, FirstHand: 3,
			SuspectUntil: &suspect},
	)
	r := hayek(t, sock, "", "rep")
	r.want(t, 0)
	r.stdoutHas(t, "α", "β", "MEAN", "LOWER BOUND", "FIRST-HAND / THIRD-PARTY", "CHECKED", "12D3…111111", "9.50", "1.25", "0.884", "0.710", "(8.0 / 1.8)", "12D3…222222",
		"until "+suspect.Local().Format("15:04")+" (a shared catch)")
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.Contains(line, "12D3…111111") && (strings.Contains(line, "shared catch") || !strings.HasSuffix(strings.TrimSpace(line), "-")) {
			t.Errorf("a peer in good standing is marked: %q", line)
		}
	}
	r = hayek(t, sock, "", "rep", "12D3KooWProviderTwoBBBBBBBBBBBBBBBBBBBBBBBB22222222", "--json")
	r.want(t, 0)
	var rows []api.RepRow
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 1 || rows[0].Beta != 4 ||
		rows[0].SuspectUntil == nil || !rows[0].SuspectUntil.Equal(suspect) {
		t.Errorf("rep PEER --json: %v %s", err, r.stdout)
	}
	if !strings.Contains(r.stdout, `"suspect_until"`) {
		t.Errorf("rep --json lost the API's suspect_until: %s", r.stdout)
	}
	hayek(t, sock, "", "rep", "12D3KooWNobody").want(t, ExitNotFound, `no peer this node knows matches "12D3KooWNobody"`)
	hayek(t, sock, "", "rep", "a", "b").want(t, ExitUsage)
}

// realExport builds a small ledger with the settlement package, signed by
// a fresh libp2p identity, and returns its export.
func realExport(t *testing.T) []byte {
	t.Helper()
	l, _ := ledgerOf(t)
	ctx := t.Context()
	if _, err := l.Append(ctx, settlement.KindGovernance, settlement.Governance{Action: settlement.ActionAgentCreate, Agent: "crawler"}); err != nil {
		t.Fatal(err)
	}
	for _, amount := range []int64{500, 250} {
		if _, err := l.Append(ctx, settlement.KindFund, settlement.Fund{Agent: "crawler", Amount: amount}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Append(ctx, settlement.KindHold, settlement.Hold{Job: "j1", Agent: "crawler", Amount: 100}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := l.Export(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestLedgerVerifyFileOffline(t *testing.T) {
	export := realExport(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.jsonl")
	os.WriteFile(good, export, 0o600)
	noNode := filepath.Join(dir, "no-node.sock") // nothing listens: the check is offline

	r := hayek(t, noNode, "", "ledger", "verify", "--file", good, "--deep")
	r.want(t, 0)
	r.stdoutHas(t, good+" verifies:", "checkpoints", "signed by 12D3KooW")
	r = hayek(t, noNode, string(export), "ledger", "verify", "--file", "-", "--json")
	r.want(t, 0)
	var rep api.VerifyReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || !rep.OK || rep.Entries == 0 || rep.Checkpoints == 0 || rep.Node == "" {
		t.Errorf("--json: %v %s", err, r.stdout)
	}

	// Change the amount of the fund of 250: from that entry on, nothing
	// can be trusted, and the command says which entry it is.
	lines := strings.Split(strings.TrimSpace(string(export)), "\n")
	bad := -1
	for i, l := range lines {
		if strings.Contains(l, `"amount":250`) {
			lines[i], bad = strings.Replace(l, `"amount":250`, `"amount":2500`, 1), i
		}
	}
	if bad < 0 {
		t.Fatalf("no fund of 250 in the export:\n%s", export)
	}
	var e struct{ Seq uint64 }
	json.Unmarshal([]byte(lines[bad]), &e)
	tampered := filepath.Join(dir, "tampered.jsonl")
	os.WriteFile(tampered, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
	r = hayek(t, noNode, "", "ledger", "verify", "--file", tampered)
	r.want(t, ExitFailed, "is corrupt at entry")
	r = hayek(t, noNode, "", "ledger", "verify", "--file", tampered, "--json")
	r.want(t, ExitFailed)
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.OK || rep.BadSeq == 0 || rep.BadSeq > e.Seq {
		t.Errorf("tampered --json: bad seq %d, want ≤ %d (the changed entry): %v %s", rep.BadSeq, e.Seq, err, r.stdout)
	}
	hayek(t, noNode, "", "ledger", "verify", "--file", filepath.Join(dir, "missing.jsonl")).want(t, ExitUsage, "no such file")

	// Cut short, it fails; without its trailer (as exports were before
	// trailers), it verifies only when allowed, and says what that means.
	all := strings.Split(strings.TrimSpace(string(export)), "\n")
	cut := filepath.Join(dir, "cut.jsonl")
	os.WriteFile(cut, []byte(strings.Join(all[:len(all)-3], "\n")+"\n"), 0o600)
	r = hayek(t, noNode, "", "ledger", "verify", "--file", cut)
	r.want(t, ExitFailed, "without the trailer", "Try: export the ledger again", "--allow-untrailed")
	untrailed := filepath.Join(dir, "untrailed.jsonl")
	os.WriteFile(untrailed, []byte(strings.Join(all[:len(all)-1], "\n")+"\n"), 0o600)
	hayek(t, noNode, "", "ledger", "verify", "--file", untrailed).want(t, ExitFailed, "without the trailer")
	r = hayek(t, noNode, "", "ledger", "verify", "--file", untrailed, "--allow-untrailed")
	r.want(t, 0)
	r.stdoutHas(t, "verifies", "has no trailer", "cannot be noticed")
}
