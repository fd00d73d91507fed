package node

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/hayek-market/hayek/internal/units"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/internal/requester"
)

// Config is a node's configuration, read from <home>/config.toml. Every
// field has a documented default (DefaultConfig); Validate reports every
// bad field at once.
type Config struct {
	Network    NetworkConfig    `toml:"network"`
	Provider   ProviderConfig   `toml:"provider"`
	Requester  RequesterConfig  `toml:"requester"`
	Settlement SettlementConfig `toml:"settlement"`
	Reputation ReputationConfig `toml:"reputation"`
	Gossip     GossipConfig     `toml:"gossip"`
	API        APIConfig        `toml:"api"`
	Storage    StorageConfig    `toml:"storage"`
	Offers     OffersConfig     `toml:"offers"`
	Metrics    MetricsConfig    `toml:"metrics"`
	Misbehave  MisbehaveConfig  `toml:"misbehave"`
}

// StorageConfig bounds what the node keeps on disk.
type StorageConfig struct {
	// BlobRetention: blobs (modules, inputs, outputs) neither written nor
	// read for this long are deleted, unless a live job needs them.
	BlobRetention units.Duration `toml:"blob_retention"`
	// GCEvery is how often blobs are collected.
	GCEvery units.Duration `toml:"gc_every"`
}

// SettlementConfig is money: the operator's own budget and the credit this
// node extends to requesters.
type SettlementConfig struct {
	// OperatorBudget funds the operator's account the first time the node
	// starts (its jobs are held against it). Later funding: hayek agent
	// fund operator N.
	OperatorBudget int64 `toml:"operator_budget"`
	// CreditLimit is what a stranger may owe this node as a provider;
	// requesters with a good standing get more, up to CreditMax.
	CreditLimit int64 `toml:"credit_limit"`
	CreditMax   int64 `toml:"credit_max"`
	// ReceiptTimeout bounds the receipt exchange after a result.
	ReceiptTimeout units.Duration `toml:"receipt_timeout"`
}

// ReputationConfig tunes what this node believes about its peers.
type ReputationConfig struct {
	HalfLife units.Duration `toml:"half_life"` // evidence this old weighs half
	// Epsilon is the replica-group error the odds rule accepts: a group is
	// accepted when its credibility reaches 1 − epsilon.
	Epsilon float64 `toml:"epsilon"`
	// DistinctSubnets keeps replicas of a job on providers in different
	// /24 (IPv4) or /48 (IPv6) subnets. Off by default: a devnet shares
	// 127.0.0.1.
	DistinctSubnets bool `toml:"distinct_subnets"`
	// AttestEvery is how often this node gossips the evidence it gathered.
	AttestEvery units.Duration `toml:"attest_every"`
	// CatchWindow is how long a provider another requester caught with
	// an adaptive check has every result checked here, when this node
	// trusts one of the checkers that contradicted it; 0 shares no
	// catches, either way.
	CatchWindow units.Duration `toml:"catch_window"`
}

// MisbehaveConfig makes a provider cheat, for tests and research only. It
// is off by default and a node with any of it on says so loudly at start
// and in its status.
type MisbehaveConfig struct {
	WrongOutputRate float64        `toml:"wrong_output_rate"` // results with corrupted stdout
	DropRate        float64        `toml:"drop_rate"`         // accepted awards never answered
	Slowness        units.Duration `toml:"slowness"`          // extra delay before each run
	FalseStart      bool           `toml:"false_start"`       // commit to a start it cannot hold
}

// Active lists what misbehaviour is switched on.
func (m MisbehaveConfig) Active() []string {
	var out []string
	if m.WrongOutputRate > 0 {
		out = append(out, fmt.Sprintf("wrong_output_rate=%g", m.WrongOutputRate))
	}
	if m.DropRate > 0 {
		out = append(out, fmt.Sprintf("drop_rate=%g", m.DropRate))
	}
	if m.Slowness > 0 {
		out = append(out, "slowness="+m.Slowness.String())
	}
	if m.FalseStart {
		out = append(out, "false_start")
	}
	return out
}

