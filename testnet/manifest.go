package testnet

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/hayek-market/hayek/internal/units"
)

// DefaultImage is the image scripts/testnet-image builds.
const DefaultImage = "hayek-testnet:dev"

// Manifest describes a testnet: its networks, its node groups and the
// jobs its requesters submit. It is read from TOML (testnet/networks/*.toml).
type Manifest struct {
	Name     string      `toml:"name"`  // names the compose project and labels: [a-z0-9-]
	Seed     int64       `toml:"seed"`  // keys (hence peer IDs) derive from it
	Image    string      `toml:"image"` // default DefaultImage
	QUIC     bool        `toml:"quic"`  // listen on QUIC as well as TCP
	Networks []Network   `toml:"network"`
	Defaults NodeGroup   `toml:"defaults"` // fields every group leaves unset
	Nodes    []NodeGroup `toml:"nodes"`
	Mix      []MixEntry  `toml:"mix"`
	// Config is node configuration (as in config.toml) applied to every
	// node before its group's own settings.
	Config map[string]any `toml:"config"`
	// Expect is the scenario's [expect] (Scenario.Apply), which Resolve
	// keeps in the testnet for Check.
	Expect *Expect `toml:"-"`
}

// Network is a private Docker network with a fixed subnet.
//
// A shared network (the default) is the testnet's plumbing: every node
// has an address in its subnet, which says nothing about who runs the
// node, so every node lists the subnet in its gossip whitelist and
// ignores it as a cohort (reputation.JudgeCheck) and in the subnet
// guard. A network with Shared = false models the internet instead: it is
// left out of the whitelist, and each node's address on it is in a /24
// of its own — its operator's address block — unless its group names an
// Operator, whose nodes then share one /24, as one provider's machines
// would. Such a network needs room for a /24 per operator: /16 to /23.
type Network struct {
	Name   string `toml:"name"`
	Subnet string `toml:"subnet"` // an IPv4 /16 to /28; nodes get .10 upwards
	Shared *bool  `toml:"shared"` // default true: in every node's gossip whitelist
}

// shared is Shared with its default.
func (n Network) shared() bool { return n.Shared == nil || *n.Shared }

// NodeGroup is one node or, with Count, several alike: name-0, name-1, ...
// Zero fields take Manifest.Defaults' values, then the built-in ones.
type NodeGroup struct {
	Name      string   `toml:"name"`
	Count     int      `toml:"count"`     // 0: one node called Name
	Networks  []string `toml:"networks"`  // default: every network
	Tags      []string `toml:"tags"`      // for selectors (tag:NAME) in perturbations and reports
	Bootstrap *bool    `toml:"bootstrap"` // others join through it (default: the first node only)
	Requester *bool    `toml:"requester"` // load submits jobs through it
	Sell      *bool    `toml:"sell"`      // default true
	Sybil     bool     `toml:"sybil"`     // a fresh identity of a sybil flood (reports count its awards)
	// Operator names who runs the group's nodes: on a network with
	// shared = false, nodes of one operator share a /24 (of any group
	// naming it); a node without one has a /24 of its own.
	Operator  string `toml:"operator"`
	Slots     int    `toml:"slots"`
	PriceBase int64  `toml:"price_base"`
	PerSecond int64  `toml:"price_per_second"`
	Budget    int64  `toml:"budget"` // the operator's budget, which load spends without agents
	// Agents is how many agents load creates on a requester and submits
	// through (round-robin, each with its own token and AgentBudget);
	// none: load submits as the operator.
	Agents      int        `toml:"agents"`
	AgentBudget int64      `toml:"agent_budget"`
	Memory      units.Size `toml:"memory"`    // container memory limit, e.g. "256MiB"
	LogLevel    string     `toml:"log_level"` // debug, info, warn, error
	Misbehave   Misbehave  `toml:"misbehave"`
}

// Misbehave is a node's [misbehave] config: cheating, for research only.
type Misbehave struct {
	WrongOutputRate float64        `toml:"wrong_output_rate"`
	DropRate        float64        `toml:"drop_rate"`
	Slowness        units.Duration `toml:"slowness"`
	FalseStart      bool           `toml:"false_start"`
}

func (m Misbehave) zero() bool { return m == Misbehave{} }

// MixEntry is one kind of job in the load, drawn with probability
// Weight / sum of weights.
type MixEntry struct {
	Name     string         `toml:"name"`
	Module   string         `toml:"module"` // hello or toolbox (the samples), or a .wasm path
	Args     []string       `toml:"args"`
	Stdin    string         `toml:"stdin"`
	Weight   int            `toml:"weight"`
	MaxPrice int64          `toml:"max_price"`
	Timeout  units.Duration `toml:"timeout"`
	Deadline units.Duration `toml:"deadline"`
	Memory   units.Size     `toml:"memory"`
	Verify   string         `toml:"verify"` // none, replicate:K, sample:P
}

// ErrManifest is wrapped by every manifest error.
var ErrManifest = errors.New("testnet: invalid manifest")

