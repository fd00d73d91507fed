// Package wire is the protocol between exec/process and its sandbox init
// (internal/initproc) over the control socket the init finds on fd 3. It
// is deliberately small and has no dependencies beyond the standard
// library, so the init binary stays small and starts fast.
//
// The init's arguments are what is the same for every run of an
// executor: the host directory to build the root on (in its private mount
// namespace), whether to mount /proc, the host name. It builds the root
// at once, so it may be started ahead of its job. The executor then
// writes a
// Module frame carrying the job's executable as a descriptor, one Spec
// frame, then the bytes of every input file
// (Spec.Inputs gives names and sizes) back to back, unframed. The init
// answers with Ready (carrying the descriptors of /out and /tmp) once the
// new root is built and the inputs are written, waits for Go (sent once
// the executor has put it into the job's cgroups), drops every privilege,
// forks the job (PID 2) and sends Started once the job's execveat
// succeeded. It stays as the job's PID 1: it reaps orphans, and when the
// job ends it sends Exit with the job's wait status and exits itself,
// which ends every other process in the PID namespace. Any failure is one
// Error frame followed by exit status ExitSetup. In probe mode the init
// sends Report instead of forking and exits 0.
package wire
