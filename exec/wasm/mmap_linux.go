package wasm

import "syscall"

// Reservations are not charged against overcommit accounting: a job that
// may grow to 4 GiB but uses 10 MiB costs 10 MiB.
const mapNoReserve = syscall.MAP_NORESERVE
