package main

import (
	"fmt"
	"strconv"
	"syscall"
	"time"
)

// cmdFork forks N children that sleep until killed, then sleeps itself:
// only a limit or the executor ends it. If a fork fails it says how many
// it made and exits 1. The children are made with a raw fork and never
// return into Go.
func cmdFork(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("want N, got %q", args)
	}
	n, err := strconv.Atoi(args[0])
	if err != nil {
		return err
	}
	for i := range n {
		if err := forkSleeper(); err != nil {
			return fmt.Errorf("forked %d of %d children: %w", i, n, err)
		}
	}
	fmt.Printf("forked %d children\n", n)
	for {
		time.Sleep(time.Hour)
	}
}

// forkSleeper forks a child that sleeps in the kernel forever.
func forkSleeper() error {
	syscall.ForkLock.Lock()
	pid, _, errno := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if pid == 0 && errno == 0 {
		sleepForever()
	}
	syscall.ForkLock.Unlock()
	if errno != 0 {
		return errno
	}
	return nil
}

// sleepForever runs in a forked child of a Go program, where only this
// thread exists: it must not grow its stack or call into the runtime.
//
//go:nosplit
//go:norace
func sleepForever() {
	for {
		syscall.RawSyscall6(syscall.SYS_PPOLL, 0, 0, 0, 0, 0, 0)
	}
}
