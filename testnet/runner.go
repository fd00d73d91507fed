package testnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hayek-market/hayek/node/api"
)

// Runner drives a testnet that Setup wrote. Its methods are the stages of
// hayek testnet; each works alone and waits on a condition, bounded by its
// context, never for a fixed time.
type Runner struct {
	T   *Testnet
	Log io.Writer // progress, one line per step
	// NoDocker: the nodes are a devnet in this process, not containers.
	NoDocker bool

	composeCmd ComposeCmd // found by the first compose call

	jobsMu    sync.Mutex // appends to jobs.jsonl from concurrent warm-up jobs
	agentsMu  sync.Mutex
	nextAgent map[string]int // requester → its agent for the next job
}

// NewRunner opens the testnet in dir.
func NewRunner(dir string, log io.Writer) (*Runner, error) {
	t, err := Open(dir)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = io.Discard
	}
	return &Runner{T: t, Log: log}, nil
}

func (r *Runner) logf(format string, args ...any) {
	fmt.Fprintf(r.Log, "%s "+format+"\n", append([]any{time.Now().UTC().Format("15:04:05.000")}, args...)...)
}

// Client is the API client of a node, through its bind-mounted socket.
func (r *Runner) Client(n *Node) *api.Client {
	return api.NewClient(r.T.Socket(n), api.WithUserAgent("hayek-testnet"))
}

// ErrNoImage is returned by Up when the node image is missing.
var ErrNoImage = errors.New("testnet: node image missing")

// Up creates the networks and starts every container, then waits until
// every node's API answers.
func (r *Runner) Up(ctx context.Context) error {
	if err := DockerAvailable(ctx); err != nil {
		return err
	}
	if _, err := docker(ctx, "image", "inspect", "--format", "{{.Id}}", r.T.Image); err != nil {
		return fmt.Errorf("%w: %s; build it (no registry needed) with: scripts/testnet-image %s", ErrNoImage, r.T.Image, r.T.Image)
	}
	if _, err := r.composeCommand(ctx); err != nil {
		return err
	}
	if err := r.T.checkARP(); err != nil {
		return err
	}
	if err := r.T.checkNetworks(ctx); err != nil {
		return err
	}
	r.logf("up: starting %d containers of %s", len(r.T.Nodes), r.T.Name)
	if _, err := r.compose(ctx, "up", "-d", "--no-build"); err != nil {
		return fmt.Errorf("testnet: up: %w\nTo inspect: docker ps -a --filter label=%s=%s; to remove: hayek testnet down --dir %s", err, LabelKey, r.T.Name, r.T.Dir)
	}
	r.record(Perturbation{Action: "up"})
	return r.WaitAPI(ctx, r.T.Nodes...)
}

// WaitAPI waits until each node's API answers with its expected peer ID.
func (r *Runner) WaitAPI(ctx context.Context, nodes ...*Node) error {
	for _, n := range nodes {
		err := poll(ctx, 100*time.Millisecond, func() (bool, error) {
			st, err := r.Client(n).Status(ctx)
			if err != nil {
				return false, nil
			}
			if st.PeerID != n.PeerID {
				return false, fmt.Errorf("testnet: node %s answers as %s, want %s: its home holds another identity", n.Name, st.PeerID, n.PeerID)
			}
			return true, nil
		})
		if err != nil {
			return fmt.Errorf("testnet: node %s's API (%s) did not answer: %w%s", n.Name, r.T.Socket(n), err, r.logsHint(n))
		}
	}
	r.logf("api: %d nodes answer", len(nodes))
	return nil
}

func (r *Runner) logsHint(n *Node) string {
	return fmt.Sprintf("\nIts log: docker logs %s", n.Container)
}

// WaitOffers waits until the net can trade: every node is connected to
// others, then each requester runs one warm-up job (a node looks providers
// up on the DHT only for capabilities its jobs want; the warm-up jobs are
// recorded in jobs.jsonl, marked WarmUp; WarmUpProviders warms the
// providers as well), then every requester (every node,
// with all) holds at least want live offers from other nodes; want < 0
// means every other selling node's, up to maxWantOffers (a DHT lookup
// returns at most 20 providers: a big net is ready well before each node
// knows every offer).
func (r *Runner) WaitOffers(ctx context.Context, want int, all bool) error {
	if err := r.waitPeers(ctx); err != nil {
		return err
	}
	if err := r.warmUp(ctx); err != nil {
		return err
	}
	sellers := 0
	for _, n := range r.T.Nodes {
		if n.Sell {
			sellers++
		}
	}
	for _, n := range r.T.Nodes {
		if !all && !n.Requester {
			continue
		}
		need := want
		if need < 0 {
			need = sellers
			if n.Sell {
				need--
			}
			need = min(need, maxWantOffers)
		}
		var have int
		err := poll(ctx, 250*time.Millisecond, func() (bool, error) {
			offers, err := r.Client(n).Offers(ctx)
			if err != nil {
				return false, nil
			}
			have = 0
			for _, o := range offers {
				if !o.Self && !o.Withdrawn && o.ExpiresAt.After(time.Now()) {
					have++
				}
			}
			return have >= need, nil
		})
		if err != nil {
			return fmt.Errorf("testnet: node %s sees %d offers, want %d: %w (hayek --socket %s offers; peers)", n.Name, have, need, err, r.T.Socket(n))
		}
	}
	r.logf("wait: every requester sees the offers it should")
	return nil
}

const maxWantOffers = 20