// NetworkConfig configures the libp2p host and the DHT.
type NetworkConfig struct {
	Listen    []string `toml:"listen"`    // multiaddrs; TCP and QUIC
	Bootstrap []string `toml:"bootstrap"` // multiaddrs ending in /p2p/<peer ID>
	ConnLow   int      `toml:"conn_low"`  // connection manager trims down to this...
	ConnHigh  int      `toml:"conn_high"` // ...once above this
	// Reprovide is how often provider records are refreshed on the DHT; it
	// must be well under the 48h the DHT keeps them.
	Reprovide units.Duration `toml:"reprovide"`
	// Discovery is how often the providers of a capability are looked up
	// again in the background.
	Discovery units.Duration `toml:"discovery"`
}

// OffersConfig is the lifetime of the signed offers a provider publishes.
type OffersConfig struct {
	// TTL is how long a signed offer is valid. A provider reissues its offer
	// long before (at half its life, and whenever it serves past that), and
	// a requester whose cached offers have aged looks again before it says
	// no_providers, so an idle network keeps its offers.
	TTL units.Duration `toml:"ttl"`
}

// ProviderConfig says what this node sells and at what price.
type ProviderConfig struct {
	Sell         bool           `toml:"sell"`
	Capabilities []string       `toml:"capabilities"`
	Slots        int            `toml:"slots"` // jobs run at once
	MaxMemory    units.Size     `toml:"max_memory"`
	MaxTimeout   units.Duration `toml:"max_timeout"`
	MaxModule    units.Size     `toml:"max_module"`
	MaxInput     units.Size     `toml:"max_input"`
	MaxOutput    units.Size     `toml:"max_output"`
	BidUnasked   bool           `toml:"bid_unasked"`
	Pricing      market.Pricing `toml:"pricing"`
	// StartBase is the committed start when module and inputs are cached.
	StartBase units.Duration `toml:"start_base"`
	// ModuleCache is how many compiled modules are kept in memory.
	ModuleCache int `toml:"module_cache"`
	// CPUs and Memory are what the offer says the machine has for jobs:
	// 0 means all that is detected. A job asking for more is declined
	// too_large before it is invited.
	CPUs   int        `toml:"cpus"`
	Memory units.Size `toml:"memory"`
	// Process, Docker and GPUs sell more than wasm; each is off unless the
	// operator turns it on (hayek devnet turns process on for its nodes,
	// all the user's own, and docker when an engine answers).
	Process ProcessConfig `toml:"process"`
	Docker  DockerConfig  `toml:"docker"`
	GPUs    GPUConfig     `toml:"gpus"`
}

// ProcessConfig sells runtime/process: static Linux executables in the
// process sandbox (exec/process).
type ProcessConfig struct {
	Sell bool `toml:"sell"`
	// Programs are executables this provider offers by host path (a
	// static Python, a solver); a job runs one by naming its CID.
	Programs []string `toml:"programs"`
	// JobExecutables lets jobs bring their own executable.
	JobExecutables bool `toml:"job_executables"`
	// CPUsPerJob caps each job's CPU time per second of wall time, in
	// cores; a job asking for fewer cpus gets its own quota. 0 sets no
	// cap.
	CPUsPerJob float64 `toml:"cpus_per_job"`
}

// DockerConfig sells runtime/docker: container images through the local
// Docker engine (exec/docker).
type DockerConfig struct {
	Sell bool `toml:"sell"`
	// Host is the engine's address; empty means DOCKER_HOST or the
	// default socket.
	Host string `toml:"host"`
	// AllowedImages are images by digest jobs may name (name@sha256:… or
	// sha256:…), present in the engine.
	AllowedImages []string `toml:"allowed_images"`
	// JobImages lets jobs ship their image as a `docker save` archive.
	JobImages bool `toml:"job_images"`
	// OCIRuntime is the engine runtime jobs run with ("runsc" for
	// gVisor); empty is the engine's default.
	OCIRuntime string `toml:"oci_runtime"`
	// CPUsPerJob caps each job's CPU, in cores; a job asking for fewer
	// cpus gets its own quota. 0 sets no cap.
	CPUsPerJob float64 `toml:"cpus_per_job"`
}

