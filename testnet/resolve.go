package testnet

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/hayek-market/hayek/internal/units"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node"
)

// P2PPort is the TCP (and QUIC) port every node listens on, on every one
// of its networks.
const P2PPort = 4001

// LabelKey labels every container, network and volume of a testnet with its
// name; Down removes by it.
const LabelKey = "hayek.testnet"

// Testnet is a resolved manifest: every node with its identity, addresses,
// bootstrap peers and config. It is saved as testnet.json in the testnet's
// directory, which every later stage reads.
type Testnet struct {
	Name     string       `json:"name"`
	Project  string       `json:"project"` // the compose project: hayek-<name>
	Image    string       `json:"image"`
	Seed     int64        `json:"seed"`
	Networks []NetworkRes `json:"networks"`
	Nodes    []*Node      `json:"nodes"`
	Mix      []MixEntry   `json:"mix"`
	// Expect is the scenario's expectations, which Check enforces.
	Expect *Expect `json:"expect,omitempty"`
	// Dir is the testnet's directory on the host (absolute), UID and GID
	// the host user the containers run as; set by Setup, not by Resolve.
	Dir string `json:"dir,omitempty"`
	UID int    `json:"uid"`
	GID int    `json:"gid"`
}

// NetworkRes is a network as Docker will create it.
type NetworkRes struct {
	Name   string `json:"name"`   // as the manifest calls it
	Docker string `json:"docker"` // the Docker network: <project>-<name>
	Subnet string `json:"subnet"`
	// Unshared: the manifest's shared = false. Left out of the nodes'
	// gossip whitelist; each operator has a /24 of its own in it.
	Unshared bool `json:"unshared,omitempty"`
}

// Node is one resolved node.
type Node struct {
	Name        string      `json:"name"`
	Group       string      `json:"group"`
	Index       int         `json:"index"`
	PeerID      string      `json:"peer_id"`
	Container   string      `json:"container"`
	Addrs       []NodeAddr  `json:"addrs"`
	Tags        []string    `json:"tags,omitempty"`
	Bootstrap   bool        `json:"bootstrap"`
	Requester   bool        `json:"requester"`
	Sell        bool        `json:"sell"`
	Sybil       bool        `json:"sybil,omitempty"`
	Agents      int         `json:"agents,omitempty"`
	AgentBudget int64       `json:"agent_budget,omitempty"`
	Misbehave   []string    `json:"misbehave,omitempty"`
	Memory      int64       `json:"memory,omitempty"` // container limit, bytes
	LogLevel    string      `json:"log_level"`
	Config      node.Config `json:"-"`
	Key         []byte      `json:"-"` // libp2p-marshalled private key: identity.key
}

// NodeAddr is a node's fixed address on one network.
type NodeAddr struct {
	Network string `json:"network"`
	IP      string `json:"ip"`
}

// Multiaddrs are the node's dialable addresses, /p2p/ included.
func (n *Node) Multiaddrs() []string {
	var out []string
	for _, a := range n.Addrs {
		out = append(out, fmt.Sprintf("/ip4/%s/tcp/%d/p2p/%s", a.IP, P2PPort, n.PeerID))
	}
	return out
}

// Has reports whether the node carries tag (its group's name is a tag too).
func (n *Node) Has(tag string) bool { return n.Group == tag || slices.Contains(n.Tags, tag) }

