package node

import (
	"bufio"
	"crypto/rand"
	"fmt"
	"io/fs"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/hayek-market/hayek/internal/canon"
	"github.com/hayek-market/hayek/internal/samples"
	"github.com/hayek-market/hayek/market"
	"github.com/hayek-market/hayek/node/api"
	"github.com/hayek-market/hayek/node/internal/wire"
	"github.com/hayek-market/hayek/reputation"
)

// TestStalledStreamsDoNotStarve: ten identities open hundreds of streams
// each to a requester on the data, result and bid protocols and stall
// after the first byte of a frame. Each is cut to its small per-peer share
// and every stalled stream ends at the request deadline, so an honest job
// — whose provider must fetch its module and input from that requester —
// runs, and nothing is recorded against the honest provider.
func TestStalledStreamsDoNotStarve(t *testing.T) {
	d := startDevnet(t, 2, nil)
	ctx := t.Context()
	target := d.Nodes[0]
	var mu sync.Mutex
	var held []network.Stream
	defer func() {
		for _, st := range held {
			st.Reset()
		}
	}()
	opened := 0
	for i := 0; i < 10; i++ {
		r := newRogue(t, target)
		for _, proto := range []protocol.ID{ProtoData, ProtoResult, ProtoBid} {
			for k := 0; k < 256; k++ {
				st, err := r.h.NewStream(ctx, target.host.ID(), proto)
				if err != nil {
					continue // the resource manager said no: fine
				}
				// The first byte of a frame length, and then nothing.
				if _, err := st.Write([]byte{0x80}); err != nil {
					st.Reset()
					continue
				}
				mu.Lock()
				held = append(held, st)
				mu.Unlock()
				opened++
			}
		}
	}
	waitFor(t, 10*time.Second, "the node to cut each stalling peer to its share", func() bool {
		return target.Drops()["data/peer_streams"] > 0
	})
	c := api.NewClient(d.Sockets[0])
	toolbox, err := c.PutBlobBytes(ctx, samples.Toolbox)
	if err != nil {
		t.Fatal(err)
	}
	job, err := c.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{CID: toolbox.CID}, Args: []string{"wc", "/in/a.txt"},
		Inputs: []api.InputRef{{Name: "a.txt", BlobRef: api.BlobRef{Text: "one two\n"}}}, MaxPrice: 500})
	if err != nil {
		t.Fatal(err)
	}
	if job = wait(t, c, job.ID); job.State != api.StateCompleted || job.Status != "ok" {
		t.Fatalf("with %d stalled streams open, the honest job ended %s/%s: %+v", opened, job.State, job.Status, job.Error)
	}
	if got := outcomes(t, target); got[string(reputation.Failure)]+got[string(reputation.Timeout)] > 0 {
		t.Fatalf("evidence against the honest provider: %v", got)
	}
	t.Logf("%d streams opened by 10 rogues; drops %v", opened, target.Drops())
}