// GPUConfig sells this machine's NVIDIA GPUs, found with nvidia-smi, whole
// to jobs of the docker runtime, and of the process runtime when every
// device has its node in /dev.
type GPUConfig struct {
	Sell bool `toml:"sell"`
}

// RequesterConfig tunes the auctions this node runs for its agents.
type RequesterConfig struct {
	BidWindow   units.Duration `toml:"bid_window"`
	MaxInvitees int            `toml:"max_invitees"`
	AckTimeout  units.Duration `toml:"ack_timeout"`
	ResultGrace units.Duration `toml:"result_grace"`
	MaxAttempts int            `toml:"max_attempts"`
	AllowSelf   bool           `toml:"allow_self"` // may this node win its own jobs
	// MaxActive caps the jobs (replicas counted) this node has in the
	// market at once; beyond it, or beyond the slots of the providers it
	// knows, jobs wait in a local queue.
	MaxActive int `toml:"max_active"`
	// CallGossip is when a call for bids is gossiped on its capability's
	// topic as well as sent to its invitees: "thin" (fewer candidates
	// than max_invitees), "always" or "never".
	CallGossip string `toml:"call_gossip"`
	// Verify is how a job that names no verification is checked: "none",
	// "adaptive", "replicate:K" or "sample:P" (market.ParseVerify). A job
	// that names one, "none" included, keeps its own.
	Verify string `toml:"verify"`
}

// GossipConfig is the hygiene of the auction topics.
type GossipConfig struct {
	Freshness units.Duration `toml:"freshness"` // accepted clock skew of messages
	MaxCall   units.Size     `toml:"max_call"`  // size cap of a call for bids
	CallRate  float64        `toml:"call_rate"` // calls per second per requester
	CallBurst int            `toml:"call_burst"`
	// Whitelist lists subnets exempt from the same-IP colocation penalty
	// (loopback and testnets).
	Whitelist []string `toml:"whitelist"`
}

// MetricsConfig is the opt-in Prometheus listener. The counters are
// always on the operator socket (GET /v1/metrics); a Prometheus server
// cannot scrape a unix socket, so Listen serves them over HTTP too — on
// a loopback address only: the node opens no listener on a public
// interface but libp2p's.
type MetricsConfig struct {
	// Listen is host:port with a loopback IP (127.0.0.1:9464,
	// [::1]:9464), serving GET /metrics; empty for none.
	Listen string `toml:"listen"`
}

// APIConfig configures the local sockets.
type APIConfig struct {
	MaxBlob units.Size `toml:"max_blob"`
	// AgentSocket opens <home>/agent.sock (mode 0660) for agents under
	// other Unix users; requests there must carry an agent's token.
	AgentSocket bool `toml:"agent_socket"`
	// AgentGroup owns agent.sock; its members can connect.
	AgentGroup string `toml:"agent_group"`
}