// Resolve turns a manifest into a testnet: the same manifest always gives
// the same keys, addresses and configs.
func Resolve(m *Manifest) (*Testnet, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	t := &Testnet{Name: m.Name, Project: "hayek-" + m.Name, Image: m.Image, Seed: m.Seed, Mix: m.Mix, Expect: m.Expect}
	if t.Image == "" {
		t.Image = DefaultImage
	}
	prefixes := map[string]netip.Prefix{}
	unshared := map[string]bool{}
	var allNets []string
	for _, n := range m.Networks {
		p := netip.MustParsePrefix(n.Subnet)
		prefixes[n.Name] = p
		unshared[n.Name] = !n.shared()
		allNets = append(allNets, n.Name)
		t.Networks = append(t.Networks, NetworkRes{Name: n.Name, Docker: t.Project + "-" + n.Name, Subnet: p.String(), Unshared: !n.shared()})
	}
	d := m.Defaults
	var ops operators
	for _, g := range m.Nodes {
		count, single := g.Count, g.Count == 0
		if single {
			count = 1
		}
		for k := range count {
			name := g.Name
			if !single {
				name = fmt.Sprintf("%s-%d", g.Name, k)
			}
			n := &Node{Name: name, Group: g.Name, Index: len(t.Nodes), Container: t.Project + "-" + name,
				Tags: g.Tags, Sybil: g.Sybil, Memory: int64(pickSize(g.Memory, d.Memory)), LogLevel: pick(g.LogLevel, d.LogLevel, "info")}
			n.Sell = pickBool(g.Sell, d.Sell, true)
			n.Agents = pickInt(g.Agents, d.Agents)
			n.AgentBudget = pickInt64(g.AgentBudget, d.AgentBudget)
			if n.Agents > 0 && n.AgentBudget == 0 {
				n.AgentBudget = 1_000_000
			}
			n.Requester = pickBool(g.Requester, d.Requester, false)
			n.Bootstrap = pickBool(g.Bootstrap, d.Bootstrap, len(t.Nodes) == 0)
			nets := g.Networks
			if len(nets) == 0 {
				nets = d.Networks
			}
			if len(nets) == 0 {
				nets = allNets
			}
			block, inBlock := ops.place(pick(g.Operator, d.Operator, ""), name)
			for _, net := range nets {
				ip, err := hostAddr(prefixes[net], n.Index)
				if unshared[net] {
					ip, err = blockAddr(prefixes[net], block, inBlock)
				}
				if err != nil {
					return nil, fmt.Errorf("%w: node %s on network %s: %v", ErrManifest, name, net, err)
				}
				n.Addrs = append(n.Addrs, NodeAddr{Network: net, IP: ip.String()})
			}
			key, id, err := seededKey(m.Seed, name)
			if err != nil {
				return nil, err
			}
			n.Key, n.PeerID = key, id
			t.Nodes = append(t.Nodes, n)
		}
	}
	if !slices.ContainsFunc(t.Nodes, func(n *Node) bool { return n.Bootstrap }) {
		return nil, fmt.Errorf("%w: no node has bootstrap = true: the others could not join", ErrManifest)
	}
	if !slices.ContainsFunc(t.Nodes, func(n *Node) bool { return n.Requester }) {
		return nil, fmt.Errorf("%w: no node has requester = true: load would have nowhere to submit jobs", ErrManifest)
	}
	byGroup := map[string]NodeGroup{}
	for _, g := range m.Nodes {
		byGroup[g.Name] = g
	}
	for _, n := range t.Nodes {
		cfg, err := nodeConfig(m, t, n, byGroup[n.Group])
		if err != nil {
			return nil, err
		}
		n.Config = cfg
		n.Misbehave = cfg.Misbehave.Active()
	}
	return t, nil
}

// nodeConfig is a node's config.toml: testnet defaults, then the
// manifest's [config], then its group's fields.
func nodeConfig(m *Manifest, t *Testnet, n *Node, g NodeGroup) (node.Config, error) {
	d := m.Defaults
	c := node.DefaultConfig()
	c.Network.Listen = []string{fmt.Sprintf("/ip4/0.0.0.0/tcp/%d", P2PPort)}
	if m.QUIC {
		c.Network.Listen = append(c.Network.Listen, fmt.Sprintf("/ip4/0.0.0.0/udp/%d/quic-v1", P2PPort))
	}
	// Timers for a network that lives minutes, not months.
	c.Network.Reprovide.Set("1m")
	c.Offers.TTL.Set("10m")
	c.Network.Discovery.Set("2s")
	c.Reputation.AttestEvery.Set("2s")
	c.Requester.BidWindow.Set("500ms")
	c.Settlement.OperatorBudget = 1 << 40
	c.Settlement.CreditLimit = 1 << 40
	c.Settlement.CreditMax = 1 << 40
	c.Provider.Slots = 2
	// The shared networks' subnets say nothing about who runs a node: the
	// node must not read them as cohorts. Unshared ones it must.
	c.Gossip.Whitelist = append(c.Gossip.Whitelist, subnets(t)...)
	for _, b := range t.Nodes {
		if b.Bootstrap && b != n {
			c.Network.Bootstrap = append(c.Network.Bootstrap, b.Multiaddrs()...)
		}
	}
	if len(m.Config) > 0 {
		var buf bytes.Buffer
		if err := toml.NewEncoder(&buf).Encode(m.Config); err != nil {
			return c, fmt.Errorf("%w: [config]: %v", ErrManifest, err)
		}
		md, err := toml.Decode(buf.String(), &c)
		if err != nil {
			return c, fmt.Errorf("%w: [config]: %v", ErrManifest, err)
		}
		if und := md.Undecoded(); len(und) > 0 {
			return c, fmt.Errorf("%w: [config]: unknown node config key %q (see node/config.toml)", ErrManifest, und[0].String())
		}
	}
	c.Provider.Sell = n.Sell
	if v := pickInt(g.Slots, d.Slots); v != 0 {
		c.Provider.Slots = v
	}
	if v := pickInt64(g.PriceBase, d.PriceBase); v != 0 {
		c.Provider.Pricing.Base = v
	}
	if v := pickInt64(g.PerSecond, d.PerSecond); v != 0 {
		c.Provider.Pricing.PerSecond = v
	}
	if v := pickInt64(g.Budget, d.Budget); v != 0 {
		c.Settlement.OperatorBudget = v
	}
	mis := g.Misbehave
	if mis.zero() {
		mis = d.Misbehave
	}
	c.Misbehave = node.MisbehaveConfig{WrongOutputRate: mis.WrongOutputRate, DropRate: mis.DropRate,
		Slowness: mis.Slowness, FalseStart: mis.FalseStart}
	if !slices.Contains(c.Provider.Capabilities, string(market.RuntimeWasm)) {
		c.Provider.Capabilities = append(c.Provider.Capabilities, string(market.RuntimeWasm))
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("%w: node %s: %v", ErrManifest, n.Name, err)
	}
	return c, nil
}

