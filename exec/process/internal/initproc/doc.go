//go:build linux

// Command initproc is the first program in every exec/process sandbox. The
// executor starts it, from a sealed memfd, as PID 1 of new user, PID,
// mount, network, IPC and UTS namespaces; it builds the job's root file
// system, writes the inputs, waits to be put into the job's cgroups, drops
// every privilege, installs Landlock and seccomp, and forks the job (PID
// 2) from the job's executable. It stays as the namespace's init, under
// the same restrictions: it reaps orphaned processes, and when the job
// ends it reports the job's wait status and exits, which ends everything
// the job left running. A job is thus not PID 1, whose signals the kernel
// treats specially (a crashing program could not die by its signal).
//
// It is built by scripts/gen-samples into exec/process/initproc-linux-*
// and embedded in the executor; keep it small (standard library and
// x/sys/unix only) because every run pays its start-up.
//
// The protocol with the executor is in package wire.
package main
