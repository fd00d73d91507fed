package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/hayek-market/hayek/node"
)

func TestServeNamedConfigMustExist(t *testing.T) {
	home := t.TempDir()
	missing := filepath.Join(t.TempDir(), "missing.toml")
	r := runCLI(t, "--home", home, "serve", "--config", missing)
	r.want(t, ExitUsage, "--config "+missing+": no such file", "Try: hayek init")
	if strings.Contains(r.stdout, "listening") || strings.Contains(r.stderr, "using the defaults") {
		t.Errorf("serve started with the defaults:\n%s%s", r.stdout, r.stderr)
	}
}

// TestServeFlagDefaultsAreTheConfigDefaults checks that every flag of serve
// and devnet shows, in --help, the default that applies: a flag that
// overrides a config field must show node.DefaultConfig()'s value. A new
// flag fails this test until it is added to one of the lists below.
func TestServeFlagDefaultsAreTheConfigDefaults(t *testing.T) {
	def := node.DefaultConfig()
	list := func(v []string) string { return "[" + strings.Join(v, ",") + "]" }
	fromConfig := map[string]map[string]string{
		"serve": {
			"listen":           list(def.Network.Listen),
			"bootstrap":        list(def.Network.Bootstrap),
			"sell":             strconv.FormatBool(def.Provider.Sell),
			"slots":            strconv.Itoa(def.Provider.Slots),
			"price-base":       fmt.Sprint(def.Provider.Pricing.Base),
			"price-per-second": fmt.Sprint(def.Provider.Pricing.PerSecond),
			"max-memory":       def.Provider.MaxMemory.String(),
			"max-timeout":      def.Provider.MaxTimeout.String(),
			"sell-process":     fmt.Sprint(def.Provider.Process.Sell),
			"sell-docker":      fmt.Sprint(def.Provider.Docker.Sell),
			"sell-gpus":        fmt.Sprint(def.Provider.GPUs.Sell),
		},
		"devnet": {"offer-ttl": node.DevnetConfig().Offers.TTL.String()},
	}
	// Flags with no config field, and their defaults.
	own := map[string]map[string]string{
		"serve":  {"config": "", "log-level": "info", "drain": "30s"},
		"devnet": {"nodes": "5", "dir": "", "log-level": "warn", "quic": "false", "no-process": "false", "no-docker": "false"},
	}
	root := newRoot(&globals{Streams: Streams{Getenv: func(string) string { return "" }}})
	for _, name := range []string{"serve", "devnet"} {
		cmd, _, err := root.Find([]string{name})
		if err != nil {
			t.Fatal(err)
		}
		cmd.LocalFlags().VisitAll(func(fl *pflag.Flag) {
			want, ok := fromConfig[name][fl.Name]
			if !ok {
				want, ok = own[name][fl.Name]
			}
			switch {
			case fl.Name == "help":
			case !ok:
				t.Errorf("%s --%s (default %q) is in neither list of this test: say where its default comes from", name, fl.Name, fl.DefValue)
			case fl.DefValue != want:
				t.Errorf("%s --%s shows default %q, want %q", name, fl.Name, fl.DefValue, want)
			}
		})
	}
	r := runCLI(t, "serve", "--help")
	r.want(t, ExitOK)
	for _, s := range []string{"(default " + def.Provider.MaxMemory.String() + ")", "(default " + def.Provider.MaxTimeout.String() + ")"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("serve --help lacks %q:\n%s", s, r.stdout)
		}
	}
}

// The --sell-* flags turn the executors beyond wasm on over the config.
func TestServeSellFlags(t *testing.T) {
	g := &globals{Streams: Streams{Getenv: func(string) string { return "" }, Stderr: &strings.Builder{}}}
	cmd, _, err := newRoot(g).Find([]string{"serve"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.ParseFlags([]string{"--sell-process", "--sell-docker", "--sell-gpus"}); err != nil {
		t.Fatal(err)
	}
	// The command's own flag values live in its closure: read them back.
	f := &serveFlags{}
	for name, v := range map[string]*bool{"sell-process": &f.sellProcess, "sell-docker": &f.sellDocker, "sell-gpus": &f.sellGPUs} {
		*v, _ = cmd.Flags().GetBool(name)
	}
	cfg, err := serveConfig(cmd, g, t.TempDir(), f)
	if err != nil {
		t.Fatal(err)
	}
	if p := cfg.Provider; !p.Process.Sell || !p.Docker.Sell || !p.GPUs.Sell {
		t.Fatalf("--sell-process --sell-docker --sell-gpus gave %+v %+v %+v", p.Process, p.Docker, p.GPUs)
	}
}