// subnets are the testnet's shared subnets, for every node's whitelist.
func subnets(t *Testnet) []string {
	var out []string
	for _, n := range t.Networks {
		if !n.Unshared {
			out = append(out, n.Subnet)
		}
	}
	return out
}

// operators hands out address blocks (/24s of an unshared network) in
// the order nodes resolve: one per operator, one per node without one.
type operators struct {
	block map[string]int // operator → its block
	nodes map[string]int // operator → nodes placed in its block
}

// place is the block of a node and its place in that block.
func (o *operators) place(operator, node string) (block, inBlock int) {
	if o.block == nil {
		o.block, o.nodes = map[string]int{}, map[string]int{}
	}
	key := "operator/" + operator
	if operator == "" {
		key = "node/" + node
	}
	b, ok := o.block[key]
	if !ok {
		b = len(o.block)
		o.block[key] = b
	}
	k := o.nodes[key]
	o.nodes[key]++
	return b, k
}

// blockAddr is the k-th address of block b in p: the (b+1)-th /24 of p
// (the first holds the gateway), .10 upwards.
func blockAddr(p netip.Prefix, b, k int) (netip.Addr, error) {
	a := p.Addr().As4()
	base := binary.BigEndian.Uint32(a[:])
	blocks := 1 << (24 - p.Bits())
	if b+1 >= blocks {
		return netip.Addr{}, fmt.Errorf("subnet %s has room for %d operators' /24s, need %d: use a wider subnet", p, blocks-1, b+1)
	}
	if 10+k > 254 {
		return netip.Addr{}, fmt.Errorf("an operator's /24 holds 245 nodes, not %d: split the group's operators", k+1)
	}
	binary.BigEndian.PutUint32(a[:], base+uint32(b+1)<<8+uint32(10+k))
	return netip.AddrFrom4(a), nil
}

// hostAddr is the i-th node's address in p: .10 upwards, so the gateway
// (.1) and Docker's own picks stay clear.
func hostAddr(p netip.Prefix, i int) (netip.Addr, error) {
	a := p.Addr().As4()
	base := binary.BigEndian.Uint32(a[:])
	size := uint32(1) << (32 - p.Bits())
	off := uint32(10 + i)
	if off >= size-1 {
		return netip.Addr{}, fmt.Errorf("subnet %s has room for %d nodes, need %d: use a wider subnet", p, size-11, i+1)
	}
	binary.BigEndian.PutUint32(a[:], base+off)
	return netip.AddrFrom4(a), nil
}

// seededKey derives a node's Ed25519 identity from the seed and its name,
// so a manifest always gives the same peer IDs.
func seededKey(seed int64, name string) ([]byte, string, error) {
	h := sha256.Sum256(fmt.Appendf(nil, "hayek/testnet/v1/%d/%s", seed, name))
	b, id, err := node.SeededIdentity(h)
	if err != nil {
		return nil, "", fmt.Errorf("testnet: key of %s: %w", name, err)
	}
	return b, id, nil
}

// Node returns the node called name.
func (t *Testnet) Node(name string) (*Node, error) {
	for _, n := range t.Nodes {
		if n.Name == name {
			return n, nil
		}
	}
	return nil, fmt.Errorf("testnet: no node %q in %s (hayek testnet setup lists them)", name, t.Name)
}

// Select resolves a selector: a node name, a group name, tag:NAME, or a
// comma-separated list of those.
func (t *Testnet) Select(sel string) ([]*Node, error) {
	var out []*Node
	for _, s := range strings.Split(sel, ",") {
		s = strings.TrimSpace(s)
		tag, isTag := strings.CutPrefix(s, "tag:")
		found := false
		for _, n := range t.Nodes {
			if (!isTag && (n.Name == s || n.Group == s)) || (isTag && n.Has(tag)) {
				if !slices.Contains(out, n) {
					out = append(out, n)
				}
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("testnet: %q names no node of %s: give node or group names, or tag:NAME", s, t.Name)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("testnet: empty selector")
	}
	return out, nil
}

// PeerName maps peer IDs to node names, for reports.
func (t *Testnet) PeerName() map[string]string {
	m := map[string]string{}
	for _, n := range t.Nodes {
		m[n.PeerID] = n.Name
	}
	return m
}

func pick(a, b, def string) string {
	if a != "" {
		return a
	}
	if b != "" {
		return b
	}
	return def
}

func pickBool(a, b *bool, def bool) bool {
	if a != nil {
		return *a
	}
	if b != nil {
		return *b
	}
	return def
}

func pickInt(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

func pickInt64(a, b int64) int64 {
	if a != 0 {
		return a
	}
	return b
}

func pickSize(a, b units.Size) units.Size {
	if a != 0 {
		return a
	}
	return b
}