// DefaultConfig is the configuration of a node that sells wasm compute on
// all interfaces on port 4001.
func DefaultConfig() Config {
	slots := runtime.NumCPU()
	return Config{
		Network: NetworkConfig{
			Listen:    []string{"/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/udp/4001/quic-v1"},
			Bootstrap: []string{},
			ConnLow:   64,
			ConnHigh:  256,
			Reprovide: units.Duration(12 * time.Hour),
			Discovery: units.Duration(30 * time.Second),
		},
		Provider: ProviderConfig{
			Sell:         true,
			Capabilities: []string{string(market.RuntimeWasm)},
			Slots:        slots,
			MaxMemory:    512 << 20,
			MaxTimeout:   units.Duration(5 * time.Minute),
			MaxModule:    64 << 20,
			MaxInput:     256 << 20,
			MaxOutput:    64 << 20,
			Pricing:      market.Pricing{Base: 10, PerSecond: 2, PerGiBSecond: 8, Surge: 1},
			StartBase:    units.Duration(50 * time.Millisecond),
			ModuleCache:  64,
			Process:      ProcessConfig{JobExecutables: true, Programs: []string{}},
			Docker:       DockerConfig{JobImages: true, AllowedImages: []string{}},
		},
		Requester: RequesterConfig{
			BidWindow:   units.Duration(time.Second),
			MaxInvitees: 16,
			CallGossip:  "thin",
			Verify:      market.VerifyNone,
			AckTimeout:  units.Duration(3 * time.Second),
			ResultGrace: units.Duration(10 * time.Second),
			MaxAttempts: 3,
			MaxActive:   256,
		},
		Gossip: GossipConfig{
			Freshness: units.Duration(30 * time.Second),
			MaxCall:   16 << 10,
			CallRate:  1000,
			CallBurst: 2000,
			Whitelist: []string{"127.0.0.0/8", "::1/128"},
		},
		Settlement: SettlementConfig{
			OperatorBudget: 1_000_000,
			CreditLimit:    10_000,
			CreditMax:      1_000_000,
			ReceiptTimeout: units.Duration(30 * time.Second),
		},
		Reputation: ReputationConfig{
			HalfLife:    units.Duration(14 * 24 * time.Hour),
			Epsilon:     0.01,
			AttestEvery: units.Duration(10 * time.Second),
			CatchWindow: units.Duration(24 * time.Hour),
		},
		API:     APIConfig{MaxBlob: 256 << 20},
		Storage: StorageConfig{BlobRetention: units.Duration(7 * 24 * time.Hour), GCEvery: units.Duration(time.Hour)},
		Offers:  OffersConfig{TTL: units.Duration(time.Hour)},
	}
}

//go:embed config.toml
var defaultConfigTOML []byte

// DefaultConfigFile is the commented default config that `hayek init`
// writes. It parses to DefaultConfig (a test checks it).
func DefaultConfigFile() []byte { return bytes.Clone(defaultConfigTOML) }

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("node: invalid configuration")

// ConfigError is one bad field: the field-error shape of every package
// ({Field, Value, Err}, unwrapping to the package's sentinel and the
// cause).
type ConfigError struct {
	Field string // dotted TOML path, e.g. "requester.max_active"
	Value any
	Err   error // why
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("config %s = %v: %v", e.Field, e.Value, e.Err)
}

// Unwrap lets errors.Is match ErrConfig and the cause.
func (e *ConfigError) Unwrap() []error { return []error{ErrConfig, e.Err} }

// ParseConfig reads TOML over the defaults: fields not in r keep their
// default. Unknown keys are errors (a typo must not silently do nothing).
func ParseConfig(r io.Reader) (Config, error) {
	cfg := DefaultConfig()
	md, err := toml.NewDecoder(r).Decode(&cfg)
	if err != nil {
		return Config{}, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return Config{}, fmt.Errorf("%w: unknown key %q (check the spelling against `hayek init`'s config.toml)", ErrConfig, und[0].String())
	}
	return cfg, cfg.Validate()
}

// Validate checks every field and returns all problems joined, section
// by section.
func (c Config) Validate() error {
	var errs []error
	bad := func(field string, v any, format string, args ...any) {
		errs = append(errs, &ConfigError{Field: field, Value: v, Err: fmt.Errorf(format, args...)})
	}
	c.Metrics.validate(bad)
	c.Network.validate(bad)
	c.Offers.validate(bad)
	c.Provider.validate(bad)
	c.Requester.validate(bad)
	c.Gossip.validate(bad)
	c.Settlement.validate(bad)
	c.Reputation.validate(bad)
	c.Storage.validate(bad)
	c.Misbehave.validate(bad)
	c.API.validate(bad)
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("node: %w", errors.Join(errs...))
}

