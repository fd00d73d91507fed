// Package jobspec owns a job's intake: turning what an agent submits to
// POST /v1/jobs or POST /v1/quote (api.SubmitRequest) into a
// market.JobSpec. Inline blobs are stored and named blobs checked to be
// held here; the module is checked before any auction (a wasm module
// must parse, a process module must be a static ELF executable, a docker
// module an image archive unless the job names an image by digest), the
// market's defaults are set and the spec validated. Refusals are the
// API's errors: market's validation errors become invalid_spec with one
// entry per field (Errors, which the agents service uses too).
//
// Modules that passed their check are remembered, a bounded number per
// node (the oldest are forgotten and checked again if they come back),
// so a module submitted again is not parsed again.
//
// It has no background work: the node calls Intake.Spec for each
// submission and quote. The blob store comes in Deps.
package jobspec
