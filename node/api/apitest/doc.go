// Package apitest is a fake hayek node for testing API clients, the API
// server and the CLI: an in-memory api.Backend and api.Admin (Node), and
// Serve, which puts an api.Server in front of any Backend on a unix socket
// for the length of a test. It is not the real node, which is tested in
// node/: it keeps just enough state for the server, the client and the CLI
// to be checked against its answers.
//
//	f := apitest.New()
//	_, sock := apitest.Serve(t, f)
//	c := api.NewClient(sock)
//
// # Driving jobs
//
// By default a job moves only when the test says so: Submit leaves it
// pending, and Emit, AwaitApproval and Finish move it on, so every test
// decides what happens when. Waiting signals each Wait that starts to
// block, so a test can act while a long poll is under way. With Echo, jobs
// run by themselves, as a provider running an echo module would; a test
// calls Close after its server has closed, to wait for those runs.
//
// # Agents, the ledger and reputation
//
// The fake holds every job's max cost against its agent's budget, refuses
// what the agent's limits refuse, and parks a job above the agent's
// approval threshold until Approve. Creating and funding agents and settling
// debts append ledger entries; LedgerBalance adds them up. The operator
// starts with a budget of 1,000,000. AddAgent creates an agent without a
// call through the API; Set* methods change what the node reports, and
// LastSubmit, Callers, LastLedgerFilter, LastVerifyDeep and Settled say what
// it was asked.
//
// # Options
//
// Where the tests of the server and of the CLI want the fake to behave
// differently, an option says so: TokenFormat for the tokens CreateAgent
// hands out, Echo for jobs that run by themselves, UnfilteredJobs for a
// backend that leaves filtering by agent to the server, and CannedAdmin
// for fixed admin answers, empty lists included.
//
// Node is safe for concurrent use.
package apitest