// badField reports one bad field of the configuration.
type badField func(field string, v any, format string, args ...any)

// validate reports the bad fields of [metrics].
func (m MetricsConfig) validate(bad badField) {
	if err := checkMetricsListen(m.Listen); err != nil {
		bad("metrics.listen", m.Listen, "%v", err)
	}
}

// validate reports the bad fields of [network].
func (n NetworkConfig) validate(bad badField) {
	if len(n.Listen) == 0 {
		bad("network.listen", n.Listen, "need at least one listen address, e.g. /ip4/0.0.0.0/tcp/4001")
	}
	for _, a := range n.Listen {
		if _, err := ma.NewMultiaddr(a); err != nil {
			bad("network.listen", a, "not a multiaddr: %v", err)
		}
	}
	for _, a := range n.Bootstrap {
		if _, err := peer.AddrInfoFromString(a); err != nil {
			bad("network.bootstrap", a, "want a multiaddr ending in /p2p/<peer ID>: %v", err)
		}
	}
	if n.ConnLow < 1 || n.ConnHigh < n.ConnLow {
		bad("network.conn_low/conn_high", fmt.Sprintf("%d/%d", n.ConnLow, n.ConnHigh), "need 1 ≤ conn_low ≤ conn_high")
	}
	if d := time.Duration(n.Reprovide); d < time.Second || d > 24*time.Hour {
		bad("network.reprovide", d, "must be between 1s and 24h (DHT records live 48h)")
	}
	if d := time.Duration(n.Discovery); d < 100*time.Millisecond || d > time.Hour {
		bad("network.discovery", d, "must be between 100ms and 1h")
	}
}

// validate reports the bad fields of [offers].
func (o OffersConfig) validate(bad badField) {
	if d := time.Duration(o.TTL); d < 10*time.Second || d > 24*time.Hour {
		bad("offers.ttl", d, "must be between 10s and 24h")
	}
}

