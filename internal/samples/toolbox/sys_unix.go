//go:build unix

package main

import (
	"fmt"
	"net"
	"strconv"
	"syscall"
	"time"
)

// cmdDial tries to connect to each address ("tcp:HOST:PORT",
// "udp:HOST:PORT", "unix:PATH", "unix:@ABSTRACT") and prints
// "ADDR: connected" or "ADDR: failed (ERROR)". For UDP, which has no
// handshake, it sends a datagram and waits for the echo the test's
// listener gives. It exits 0 either way: the test reads the lines.
func cmdDial(args []string) error {
	for _, a := range args {
		network, addr, ok := cut(a)
		if !ok {
			return fmt.Errorf("want NETWORK:ADDRESS, got %q", a)
		}
		conn, err := net.DialTimeout(network, addr, 2*time.Second)
		if err == nil && network == "udp" {
			_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
			if _, err = conn.Write([]byte("ping")); err == nil {
				_, err = conn.Read(make([]byte, 4))
			}
		}
		if err != nil {
			fmt.Printf("%s: failed (%v)\n", a, err)
			continue
		}
		conn.Close()
		fmt.Printf("%s: connected\n", a)
	}
	return nil
}

func cut(s string) (string, string, bool) {
	for i := range len(s) {
		if s[i] == ':' {
			return s[:i], s[i+1:], true
		}
	}
	return "", "", false
}

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
