package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"unsafe"
)

func cmdPrimes(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("want N, got %q", args)
	}
	n, err := strconv.ParseUint(args[0], 10, 64)
	if err != nil {
		return err
	}
	fmt.Printf("primes below %d: %d\n", n, countPrimes(n))
	return nil
}

// countPrimes uses trial division on purpose: it is CPU-bound (integer
// division in a tight loop) rather than memory-bound like a sieve, which is
// what the native-vs-wasm benchmark wants to measure.
func countPrimes(n uint64) int {
	count := 0
	for i := uint64(2); i < n; i++ {
		prime := true
		for d := uint64(2); d*d <= i; d++ {
			if i%d == 0 {
				prime = false
				break
			}
		}
		if prime {
			count++
		}
	}
	return count
}

// spinCounter is global so the loop has an effect and cannot be removed.
var spinCounter uint64

func cmdSpin(args []string) error {
	for {
		spinCounter++
	}
}

func cmdAlloc(args []string) error {
	var blocks [][]byte
	for i := 0; ; i++ {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = byte(i)
		}
		blocks = append(blocks, b)
		if i%64 == 0 {
			fmt.Fprintf(os.Stderr, "allocated %d MiB\n", len(blocks))
		}
	}
}

func cmdFlood(args []string) error {
	limit := int64(-1)
	if len(args) > 0 {
		n, err := strconv.ParseInt(args[0], 10, 64)
		if err != nil {
			return err
		}
		limit = n
	}
	out := os.Stdout
	if len(args) > 1 {
		switch args[1] {
		case "stdout":
		case "stderr":
			out = os.Stderr
		default:
			return fmt.Errorf("want stdout or stderr, got %q", args[1])
		}
	}
	chunk := make([]byte, 64<<10)
	for i := range chunk {
		chunk[i] = 'x'
	}
	for written := int64(0); limit < 0 || written < limit; {
		b := chunk
		if limit >= 0 && limit-written < int64(len(b)) {
			b = b[:limit-written]
		}
		n, err := out.Write(b)
		if err != nil {
			return err
		}
		written += int64(n)
	}
	return nil
}

func cmdExit(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("want CODE, got %q", args)
	}
	code, err := strconv.Atoi(args[0])
	if err != nil {
		return err
	}
	os.Exit(code)
	return nil
}

// trapSink keeps the load in cmdTrap from being optimised away.
var trapSink byte

// cmdTrap reads 3.75 GiB past a live variable. Go's wasm port computes
// addresses in 32 bits, so this lands far beyond the few MiB of linear memory
// a Go program has: a genuine wasm out-of-bounds trap rather than a Go panic
// (which would be an ordinary exit with code 2). Natively it is a segfault;
// the "crash" traceback makes the runtime die by a signal (SIGABRT) after
// printing the trace, instead of exiting with code 2, so the process ends
// the way a crashing C program would.
func cmdTrap(args []string) error {
	debug.SetTraceback("crash")
	var anchor byte
	p := (*byte)(unsafe.Add(unsafe.Pointer(&anchor), 0xF000_0000))
	trapSink = *p
	return fmt.Errorf("the load at %p did not trap", p)
}