// LoadManifest reads and validates a manifest file.
func LoadManifest(path string) (*Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("testnet: %w", err)
	}
	defer f.Close()
	m, err := ParseManifest(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// ParseManifest reads a manifest; unknown keys are errors.
func ParseManifest(r io.Reader) (*Manifest, error) {
	var m Manifest
	md, err := toml.NewDecoder(r).Decode(&m)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	for _, k := range md.Undecoded() {
		if len(k) > 0 && k[0] == "config" {
			continue // checked when each node's config is built
		}
		return nil, fmt.Errorf("%w: unknown key %q", ErrManifest, k.String())
	}
	return &m, m.Validate()
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)

// Validate reports every problem at once.
func (m *Manifest) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrManifest}, args...)...))
	}
	if !nameRE.MatchString(m.Name) {
		bad("name %q: want lower-case letters, digits and dashes, starting with a letter", m.Name)
	}
	if len(m.Networks) == 0 {
		bad("no [[network]]: give at least one, e.g. name = \"a\", subnet = \"10.201.1.0/24\"")
	}
	nets := map[string]bool{}
	var prefixes []netip.Prefix
	for _, n := range m.Networks {
		if !nameRE.MatchString(n.Name) || nets[n.Name] {
			bad("network name %q: want a unique name of lower-case letters, digits and dashes", n.Name)
		}
		nets[n.Name] = true
		p, err := netip.ParsePrefix(n.Subnet)
		if err != nil || !p.Addr().Is4() || p.Bits() < 16 || p.Bits() > 28 || p.Masked() != p {
			bad("network %s: subnet %q: want an IPv4 network from /16 to /28, e.g. 10.201.1.0/24", n.Name, n.Subnet)
			continue
		}
		if !n.shared() && p.Bits() > 23 {
			bad("network %s: subnet %s with shared = false: want /16 to /23, room for a /24 per operator, e.g. 10.210.0.0/16", n.Name, p)
		}
		for _, q := range prefixes {
			if q.Overlaps(p) {
				bad("network %s: subnet %s overlaps %s", n.Name, p, q)
			}
		}
		prefixes = append(prefixes, p)
	}
	if len(m.Nodes) == 0 {
		bad("no [[nodes]]: give at least one node group")
	}
	names := map[string]bool{}
	for _, g := range append([]NodeGroup{m.Defaults}, m.Nodes...) {
		for _, n := range g.Networks {
			if !nets[n] {
				bad("node group %q: network %q is not declared in [[network]]", g.Name, n)
			}
		}
		if g.Agents < 0 || g.Agents > 100 || g.AgentBudget < 0 {
			bad("node group %q: agents %d, agent_budget %d: want 0 to 100 agents and a budget ≥ 0", g.Name, g.Agents, g.AgentBudget)
		}
		if g.Count < 0 || g.Count > 500 {
			bad("node group %q: count %d: want 0 to 500", g.Name, g.Count)
		}
		if g.LogLevel != "" && !slices.Contains([]string{"debug", "info", "warn", "error"}, g.LogLevel) {
			bad("node group %q: log_level %q: want debug, info, warn or error", g.Name, g.LogLevel)
		}
		if g.Operator != "" && !nameRE.MatchString(g.Operator) {
			bad("node group %q: operator %q: want lower-case letters, digits and dashes, starting with a letter", g.Name, g.Operator)
		}
		if g.Memory != 0 && g.Memory < 32<<20 {
			bad("node group %q: memory %v: want at least 32MiB", g.Name, g.Memory)
		}
	}
	for _, g := range m.Nodes {
		if !nameRE.MatchString(g.Name) {
			bad("node group name %q: want lower-case letters, digits and dashes, starting with a letter", g.Name)
		}
		if names[g.Name] {
			bad("node group name %q is used twice", g.Name)
		}
		names[g.Name] = true
	}
	if len(m.Mix) == 0 {
		bad("no [[mix]]: give at least one kind of job, e.g. name = \"hello\", module = \"hello\", max_price = 1000")
	}
	for _, x := range m.Mix {
		if x.Name == "" || x.Module == "" {
			bad("mix entry %q: want a name and a module (hello, toolbox or a .wasm file)", x.Name)
		}
		if x.Weight < 0 {
			bad("mix entry %q: weight %d: want ≥ 0", x.Name, x.Weight)
		}
		if x.MaxPrice <= 0 {
			bad("mix entry %q: max_price %d: want > 0", x.Name, x.MaxPrice)
		}
	}
	return errors.Join(errs...)
}

// String is the manifest as TOML, as setup saves it beside the testnet.
func (m *Manifest) String() string {
	var b strings.Builder
	if err := toml.NewEncoder(&b).Encode(m); err != nil {
		panic(err) // every field encodes
	}
	return b.String()
}

// decodeStrict decodes TOML into v; unknown keys are errors.
func decodeStrict(r io.Reader, v any) error {
	md, err := toml.NewDecoder(r).Decode(v)
	if err != nil {
		return err
	}
	if und := md.Undecoded(); len(und) > 0 {
		return fmt.Errorf("unknown key %q", und[0].String())
	}
	return nil
}