// validate reports the bad fields of [provider] (only checked when it sells).
func (p ProviderConfig) validate(bad badField) {
	if p.Sell {
		if len(p.Capabilities) == 0 {
			bad("provider.capabilities", p.Capabilities, "a seller must sell something, e.g. [\"runtime/wasm\"]")
		}
		for _, k := range p.Capabilities {
			if err := market.Capability(k).Validate(); err != nil {
				bad("provider.capabilities", k, "%v", err)
			}
		}
		if !contains(p.Capabilities, string(market.RuntimeWasm)) {
			bad("provider.capabilities", p.Capabilities, "every provider runs wasm: include %q", market.RuntimeWasm)
		}
		for _, k := range p.Capabilities {
			switch {
			case k == string(market.RuntimeProcess):
				bad("provider.capabilities", k, "sold when it works: set [provider.process] sell = true instead")
			case k == string(market.RuntimeDocker):
				bad("provider.capabilities", k, "sold when it works: set [provider.docker] sell = true instead")
			case strings.HasPrefix(k, market.GPUCapabilityPrefix):
				bad("provider.capabilities", k, "GPUs are sold as detected: set [provider.gpus] sell = true instead")
			}
		}
		if p.CPUs < 0 || p.CPUs > market.MaxCPUMilli/1000 {
			bad("provider.cpus", p.CPUs, "must be between 0 (all) and %d", market.MaxCPUMilli/1000)
		}
		if p.Memory != 0 && (p.Memory < market.MinMemoryBytes || p.Memory > market.MaxNativeMemoryBytes) {
			bad("provider.memory", p.Memory, "must be 0 (all) or between 64KiB and 1TiB")
		}
		if c := p.Process.CPUsPerJob; c < 0 || (c > 0 && c < 0.01) {
			bad("provider.process.cpus_per_job", c, "must be 0 (no quota) or at least 0.01 cores")
		}
		if c := p.Docker.CPUsPerJob; c < 0 || (c > 0 && c < 0.01) {
			bad("provider.docker.cpus_per_job", c, "must be 0 (no quota) or at least 0.01 cores")
		}
		if p.Process.Sell && !p.Process.JobExecutables && len(p.Process.Programs) == 0 {
			bad("provider.process", "job_executables = false", "with no programs either, no job could run")
		}
		if p.Docker.Sell && !p.Docker.JobImages && len(p.Docker.AllowedImages) == 0 {
			bad("provider.docker", "job_images = false", "with no allowed_images either, no job could run")
		}
		if p.Slots < 1 || p.Slots > 1024 {
			bad("provider.slots", p.Slots, "must be between 1 and 1024")
		}
		if p.MaxMemory < market.MinMemoryBytes || p.MaxMemory > market.MaxNativeMemoryBytes {
			bad("provider.max_memory", p.MaxMemory, "must be between 64KiB and 1TiB (wasm jobs take at most 4GiB of it)")
		}
		if d := time.Duration(p.MaxTimeout); d < time.Millisecond || d > market.MaxTimeout {
			bad("provider.max_timeout", d, "must be between 1ms and 24h")
		}
		if p.MaxModule < 1 || p.MaxModule > market.MaxModuleBytes {
			bad("provider.max_module", p.MaxModule, "must be between 1 byte and 256MiB")
		}
		if p.MaxInput < 0 || p.MaxInput > market.MaxInputBytes {
			bad("provider.max_input", p.MaxInput, "must be between 0 and 1GiB")
		}
		if p.MaxOutput < 1 || p.MaxOutput > market.MaxInputBytes {
			bad("provider.max_output", p.MaxOutput, "must be between 1 byte and 1GiB")
		}
		o := market.Offer{Provider: "x", Capabilities: []market.Capability{market.RuntimeWasm}, Pricing: p.Pricing,
			Limits:  market.Limits{MaxMemoryBytes: 1, MaxTimeoutMs: 1, MaxModuleBytes: 1, MaxInputBytes: 1, MaxOutputBytes: 1, Slots: 1},
			Created: 1, Expires: 2}
		if err := o.Validate(time.UnixMilli(0)); err != nil {
			var ve *market.ValidationError
			if errors.As(err, &ve) {
				for _, f := range ve.Fields {
					bad("provider."+f.Field, f.Value, "%v", f.Err)
				}
			}
		}
		if d := time.Duration(p.StartBase); d < 0 || d > time.Minute {
			bad("provider.start_base", d, "must be between 0 and 1m")
		}
		if p.ModuleCache < 1 {
			bad("provider.module_cache", p.ModuleCache, "must be ≥ 1")
		}
	}
}

// validate reports the bad fields of [requester].
func (r RequesterConfig) validate(bad badField) {
	if d := time.Duration(r.BidWindow); d < 10*time.Millisecond || d > time.Minute {
		bad("requester.bid_window", d, "must be between 10ms and 1m")
	}
	if r.MaxInvitees < 1 || r.MaxInvitees > 256 {
		bad("requester.max_invitees", r.MaxInvitees, "must be between 1 and 256")
	}
	if d := time.Duration(r.AckTimeout); d < 10*time.Millisecond || d > 5*time.Minute {
		bad("requester.ack_timeout", d, "must be between 10ms and 5m")
	}
	if d := time.Duration(r.ResultGrace); d < 0 || d > time.Hour {
		bad("requester.result_grace", d, "must be between 0 and 1h")
	}
	if r.MaxAttempts < 1 || r.MaxAttempts > 20 {
		bad("requester.max_attempts", r.MaxAttempts, "must be between 1 and 20")
	}
	if r.MaxActive < 1 || r.MaxActive > 100_000 {
		bad("requester.max_active", r.MaxActive, "must be between 1 and 100000")
	}
	if !slices.Contains(requester.CallGossipModes, r.CallGossip) {
		bad("requester.call_gossip", r.CallGossip, "must be one of %s", strings.Join(requester.CallGossipModes, ", "))
	}
	if _, err := market.ParseVerify(r.Verify); err != nil || r.Verify == "" {
		bad("requester.verify", r.Verify, "must be none, adaptive, replicate:K (K from 2 to %d) or sample:P (0 < P ≤ 1), e.g. \"adaptive\"", market.MaxReplicas)
	}
}

