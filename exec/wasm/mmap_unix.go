//go:build linux || darwin || freebsd

package wasm

import "syscall"

// mapMemory reserves n bytes of zeroed anonymous memory, committed by the
// kernel page by page as it is touched. It returns nil when the
// reservation fails; the caller then falls back to the Go heap.
func mapMemory(n uint64) []byte {
	if n == 0 || n > 1<<40 {
		return nil
	}
	b, err := syscall.Mmap(-1, 0, int(n), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON|mapNoReserve)
	if err != nil {
		return nil
	}
	return b
}

func unmapMemory(b []byte) { syscall.Munmap(b) }