// TestStalledRequesterCannotBlockBidding: a flood of calls names one
// requester identity whose address accepts connections and never speaks,
// so every bid to it stalls. The provider gives that requester a few
// workers for one answer timeout, then pauses it; an honest requester's
// jobs keep getting bids from that provider all the while.
func TestStalledRequesterCannotBlockBidding(t *testing.T) {
	d := startDevnet(t, 2, func(i int, c *Config) {
		if i == 0 {
			c.Provider.Sell = false // node-0 only buys: node-1 is the one provider
		}
	})
	ctx := t.Context()
	prov := d.Nodes[1]

	// A listener that accepts TCP connections and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	stalled, _ := wire.NewSigner(key, nil)
	sid, _ := peer.Decode(stalled.ID())
	hole, _ := ma.NewMultiaddr(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", ln.Addr().(*net.TCPAddr).Port))
	prov.host.Peerstore().AddAddr(sid, hole, time.Hour)

	r := newRogue(t, prov)
	topic, err := r.ps.Join(market.RuntimeWasm.Topic())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the rogue to see the provider on the topic", func() bool { return len(topic.ListPeers()) > 0 })
	sent := 0
	flood := func(n int) {
		for i := 0; i < n; i++ {
			sent++
			call := market.CallForBids{Job: fmt.Sprintf("jstall%d", sent), Attempt: 1, Requester: stalled.ID(),
				Needs: market.Needs{Capabilities: []market.Capability{market.RuntimeWasm}, MemoryBytes: 64 << 20, TimeoutMs: 1000, Module: canon.BlobCID(samples.Hello).String(),
					ModuleBytes: int64(len(samples.Hello)), MaxPrice: 1000},
				Invitees: []string{prov.ID()}, WindowMs: 1000, Created: time.Now().UnixMilli()}
			env, err := canon.Seal(stalled, market.KindCall, call)
			if err != nil {
				t.Fatal(err)
			}
			if err := topic.Publish(ctx, env.Encode()); err != nil {
				t.Fatal(err)
			}
		}
	}
	flood(2000)
	c := api.NewClient(d.Sockets[0])
	for i := 0; i < 5; i++ {
		flood(100)
		job, err := c.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)}, MaxPrice: 500,
			Args: []string{fmt.Sprint(i)}})
		if err != nil {
			t.Fatal(err)
		}
		if job = wait(t, c, job.ID); job.State != api.StateCompleted || len(job.Attempts) != 1 || job.Attempts[0].Silent != nil {
			t.Fatalf("honest job %d during the flood: %s after %d auctions (%+v)", i, job.State, len(job.Attempts), job.Error)
		}
	}
	if prov.Drops()["call/requester_busy"] == 0 {
		t.Fatalf("provider drops %v: want calls naming the stalled requester turned away", prov.Drops())
	}
	t.Logf("provider drops: %v", prov.Drops())
}

// countBlobs counts the blob files in a node's store.
func countBlobs(t *testing.T, n *Node) int {
	t.Helper()
	count := 0
	err := filepath.WalkDir(n.blobs.Dir(), func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() && filepath.Base(filepath.Dir(p)) != "tmp" {
			count++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return count
}

// TestWinnerCannotFillTheDisk: a winner that sends fifty result frames
// for its award, each padded with inline blobs its signed result does not
// name, leaves nothing on disk: inline blobs are kept only when named, and
// one award gets one result.
func TestWinnerCannotFillTheDisk(t *testing.T) {
	d := startDevnet(t, 1, nil)
	n := d.Nodes[0]
	r := newRogue(t, n)
	// White box: the rogue holds the award of a job that never started.
	spec := market.JobSpec{Module: market.Blob{CID: canon.BlobCID(samples.Hello).String(), Size: int64(len(samples.Hello))}, MaxPrice: 100}
	spec.Defaults()
	const job = "jdisk"
	n.requester.AwardForTest(job, spec, r.h.ID().String())

	before := countBlobs(t, n)
	out := []byte("the real stdout")
	for i := 0; i < 50; i++ {
		res := market.Result{Job: job, Attempt: 1, Award: "bafy-award", Provider: r.h.ID().String(), Requester: n.ID(),
			Status: market.StatusOK, Stdout: market.Stream{Blob: market.Blob{CID: canon.BlobCID(out).String(), Size: int64(len(out))}},
			Stderr: market.Stream{Blob: market.Blob{CID: canon.BlobCID(nil).String()}}, Created: time.Now().UnixMilli() + int64(i)}
		env, err := canon.Seal(r.sg, market.KindResult, res)
		if err != nil {
			t.Fatal(err)
		}
		del := wire.ResultDelivery{Result: env.Encode()}
		for k := 0; k < 30; k++ {
			junk := make([]byte, 16<<10)
			rand.Read(junk)
			del.Blobs = append(del.Blobs, junk)
		}
		st, err := r.h.NewStream(t.Context(), n.host.ID(), ProtoResult)
		if err != nil {
			t.Fatal(err)
		}
		if err := wire.WriteFrame(st, canon.MustMarshal(del)); err != nil {
			t.Fatal(err)
		}
		st.CloseWrite()
		wire.ReadFrame(bufio.NewReader(st), 4<<10) // the reply
		st.Close()
	}
	drops := n.Drops()
	if drops["result/unnamed_blob"] != 30 || drops["result/second"] != 49 {
		t.Errorf("drops %v: want 30 unnamed blobs (first frame) and 49 second results", drops)
	}
	if after := countBlobs(t, n); after != before {
		t.Fatalf("blob store went from %d to %d files", before, after)
	}
}