// validate reports the bad fields of [gossip].
func (g GossipConfig) validate(bad badField) {
	if d := time.Duration(g.Freshness); d < time.Second || d > 10*time.Minute {
		bad("gossip.freshness", d, "must be between 1s and 10m")
	}
	if g.MaxCall < 1<<10 || g.MaxCall > 1<<20 {
		bad("gossip.max_call", g.MaxCall, "must be between 1KiB and 1MiB")
	}
	if g.CallRate <= 0 || g.CallBurst < 1 {
		bad("gossip.call_rate/call_burst", fmt.Sprintf("%v/%d", g.CallRate, g.CallBurst), "must be > 0")
	}
	for _, s := range g.Whitelist {
		if _, err := parsePrefix(s); err != nil {
			bad("gossip.whitelist", s, "not a subnet like 10.0.0.0/8: %v", err)
		}
	}
}

// validate reports the bad fields of [settlement].
func (st SettlementConfig) validate(bad badField) {
	if st.OperatorBudget < 0 || st.CreditLimit < 0 || st.CreditMax < st.CreditLimit {
		bad("settlement", fmt.Sprintf("%d/%d/%d", st.OperatorBudget, st.CreditLimit, st.CreditMax),
			"need operator_budget ≥ 0 and 0 ≤ credit_limit ≤ credit_max")
	}
	if d := time.Duration(st.ReceiptTimeout); d < 100*time.Millisecond || d > time.Hour {
		bad("settlement.receipt_timeout", d, "must be between 100ms and 1h")
	}
}

// validate reports the bad fields of [reputation].
func (rp ReputationConfig) validate(bad badField) {
	if d := time.Duration(rp.HalfLife); d < time.Minute || d > 10*365*24*time.Hour {
		bad("reputation.half_life", d, "must be between 1m and 10 years")
	}
	if !(rp.Epsilon > 0 && rp.Epsilon < 0.5) {
		bad("reputation.epsilon", rp.Epsilon, "must be between 0 and 0.5, e.g. 0.01")
	}
	if d := time.Duration(rp.AttestEvery); d < 100*time.Millisecond || d > time.Hour {
		bad("reputation.attest_every", d, "must be between 100ms and 1h")
	}
	if d := time.Duration(rp.CatchWindow); d != 0 && (d < time.Minute || d > 30*24*time.Hour) {
		bad("reputation.catch_window", d, "must be 0 (share no catches) or between 1m and 30 days, e.g. 24h")
	}
}

// validate reports the bad fields of [storage].
func (s StorageConfig) validate(bad badField) {
	if d := time.Duration(s.BlobRetention); d < time.Minute {
		bad("storage.blob_retention", d, "must be at least 1m")
	}
	if d := time.Duration(s.GCEvery); d < time.Second || d > 24*time.Hour {
		bad("storage.gc_every", d, "must be between 1s and 24h")
	}
}

// validate reports the bad fields of [misbehave].
func (m MisbehaveConfig) validate(bad badField) {
	if !(m.WrongOutputRate >= 0 && m.WrongOutputRate <= 1) || !(m.DropRate >= 0 && m.DropRate <= 1) || m.Slowness < 0 {
		bad("misbehave", m.Active(), "rates must be between 0 and 1, slowness ≥ 0")
	}
}

// validate reports the bad fields of [api].
func (a APIConfig) validate(bad badField) {
	if a.MaxBlob < 1<<10 || a.MaxBlob > 4<<30 {
		bad("api.max_blob", a.MaxBlob, "must be between 1KiB and 4GiB")
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