// waitPeers waits until every node is connected to at least
// min(others, 4) peers: the bootstrap worked and the DHT can route.
func (r *Runner) waitPeers(ctx context.Context) error {
	need := min(len(r.T.Nodes)-1, 4)
	for _, n := range r.T.Nodes {
		var have int
		err := poll(ctx, 200*time.Millisecond, func() (bool, error) {
			st, err := r.Client(n).Status(ctx)
			if err != nil {
				return false, nil
			}
			have = st.Peers
			return have >= need, nil
		})
		if err != nil {
			return fmt.Errorf("testnet: node %s has %d peers, want %d: %w (is the bootstrap node up? docker logs %s)", n.Name, have, need, err, n.Container)
		}
	}
	r.logf("wait: every node has at least %d peers", need)
	return nil
}

// warmUpMix is the job each requester runs before load.
var warmUpMix = MixEntry{Name: "warmup", Module: "hello", Stdin: "warm-up", Weight: 1, MaxPrice: 1000}

// warmUp runs one warm-up job per requester, until each ends.
func (r *Runner) warmUp(ctx context.Context) error {
	prev, err := ReadJobs(r.T.Dir)
	if err != nil {
		return err
	}
	mods := &moduleCache{cids: map[string]string{}}
	seq := len(prev)
	for _, n := range r.T.Nodes {
		if !n.Requester {
			continue
		}
		rec := JobRecord{Seq: seq, Node: n.Name, Mix: warmUpMix.Name, WarmUp: true, Submitted: time.Now().UTC()}
		seq++
		job, err := r.submit(ctx, n, warmUpMix, rec.Seq, mods, nil, nil)
		if err != nil {
			return fmt.Errorf("testnet: warm-up job on %s: %w", n.Name, err)
		}
		rec.ID = job.ID
		if err := r.appendJob(rec); err != nil {
			return err
		}
		job, err = r.waitJob(ctx, n, job.ID)
		if err != nil {
			return err
		}
		r.logf("wait: warm-up job on %s: %s", n.Name, job.State)
	}
	return nil
}

// Down removes every container, network and volume of the testnet (by
// compose, then by label, so a half-made net goes too) and the nodes'
// homes; with keepHomes the homes (ledgers) stay.
func (r *Runner) Down(ctx context.Context, keepHomes bool) error {
	if err := DockerAvailable(ctx); err != nil {
		return err
	}
	var errs []error
	if err := r.detach(ctx); err != nil {
		r.logf("down: %v", err)
	}
	if _, err := r.compose(ctx, "down", "-v", "--remove-orphans", "-t", "10"); err != nil {
		// The sweep by label below still removes what compose left;
		// say so, or a compose that cannot read the file goes unseen.
		r.logf("down: compose down failed, removing by label: %v", err)
		errs = append(errs, err)
	}
	for _, kind := range []string{"container", "network", "volume"} {
		// A network whose last container is still being removed has
		// "active endpoints" for a moment: try again until it goes.
		var last error
		kctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := poll(kctx, 500*time.Millisecond, func() (bool, error) {
			ids, err := r.T.labelled(kctx, kind)
			if err != nil {
				return false, err
			}
			if len(ids) == 0 {
				return true, nil
			}
			rm := []string{kind, "rm"}
			if kind == "container" {
				rm = []string{"rm", "-f", "-v"}
			}
			_, last = docker(kctx, append(rm, ids...)...)
			return last == nil, nil
		})
		cancel()
		if err != nil {
			errs = append(errs, err, last)
		}
	}
	// Count what is left even when ctx has ended: "removed" must be true.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var left []string
	for _, kind := range []string{"container", "network", "volume"} {
		ids, err := r.T.labelled(cctx, kind)
		if err != nil {
			return fmt.Errorf("testnet: down: cannot tell what is left: %w", err)
		}
		for _, id := range ids {
			left = append(left, kind+" "+id)
		}
	}
	if len(left) > 0 {
		return fmt.Errorf("testnet: down: %s labelled %s=%s remain (%w); a network that \"has active endpoints\" with no container left is stale daemon state, which restarting the Docker daemon clears",
			strings.Join(left, ", "), LabelKey, r.T.Name, errors.Join(errs...))
	}
	if !keepHomes {
		if err := os.RemoveAll(filepath.Join(r.T.Dir, homesDir)); err != nil {
			return fmt.Errorf("testnet: down: %w", err)
		}
		for _, f := range []string{StateFile, ComposeFile, "manifest.toml"} {
			os.Remove(filepath.Join(r.T.Dir, f))
		}
	}
	r.logf("down: %s removed", r.T.Name)
	return nil
}

// detach takes every container off every network of the testnet while
// the containers still exist. Docker Engine 20.10 can leave a network
// with a stale endpoint ("has active endpoints" with no container left,
// until the daemon restarts) when a container that was connected at run
// time (a heal, a second network) is removed while Compose removes the
// network; disconnecting first frees each endpoint through the daemon's
// ordinary path. Seen with Compose v5 on 20- and 50-node nets.
func (r *Runner) detach(ctx context.Context) error {
	nets, err := r.T.labelled(ctx, "network")
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range nets {
		out, err := docker(ctx, "network", "inspect", "-f", "{{range $id, $c := .Containers}}{{$id}} {{end}}", id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, c := range strings.Fields(out) {
			if _, err := docker(ctx, "network", "disconnect", "--force", id, c); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("testnet: detaching containers before compose down: %w", errors.Join(errs...))
	}
	return nil
}

// poll calls cond every interval until it returns true or an error, or ctx
// ends. It is how every stage waits: on a condition, bounded by ctx.
func poll(ctx context.Context, interval time.Duration, cond func() (bool, error)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-t.C:
		}
	}
}
