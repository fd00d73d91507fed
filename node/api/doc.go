// Package api is the local API of a hayek node: HTTP/1.1 and JSON over a
// unix socket, versioned under /v1/. It holds both ends — the Server the
// node runs and the Client that agents, the CLI and tests use — and the
// types and error codes they share. docs/api.md is the reference for every
// route and field; this is the manual for the Go side.
//
// # Using the client
//
// An agent creates one Client for the node's socket (usually
// ~/.hayek/hayek.sock) and shares it: it is safe for concurrent use and
// keeps connections alive. A job goes: upload → submit → wait → result.
//
//	c := api.NewClient(filepath.Join(home, "hayek.sock"))
//	mod, err := c.PutBlob(ctx, wasmFile)           // or PutBlobBytes
//	job, err := c.Submit(ctx, api.SubmitRequest{
//		Module:   api.BlobRef{CID: mod.CID},
//		Stdin:    &api.BlobRef{Text: "hello"},    // small content may go inline
//		MaxPrice: 1000,
//		IdempotencyKey: "batch-17/item-3",        // makes retrying Submit safe
//	})
//	job, err = c.Wait(ctx, job.ID)                 // long-polls; no busy loop
//	res, err := c.Result(ctx, job.ID)              // exit code, stdout, outputs
//	_, err = c.GetBlob(ctx, res.Stdout.CID, os.Stdout)
//
// Events streams a job's life as it happens (the auction, every bid and
// decline with its reason, the award, the run, the result). It resumes
// after a dropped connection without repeating or losing an event, and
// returns after the job's terminal event.
//
// # Errors
//
// Every error the node answers with is an *Error with a stable Code (the
// Code* constants, each served with one HTTP status, see StatusOf), a
// message meant for people, and for invalid job specs the Fields at fault.
// Branch on codes, never on messages:
//
//	if api.IsCode(err, api.CodeNotFinished) { ... }
//
// A node that cannot be reached — not running, wrong socket path, socket
// owned by another user — gives an *UnreachableError, which matches
// errors.Is(err, ErrUnreachable); so does a connection that breaks during a
// request, in which case a Submit may or may not have taken effect: retry
// it with the same idempotency key. A context that ends gives an error
// wrapping ctx.Err().
//
// A job that fails is not an error of the API: Submit and Wait succeed and
// the Job says what happened — State failed or cancelled with Error, or
// State completed with a non-zero ExitCode or a Status other than "ok".
// A completed job was paid for, whatever its exit code.
//
// # Running the server
//
// The node implements Backend; the server turns requests into Backend
// calls and Backend results into responses:
//
//	srv := api.NewServer(node, api.WithLogger(log))
//	go srv.Serve(ctx, sockPath) // returns when ctx ends or Close is called
//	<-srv.Ready()               // the socket accepts connections
//
// Serve creates the operator socket with mode 0600 (and, with
// WithAgentSocket, the agent socket with 0660) — bound inside a private 0700
// directory, chmodded, then renamed into place, so no other user can ever
// connect — and holds an flock on <socket>.lock while serving, so a second
// node on the same path fails at once instead of stealing the socket. A
// stale socket left by a crash is replaced; a file that is not a socket is
// left alone and reported. Close (or the end of Serve's context) stops
// accepting, answers pending long polls with the job as it is, ends event
// streams, gives other requests a few seconds, then removes the socket.
//
// Backend errors of type *Error are sent as they are; any other error is
// logged and answered as a 500 internal error with a generic message, so
// internal detail never reaches a caller. A panic in a handler is recovered,
// logged with its stack and answered as a 500: one bad request cannot take
// the node down.
//
// # Backend contract
//
// The server relies on these properties of a Backend:
//
//   - PutBlob reads the upload as a stream; the server already cuts it at
//     the blob limit and reports 413 whatever the backend returns then.
//   - Wait returns when the job is terminal or ctx ends; on ctx's end it
//     may return the job or ctx.Err(): the server answers a timed-out long
//     poll with Job either way.
//   - Events returns every past event and a channel of later ones, closed
//     after the terminal event (or earlier, to shed a slow reader: clients
//     resume from their last event). Event.Seq increases from 1 within a
//     job; each event's State is the job's state after it.
//   - Every method honours ctx: it ends when the caller goes away.
//
// # Limits and timeouts
//
// Bodies are limited — blobs to 256 MiB (WithBlobLimit), job specs to
// 8 MiB (WithSpecLimit) — and larger ones get 413 too_large without being
// read whole. Specs are decoded strictly: unknown fields and trailing data
// are 400 bad_request naming the field. ?wait= is capped at 10 minutes
// (WithMaxWait).
//
// Slow and numerous clients are bounded by Limits (WithLimits; the
// defaults are DefaultLimits). Request headers must arrive within 10 s,
// or the connection is closed. A request body must keep a minimum pace —
// on average 64 KiB/s after its first 10 s, and no pause over 30 s — so a
// body of N bytes is whole within 10 s + N/64KiB/s, and a client
// trickling a byte now and then is cut off with 408 request_timeout
// instead of holding a connection for ever. Each socket serves 512
// connections at once, and one Unix user other than the node's (the
// kernel names the peer of a unix socket on Linux) 128 of them; the next
// connection is answered 503 busy or 429 too_many_connections and closed.
// Those refusals happen before any handler runs, so the Client sends such
// a request again after a pause. Every write (a response, an event, a
// chunk of a blob) must complete within 30 s, so a client that stops
// reading cannot pin a goroutine, while long polls and event streams have
// no overall limit. Event streams send a comment every 15 s
// (WithKeepAlive) so a quiet job is told apart from a dead connection.
//
// # Access: the operator, agents and the two sockets
//
// Every request acts for a Caller: the operator or one agent. The server
// resolves it before any handler runs and puts it in the request's context
// (WithCaller), so every Backend and Admin method can read it with
// CallerFrom:
//
//   - A request with "Authorization: Bearer <token>" acts as the agent
//     Admin.Authenticate maps the token to, on either socket. A missing,
//     unknown or revoked token is 401 unauthorized.
//   - On the operator socket (<home>/hayek.sock, 0600), a request without
//     a token acts as the operator.
//   - On the agent socket (<home>/agent.sock, 0660, served with
//     WithAgentSocket), a request without a token is 401 unauthorized.
//
// An agent client passes its token with WithToken:
//
//	c := api.NewClient("/home/node/.hayek/agent.sock", api.WithToken(os.Getenv("HAYEK_TOKEN")))
//	me, err := c.Me(ctx) // its budget left and limits, at decision time
//
// The server enforces who may do what, whatever the backend does (the
// backend should enforce it too: defence in depth). Agents may use blobs,
// ask for quotes (POST /v1/quote, which reserves nothing), submit jobs, list, read, follow, wait for and cancel their own jobs, and
// read their own account (GET /v1/agents/me), offers, peers and status.
// Another agent's job is 404 not_found with the same message as a job that
// does not exist, so agents cannot probe for each other's work; GET
// /v1/jobs lists only the caller's jobs (JobFilter.Agent is set to it, and
// the answer is filtered again). Everything else — agent accounts,
// approvals, the ledger, reputation — is the operator's: 403 forbidden.
//
// A backend that does not implement Admin has no agents: requests with a
// token are refused (401) rather than served as the operator, since whoever
// sends a token expects to be held to that agent's limits; the agent, ledger
// and reputation routes are 404; and WithAgentSocket is an error.
//
// The boundary is the Unix user. An agent running as the node's own user
// can read the node's key and connect to the operator socket, so it is
// trusted whatever its token says. Budgets bind only agents under other
// users: give them the agent socket through its group (WithAgentSocket's
// group, which the node's user must belong to) and make the directories
// above it searchable by that group — the node's home is 0700 by default,
// and Serve logs a warning when the agent socket cannot be reached.
//
// # Admin contract
//
// The node implements Admin beside Backend. Besides honouring the caller in
// ctx, the server relies on these:
//
//   - Authenticate answers CodeUnauthorized for a token it does not know
//     or that was revoked, and never returns an empty Caller.
//   - VerifyLedger reports a corrupt ledger in the report (OK false,
//     Error, BadSeq), not as an error: errors mean the check could not run.
//   - ExportLedger writes JSON lines to w as it reads them, never the whole
//     ledger at once; w implements Flush. Failing before the first byte
//     gives a JSON error; failing later cuts the response short, and the
//     client reports the export as broken.
//   - Approve and Reject answer CodeNotApproval for a job not waiting in
//     StateApproval.
//   - A refused submission uses CodeBudgetExceeded (budget left too low)
//     or CodeOverLimit (max job price, jobs per hour).
package api
