// Command hayek is the one binary of the hayek compute market: it runs a
// node (serve), a local network of nodes (devnet, demo), and is the client
// of a running node's local socket (job, offers, peers, status).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// First signal: cancel the context so commands close gracefully.
	// Second signal: stop now.
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "hayek: %v: shutting down (again to stop now)\n", s)
		cancel()
		<-sigs
		fmt.Fprintln(os.Stderr, "hayek: stopping now")
		os.Exit(130)
	}()
	os.Exit(Run(ctx, os.Args[1:], Streams{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}))
}
