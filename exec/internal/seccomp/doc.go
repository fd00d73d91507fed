// Package seccomp holds the one seccomp deny-list both native sandboxes
// install: exec/process hands it to its sandbox init, and exec/docker's
// shim (PID 1 in every container) stacks it on the engine's profile. It
// builds the classic BPF program; installing it is the caller's.
package seccomp
