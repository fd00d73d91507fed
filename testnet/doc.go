// Package testnet runs hayek nodes as real containers on private Docker
// networks, for researchers: a TOML manifest resolves deterministically
// (keys and addresses from a seed) into a Testnet, which renders a
// docker-compose.yml and one home per node; the runner's stages (Up, Wait,
// Load, perturbations, Check, Down) each work alone, so `hayek testnet`
// exposes each as a subcommand and Run chains them into a scenario.
//
// Driving: every stage takes a context and waits for a condition (a node's
// API answering, every node seeing the offers, every job terminal) with the
// context's deadline, never a fixed sleep. The host reaches each node's
// operator socket through its bind-mounted home, so the nodes' containers
// run as the host user (homes 0700, sockets 0600, as the node demands).
//
// Docker is reached through the docker command-line tool and Compose
// (FindCompose: the docker compose plugin, v2 or later, else
// docker-compose 1.29); the compose file works with both. Every
// container, network and volume carries the label hayek.testnet=<name>;
// Down removes by that label.
//
// Networks are shared by default: every node whitelists their subnets
// (gossip.whitelist), so it reads no cohort (reputation.JudgeCheck) from
// them. A network with shared = false is left out and gives each
// operator (NodeGroup.Operator, else each node) a /24 of its own, so a
// scenario can put a sybil flood in one provider's address block.
//
// Before load the wait stage warms the net: one job per requester, and
// with a scenario's warm_up = "providers" every module of the job mix once
// on every provider (WarmUpPlan, pinned by placement), so a scale run
// measures a warm market rather than cold compiles on shared cores. The
// report leaves warm-up jobs out of its latencies.
//
// Report works on collected files only (ledger exports, job timelines,
// reputation samples, the perturbation log, each node's counters from GET
// /v1/metrics), so it is tested with crafted inputs and no Docker.
package testnet
