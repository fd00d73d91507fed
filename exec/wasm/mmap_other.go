//go:build !(linux || darwin || freebsd)

package wasm

func mapMemory(uint64) []byte { return nil }

func unmapMemory([]byte) {}
