package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node"
)

func newDevnetCmd(g *globals) *cobra.Command {
	var (
		nodes    int
		dir      string
		logLevel string
		quic     bool
		noProc   bool
		noDocker bool
		offerTTL = node.DevnetConfig().Offers.TTL
	)
	cmd := &cobra.Command{
		Use:   "devnet",
		Short: "Run N complete nodes on loopback in one process",
		Long: `Run N complete nodes in one process on 127.0.0.1: real TCP (QUIC too with
--quic), real DHT, real gossipsub, each with its own home and socket under
DIR/node-<i>/. Every node sells wasm; runtime/process too (static executables
in the process sandbox: every node is yours) unless --no-process, and
runtime/docker when a Docker engine answers unless --no-docker. What a node
cannot sell here is logged with the reason (--log-level info shows what each
sells). Prints one line per node (index,
peer ID, socket), then "ready" once every node can discover the others'
offers, and runs until interrupted. Point client commands at a node with
--socket or HAYEK_SOCKET. Without --dir a temporary directory is used and
removed on exit; with --dir the identities are kept, so the same peer IDs
come back next time.`,
		Example: `  hayek devnet --nodes 5
  HAYEK_SOCKET=/tmp/hayek-devnet-…/node-0/hayek.sock hayek job submit --wasm prog.wasm --wait`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if nodes < 1 || nodes > 64 {
				return usageErrorf("--nodes %d: want 1 to 64", nodes)
			}
			if d := time.Duration(offerTTL); d < 10*time.Second || d > 24*time.Hour {
				return usageErrorf("--offer-ttl %v: want 10s to 24h", d)
			}
			log, err := newLogger(g.Stderr, logLevel)
			if err != nil {
				return err
			}
			if dir == "" {
				tmp, err := os.MkdirTemp("", "hayek-devnet-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(tmp)
				dir = tmp
			}
			ctx := cmd.Context()
			d, err := node.StartDevnet(ctx, node.DevnetOptions{Nodes: nodes, Dir: dir, Logger: log, QUIC: quic,
				Process: !noProc, Docker: !noDocker,
				Configure: func(_ int, c *node.Config) { c.Offers.TTL = offerTTL }})
			if err != nil {
				return withCode(ExitNotRun, err)
			}
			defer func() {
				cctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				defer cancel()
				d.Close(cctx)
			}()
			out := cmd.OutOrStdout()
			for i, n := range d.Nodes {
				fmt.Fprintf(out, "node-%d %s %s\n", i, n.ID(), d.Sockets[i])
			}
			sold := []string{"wasm"}
			for _, rt := range []market.Capability{market.RuntimeProcess, market.RuntimeDocker} {
				if d.Sells(rt) {
					sold = append(sold, strings.TrimPrefix(string(rt), "runtime/"))
				}
			}
			fmt.Fprintf(out, "selling %s\n", strings.Join(sold, ", "))
			rctx, cancel := context.WithTimeout(ctx, time.Minute)
			err = d.Ready(rctx)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return withCode(ExitNotRun, err)
			}
			fmt.Fprintln(out, "ready")
			<-ctx.Done()
			return nil
		},
	}
	cmd.Flags().IntVar(&nodes, "nodes", 5, "number of nodes")
	cmd.Flags().StringVar(&dir, "dir", "", "directory for the nodes' homes (default: a temporary one)")
	cmd.Flags().StringVar(&logLevel, "log-level", "warn", "debug, info, warn or error")
	cmd.Flags().BoolVar(&noProc, "no-process", false, "do not sell runtime/process")
	cmd.Flags().BoolVar(&noDocker, "no-docker", false, "do not sell runtime/docker, even when an engine answers")
	cmd.Flags().BoolVar(&quic, "quic", false, "listen on QUIC too (TCP only by default: in one process QUIC costs CPU the nodes share)")
	cmd.Flags().Var(&offerTTL, "offer-ttl", "how long each signed offer is valid (offers.ttl, 10s to 24h); offers are refreshed long before, so an idle devnet keeps them")
	return cmd
}
