//go:build !wasip1 && !js

package main

import (
	"fmt"
	"net"
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
