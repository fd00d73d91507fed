package main

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/node/api"
)

// This file holds what shell completion (hayek completion bash|zsh|fish)
// offers: job IDs, agent names and peer IDs asked of the node, and the
// fixed values of --state and --kind. A node that cannot be reached
// completes nothing, quietly.

const noFiles = cobra.ShellCompDirectiveNoFileComp

// completeJobs completes a command's one job ID with this node's jobs,
// newest first, each described by its state; only jobs in state, if set.
func completeJobs(g *globals, state api.JobState) cobra.CompletionFunc {
	return func(c *cobra.Command, args []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, noFiles
		}
		jobs, err := ask(c, g, func(cl *api.Client, ctx context.Context) ([]api.Job, error) {
			return cl.Jobs(ctx, api.JobFilter{State: state, Limit: api.DefaultJobsLimit})
		})
		if err != nil {
			return nil, noFiles
		}
		var out []cobra.Completion
		for _, j := range jobs {
			if strings.HasPrefix(j.ID, prefix) {
				out = append(out, cobra.CompletionWithDesc(j.ID, string(j.State)))
			}
		}
		return out, noFiles | cobra.ShellCompDirectiveKeepOrder
	}
}

// completeAgents completes a command's first argument with the agents'
// names (the operator's business: an agent completes nothing).
func completeAgents(g *globals) cobra.CompletionFunc {
	return func(c *cobra.Command, args []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, noFiles
		}
		agents, err := ask(c, g, (*api.Client).Agents)
		if err != nil {
			return nil, noFiles
		}
		var out []cobra.Completion
		for _, a := range agents {
			if strings.HasPrefix(a.Name, prefix) {
				out = append(out, a.Name)
			}
		}
		return out, noFiles
	}
}

// completePeers completes a peer ID, the command's argument number at (or
// a flag's value, with at -1), with the whole IDs of the peers the node
// knows, described by their short form.
func completePeers(g *globals, at int) cobra.CompletionFunc {
	return func(c *cobra.Command, args []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if at >= 0 && len(args) != at {
			return nil, noFiles
		}
		known, err := ask(c, g, func(cl *api.Client, ctx context.Context) ([]string, error) { return knownPeers(ctx, cl) })
		if err != nil {
			return nil, noFiles
		}
		var out []cobra.Completion
		for _, id := range known {
			if strings.HasPrefix(id, prefix) { // shells keep only what starts so
				out = append(out, cobra.CompletionWithDesc(id, shortPeer(id)))
			}
		}
		return out, noFiles
	}
}

// completeFixed completes a flag's value from a fixed list.
func completeFixed[T ~string](values []T) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		out := make([]cobra.Completion, len(values))
		for i, v := range values {
			out[i] = string(v)
		}
		return out, noFiles
	}
}
