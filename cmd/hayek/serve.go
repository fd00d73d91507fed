package main

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// serveFlags are serve's flags. Those that override the config start at
// node.DefaultConfig()'s values, so --help shows the defaults that apply.
type serveFlags struct {
	config     string
	listen     []string
	bootstrap  []string
	sell       bool
	slots      int
	base       int64
	perSecond  int64
	maxMemory  units.Size
	maxTimeout units.Duration
	logLevel   string
	drain      units.Duration
	// the executors beyond wasm (provider.process.sell, ...)
	sellProcess, sellDocker, sellGPUs bool
}

func newServeCmd(g *globals) *cobra.Command {
	def := node.DefaultConfig()
	f := serveFlags{
		sell: def.Provider.Sell, slots: def.Provider.Slots,
		base: def.Provider.Pricing.Base, perSecond: def.Provider.Pricing.PerSecond,
		maxMemory: def.Provider.MaxMemory, maxTimeout: def.Provider.MaxTimeout,
		drain:       units.Duration(30 * time.Second),
		sellProcess: def.Provider.Process.Sell, sellDocker: def.Provider.Docker.Sell, sellGPUs: def.Provider.GPUs.Sell,
	}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a node: sell compute and run auctions for local agents",
		Long: `Run a hayek node until interrupted. It reads <home>/config.toml (see hayek init),
or the file --config names, which must exist; flags override the config. The
local API listens on <home>/hayek.sock (mode 0600). The first SIGINT/SIGTERM
stops gracefully: the offer is withdrawn, running jobs get --drain to finish;
a second one stops at once.`,
		Example: `  hayek init && hayek serve
  hayek serve --bootstrap /ip4/192.0.2.7/tcp/4001/p2p/12D3KooW...
  hayek serve --config /etc/hayek.toml --sell=false
  hayek serve --sell-process --sell-docker    # also static executables and container images`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runServe(cmd, g, &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "config file, which must exist (default <home>/config.toml, or the defaults if there is none)")
	fl.StringArrayVar(&f.listen, "listen", def.Network.Listen, "libp2p listen multiaddr, repeatable (replaces network.listen)")
	fl.StringArrayVar(&f.bootstrap, "bootstrap", nil, "peer to join through, /ip4/.../tcp/.../p2p/<id>, repeatable (added to network.bootstrap)")
	fl.BoolVar(&f.sell, "sell", f.sell, "sell compute (provider.sell)")
	fl.IntVar(&f.slots, "slots", f.slots, "jobs run at once (provider.slots: one per CPU by default)")
	fl.Int64Var(&f.base, "price-base", f.base, "base price per job (provider.pricing.base)")
	fl.Int64Var(&f.perSecond, "price-per-second", f.perSecond, "price per second of timeout (provider.pricing.per_second)")
	fl.Var(&f.maxMemory, "max-memory", "largest job memory accepted (provider.max_memory)")
	fl.Var(&f.maxTimeout, "max-timeout", "longest job timeout accepted (provider.max_timeout)")
	fl.BoolVar(&f.sellProcess, "sell-process", f.sellProcess, "also sell runtime/process: static executables in the process sandbox, where it can run (provider.process.sell)")
	fl.BoolVar(&f.sellDocker, "sell-docker", f.sellDocker, "also sell runtime/docker: container images, where a Docker engine answers (provider.docker.sell)")
	fl.BoolVar(&f.sellGPUs, "sell-gpus", f.sellGPUs, "also sell this machine's NVIDIA GPUs to docker jobs (provider.gpus.sell)")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fl.Var(&f.drain, "drain", "on shutdown, how long running jobs may finish")
	return cmd
}

// runServe runs a node and its local API until ctx ends, then closes both.
func runServe(cmd *cobra.Command, g *globals, f *serveFlags) error {
	home, err := g.homeDir()
	if err != nil {
		return err
	}
	cfg, err := serveConfig(cmd, g, home, f)
	if err != nil {
		return err
	}
	log, err := newLogger(g.Stderr, f.logLevel)
	if err != nil {
		return err
	}
	sock, err := g.socketPath()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	n, err := node.New(ctx, node.Options{Home: home, Config: cfg, Logger: log})
	if err != nil {
		return err
	}
	a, err := startAPI(ctx, n, cfg, log, sock)
	if err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		n.Close(cctx)
		return err
	}
	printServing(cmd.OutOrStdout(), g.Stderr, n, cfg, sock)
	select {
	case <-ctx.Done():
	case err := <-a.stopped:
		log.Error("local API stopped", "err", err)
	}
	fmt.Fprintln(g.Stderr, "hayek: stopping: withdrawing the offer and draining running jobs")
	a.close()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Duration(f.drain))
	defer cancel()
	return n.Close(cctx)
}

