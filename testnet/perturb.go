package testnet

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Perturbation actions.
const (
	ActKill       = "kill"       // SIGKILL the node's process (its container stops)
	ActPause      = "pause"      // freeze the container (docker pause)
	ActResume     = "resume"     // thaw it
	ActRestart    = "restart"    // start it again (after kill), or restart it gracefully
	ActStop       = "stop"       // stop gracefully (SIGTERM, drain)
	ActDisconnect = "disconnect" // take it off every network
	ActConnect    = "connect"    // put it back on its networks
	ActPartition  = "partition"
	ActHeal       = "heal"
)

// PerturbActions are the actions Perturb takes for single nodes.
var PerturbActions = []string{ActKill, ActPause, ActResume, ActRestart, ActStop, ActDisconnect, ActConnect}

// Perturbation is one fault injected, as perturbations.jsonl records it
// (reports mark them on the timeline).
type Perturbation struct {
	Time   time.Time `json:"time"`
	Action string    `json:"action"`
	Nodes  []string  `json:"nodes,omitempty"`
	Other  []string  `json:"other,omitempty"` // partition: the other side
}

const perturbLog = "perturbations.jsonl"

func (r *Runner) record(p Perturbation) {
	if p.Time.IsZero() {
		p.Time = time.Now().UTC()
	}
	b, _ := json.Marshal(p)
	f, err := os.OpenFile(filepath.Join(r.T.Dir, perturbLog), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		r.logf("perturb: cannot record %s: %v", p.Action, err)
		return
	}
	defer f.Close()
	f.Write(append(b, '\n'))
}

// Perturb applies action to the nodes sel selects. restart and connect
// return once the nodes' APIs answer again.
func (r *Runner) Perturb(ctx context.Context, action, sel string) error {
	nodes, err := r.T.Select(sel)
	if err != nil {
		return err
	}
	var names []string
	for _, n := range nodes {
		names = append(names, n.Name)
		var err error
		switch action {
		case ActKill:
			_, err = docker(ctx, "kill", "--signal", "KILL", n.Container)
		case ActPause:
			_, err = docker(ctx, "pause", n.Container)
		case ActResume:
			_, err = docker(ctx, "unpause", n.Container)
		case ActRestart:
			_, err = docker(ctx, "restart", "-t", "10", n.Container)
		case ActStop:
			_, err = docker(ctx, "stop", "-t", "20", n.Container)
		case ActDisconnect:
			err = r.disconnect(ctx, n, nil)
		case ActConnect:
			err = r.connect(ctx, n)
		default:
			return fmt.Errorf("testnet: unknown perturbation %q: want one of %s", action, strings.Join(PerturbActions, ", "))
		}
		if err != nil {
			return fmt.Errorf("testnet: %s %s: %w", action, n.Name, err)
		}
	}
	r.record(Perturbation{Action: action, Nodes: names})
	r.logf("perturb: %s %s", action, strings.Join(names, ","))
	if action == ActRestart {
		return r.WaitAPI(ctx, nodes...)
	}
	return nil
}

// Partition splits the net: side a keeps only the testnet's first network,
// side b only its second, so no packet crosses between them. Nodes on
// neither side keep both and still bridge: the command says so.
func (r *Runner) Partition(ctx context.Context, selA, selB string) error {
	if len(r.T.Networks) < 2 {
		return fmt.Errorf("testnet: a partition needs two networks; %s has %d (add a second [[network]] to the manifest)", r.T.Name, len(r.T.Networks))
	}
	a, err := r.T.Select(selA)
	if err != nil {
		return err
	}
	b, err := r.T.Select(selB)
	if err != nil {
		return err
	}
	for _, n := range a {
		if slices.Contains(b, n) {
			return fmt.Errorf("testnet: node %s is on both sides of the partition", n.Name)
		}
	}
	keepA, keepB := r.T.Networks[0].Name, r.T.Networks[1].Name
	for _, side := range []struct {
		nodes []*Node
		keep  string
	}{{a, keepA}, {b, keepB}} {
		for _, n := range side.nodes {
			if !slices.ContainsFunc(n.Addrs, func(ad NodeAddr) bool { return ad.Network == side.keep }) {
				return fmt.Errorf("testnet: node %s is not on network %s, which its side keeps", n.Name, side.keep)
			}
			if err := r.disconnect(ctx, n, []string{side.keep}); err != nil {
				return fmt.Errorf("testnet: partition: %s: %w", n.Name, err)
			}
		}
	}
	var bridging []string
	for _, n := range r.T.Nodes {
		if !slices.Contains(a, n) && !slices.Contains(b, n) && len(n.Addrs) > 1 {
			bridging = append(bridging, n.Name)
		}
	}
	if len(bridging) > 0 {
		r.logf("partition: warning: %s on neither side still bridge the two", strings.Join(bridging, ","))
	}
	r.record(Perturbation{Action: ActPartition, Nodes: names(a), Other: names(b)})
	r.logf("partition: %s | %s", strings.Join(names(a), ","), strings.Join(names(b), ","))
	return nil
}

// Heal puts every node back on every network of the manifest and resumes
// paused ones.
func (r *Runner) Heal(ctx context.Context) error {
	for _, n := range r.T.Nodes {
		if err := r.connect(ctx, n); err != nil {
			return fmt.Errorf("testnet: heal: %s: %w", n.Name, err)
		}
	}
	r.record(Perturbation{Action: ActHeal})
	r.logf("heal: every node is on all its networks")
	return nil
}

func names(ns []*Node) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Name)
	}
	return out
}

// attached lists the Docker networks the container is on now.
func (r *Runner) attached(ctx context.Context, n *Node) ([]string, error) {
	out, err := docker(ctx, "inspect", "--format", "{{json .NetworkSettings.Networks}}", n.Container)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		return nil, fmt.Errorf("docker inspect %s: %w", n.Container, err)
	}
	var nets []string
	for k := range m {
		nets = append(nets, k)
	}
	return nets, nil
}

// disconnect takes n off every network of the testnet but those in keep.
func (r *Runner) disconnect(ctx context.Context, n *Node, keep []string) error {
	now, err := r.attached(ctx, n)
	if err != nil {
		return err
	}
	for _, net := range r.T.Networks {
		if slices.Contains(keep, net.Name) || !slices.Contains(now, net.Docker) {
			continue
		}
		if _, err := docker(ctx, "network", "disconnect", "--force", net.Docker, n.Container); err != nil {
			return err
		}
	}
	return nil
}

// connect puts n back on each of its networks, at its fixed address.
func (r *Runner) connect(ctx context.Context, n *Node) error {
	now, err := r.attached(ctx, n)
	if err != nil {
		return err
	}
	for _, ad := range n.Addrs {
		net := r.T.Network(ad.Network)
		if slices.Contains(now, net.Docker) {
			continue
		}
		if _, err := docker(ctx, "network", "connect", "--ip", ad.IP, net.Docker, n.Container); err != nil {
			return err
		}
	}
	return nil
}

// Network is the network the manifest calls name.
func (t *Testnet) Network(name string) NetworkRes {
	for _, n := range t.Networks {
		if n.Name == name {
			return n
		}
	}
	return NetworkRes{}
}
