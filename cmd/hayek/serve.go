package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/internal/units"
	"github.com/hayek-market/hayek/node"
	"github.com/hayek-market/hayek/node/api"
)

func newServeCmd(g *globals) *cobra.Command {
	var (
		cfgPath   string
		listen    []string
		bootstrap []string
		sell      bool
		slots     int
		base      int64
		perSecond int64
		maxMemory units.Size
		maxTime   units.Duration
		logLevel  string
		drain     units.Duration
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a node: sell compute and run auctions for local agents",
		Long: `Run a hayek node until interrupted. It reads <home>/config.toml (see hayek init);
flags override the config. The local API listens on <home>/hayek.sock (mode
0600). The first SIGINT/SIGTERM stops gracefully: the offer is withdrawn,
running jobs get --drain to finish; a second one stops at once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			home, err := g.homeDir()
			if err != nil {
				return err
			}
			if cfgPath == "" {
				cfgPath = filepath.Join(home, "config.toml")
			}
			cfg, err := loadConfig(cfgPath, g)
			if err != nil {
				return err
			}
			f := cmd.Flags()
			if f.Changed("listen") {
				cfg.Network.Listen = listen
			}
			cfg.Network.Bootstrap = append(cfg.Network.Bootstrap, bootstrap...)
			if f.Changed("sell") {
				cfg.Provider.Sell = sell
			}
			if f.Changed("slots") {
				cfg.Provider.Slots = slots
			}
			if f.Changed("price-base") {
				cfg.Provider.Pricing.Base = base
			}
			if f.Changed("price-per-second") {
				cfg.Provider.Pricing.PerSecond = perSecond
			}
			if f.Changed("max-memory") {
				cfg.Provider.MaxMemory = maxMemory
			}
			if f.Changed("max-timeout") {
				cfg.Provider.MaxTimeout = maxTime
			}
			if err := cfg.Validate(); err != nil {
				return withCode(ExitUsage, err)
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return usageErrorf("--log-level %q: want debug, info, warn or error", logLevel)
			}
			log := slog.New(slog.NewTextHandler(g.Stderr, &slog.HandlerOptions{Level: level}))
			sock, err := g.socketPath()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			n, err := node.New(ctx, node.Options{Home: home, Config: cfg, Logger: log})
			if err != nil {
				return err
			}
			opts := []api.Option{api.WithLogger(log), api.WithBlobLimit(int64(cfg.API.MaxBlob))}
			if cfg.API.AgentSocket {
				opts = append(opts, api.WithAgentSocket("", cfg.API.AgentGroup))
			}
			srv := api.NewServer(n, opts...)
			serveErr := make(chan error, 1)
			sctx, stopServe := context.WithCancel(context.Background())
			defer stopServe()
			go func() { serveErr <- srv.Serve(sctx, sock) }()
			select {
			case <-srv.Ready():
			case err := <-serveErr:
				cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				n.Close(cctx)
				return fmt.Errorf("local API: %w", err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "hayek node %s\n", n.ID())
			for _, a := range n.Addrs() {
				fmt.Fprintf(out, "listening %s\n", a)
			}
			fmt.Fprintf(out, "api %s\n", sock)
			if cfg.API.AgentSocket {
				fmt.Fprintf(out, "agent api %s (group %q)\n", filepath.Join(filepath.Dir(sock), "agent.sock"), cfg.API.AgentGroup)
			}
			if act := cfg.Misbehave.Active(); len(act) > 0 {
				fmt.Fprintf(g.Stderr, "hayek: WARNING: this node misbehaves as a provider (testing only): %s\n", strings.Join(act, ", "))
			}
			if cfg.Provider.Sell {
				fmt.Fprintf(out, "selling %s, %d slots, base price %d\n", strings.Join(cfg.Provider.Capabilities, ", "),
					cfg.Provider.Slots, cfg.Provider.Pricing.Base)
			} else {
				fmt.Fprintln(out, "not selling (provider.sell = false)")
			}
			select {
			case <-ctx.Done():
			case err := <-serveErr:
				log.Error("local API stopped", "err", err)
			}
			fmt.Fprintln(g.Stderr, "hayek: stopping: withdrawing the offer and draining running jobs")
			srv.Close()
			stopServe()
			cctx, cancel := context.WithTimeout(context.Background(), time.Duration(drain))
			defer cancel()
			return n.Close(cctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfgPath, "config", "", "config file (default <home>/config.toml)")
	f.StringArrayVar(&listen, "listen", nil, "libp2p listen multiaddr, repeatable (replaces network.listen)")
	f.StringArrayVar(&bootstrap, "bootstrap", nil, "peer to join through, /ip4/.../tcp/.../p2p/<id>, repeatable (added to network.bootstrap)")
	f.BoolVar(&sell, "sell", true, "sell compute (provider.sell)")
	f.IntVar(&slots, "slots", 0, "jobs run at once (provider.slots)")
	f.Int64Var(&base, "price-base", 0, "base price per job (provider.pricing.base)")
	f.Int64Var(&perSecond, "price-per-second", 0, "price per second of timeout (provider.pricing.per_second)")
	f.Var(&maxMemory, "max-memory", "largest job memory accepted, e.g. 512MiB (provider.max_memory)")
	f.Var(&maxTime, "max-timeout", "longest job timeout accepted, e.g. 5m (provider.max_timeout)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	drain = units.Duration(30 * time.Second)
	f.Var(&drain, "drain", "on shutdown, how long running jobs may finish")
	return cmd
}

// loadConfig reads a config file; a missing file means the defaults.
func loadConfig(path string, g *globals) (node.Config, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(g.Stderr, "hayek: no config at %s; using the defaults (hayek init writes a commented one)\n", path)
		return node.DefaultConfig(), nil
	}
	if err != nil {
		return node.Config{}, err
	}
	defer f.Close()
	cfg, err := node.ParseConfig(f)
	if err != nil {
		return node.Config{}, withCode(ExitUsage, fmt.Errorf("%s: %w", path, err))
	}
	return cfg, nil
}