// serveConfig reads the config file and lays the flags the user gave over
// it: a flag left alone keeps the file's value.
func serveConfig(cmd *cobra.Command, g *globals, home string, f *serveFlags) (node.Config, error) {
	path, named := f.config, f.config != ""
	if !named {
		path = filepath.Join(home, "config.toml")
	}
	cfg, err := loadConfig(path, named, g)
	if err != nil {
		return node.Config{}, err
	}
	set := cmd.Flags().Changed
	if set("listen") {
		cfg.Network.Listen = f.listen
	}
	cfg.Network.Bootstrap = append(cfg.Network.Bootstrap, f.bootstrap...)
	if set("sell") {
		cfg.Provider.Sell = f.sell
	}
	if set("slots") {
		cfg.Provider.Slots = f.slots
	}
	if set("price-base") {
		cfg.Provider.Pricing.Base = f.base
	}
	if set("price-per-second") {
		cfg.Provider.Pricing.PerSecond = f.perSecond
	}
	if set("max-memory") {
		cfg.Provider.MaxMemory = f.maxMemory
	}
	if set("max-timeout") {
		cfg.Provider.MaxTimeout = f.maxTimeout
	}
	if set("sell-process") {
		cfg.Provider.Process.Sell = f.sellProcess
	}
	if set("sell-docker") {
		cfg.Provider.Docker.Sell = f.sellDocker
	}
	if set("sell-gpus") {
		cfg.Provider.GPUs.Sell = f.sellGPUs
	}
	if err := cfg.Validate(); err != nil {
		return node.Config{}, withCode(ExitUsage, err)
	}
	return cfg, nil
}

// loadConfig reads a config file. A missing file means the defaults, with
// a warning, unless the user named it: then it is a mistake to say so.
func loadConfig(path string, named bool, g *globals) (node.Config, error) {
	f, err := os.Open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && named:
		return node.Config{}, usageErrorf("--config %s: no such file\nTry: hayek init, which writes a commented <home>/config.toml, or leave out --config to run with the defaults", path)
	case errors.Is(err, fs.ErrNotExist):
		fmt.Fprintf(g.Stderr, "hayek: no config at %s; using the defaults (hayek init writes a commented one)\n", path)
		return node.DefaultConfig(), nil
	case err != nil:
		return node.Config{}, err
	}
	defer f.Close()
	cfg, err := node.ParseConfig(f)
	if err != nil {
		return node.Config{}, withCode(ExitUsage, fmt.Errorf("%s: %w", path, err))
	}
	return cfg, nil
}

// newLogger logs text to w from level on.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageErrorf("--log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// localAPI is the node's local API server, running.
type localAPI struct {
	stopped <-chan error // receives why it stopped by itself
	close   func()       // stops it and waits for it
}

// startAPI serves n's local API on sock (and the agent socket, if
// configured) and returns once it listens. It keeps serving after ctx
// ends, while the node drains, until close.
func startAPI(ctx context.Context, n *node.Node, cfg node.Config, log *slog.Logger, sock string) (localAPI, error) {
	opts := []api.Option{api.WithLogger(log), api.WithBlobLimit(int64(cfg.API.MaxBlob))}
	if cfg.API.AgentSocket {
		opts = append(opts, api.WithAgentSocket("", cfg.API.AgentGroup))
	}
	srv := api.NewServer(n, opts...)
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, sock) }()
	select {
	case <-srv.Ready():
	case err := <-done:
		cancel()
		return localAPI{}, fmt.Errorf("local API: %w", err)
	}
	return localAPI{stopped: done, close: func() { srv.Close(); cancel() }}, nil
}

// printServing says who the node is, where it listens and what it sells.
func printServing(out, errw io.Writer, n *node.Node, cfg node.Config, sock string) {
	fmt.Fprintf(out, "hayek node %s\n", n.ID())
	for _, a := range n.Addrs() {
		fmt.Fprintf(out, "listening %s\n", a)
	}
	fmt.Fprintf(out, "api %s\n", sock)
	if cfg.API.AgentSocket {
		fmt.Fprintf(out, "agent api %s (group %q)\n", filepath.Join(filepath.Dir(sock), "agent.sock"), cfg.API.AgentGroup)
	}
	if act := cfg.Misbehave.Active(); len(act) > 0 {
		fmt.Fprintf(errw, "hayek: WARNING: this node misbehaves as a provider (testing only): %s\n", strings.Join(act, ", "))
	}
	if cfg.Provider.Sell {
		fmt.Fprintf(out, "selling %s, %d slots, base price %d\n", strings.Join(n.Sells(), ", "),
			cfg.Provider.Slots, cfg.Provider.Pricing.Base)
	} else {
		fmt.Fprintln(out, "not selling (provider.sell = false)")
	}
}
