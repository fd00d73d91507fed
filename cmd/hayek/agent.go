package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/node/api"
)

// This file holds the agent parent command and what its subcommands share.

func newAgentCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "agent",
		Short: "Manage the agents allowed to spend through this node",
		Long: `Agents are programs (AI agents, batch jobs) that submit jobs through this
node with a bearer token and a budget they cannot exceed. The operator — whoever
uses the operator socket <home>/hayek.sock without a token — creates, funds and
revokes them; an agent reads its own account with hayek agent show me.

An agent passes its token with --token or HAYEK_TOKEN. Agents running as the
node's own Unix user can read the node's key and operator socket, so they are
trusted: the budget is a real boundary only for agents under another user,
who connect to the agent socket <home>/agent.sock (mode 0660, group set in the
node's config).`,
		Example: `  export HAYEK_TOKEN=$(hayek agent create crawler --budget 50000 --approve-above 2000 --rate 100/hour)
  hayek agent list
  hayek agent fund crawler 10000
  hayek agent policy crawler --deny 12D3KooW... --min-rep 0.6
  hayek agent revoke crawler`,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unknown command %q for hayek agent\nTry: hayek agent --help", args[0])
			}
			return c.Help()
		},
	}
	c.AddCommand(newAgentCreateCmd(g), newAgentListCmd(g), newAgentShowCmd(g), newAgentFundCmd(g), newAgentRevokeCmd(g), newAgentPolicyCmd(g))
	return c
}

// nameArgs requires exactly n positional arguments, named in use.
func nameArgs(n int, use string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErrorf("%s takes %s, got %d arguments\nTry: %s --help", c.CommandPath(), use, len(args), c.CommandPath())
		}
		return nil
	}
}

// accessHint adds what to do to err when it is about tokens and
// permissions (e is the API error in its chain).
func accessHint(err error, e *api.Error) error {
	switch e.Code {
	case api.CodeUnauthorized:
		return fmt.Errorf("%w\nTry: pass an agent's token with --token or HAYEK_TOKEN (the operator creates one: hayek agent create NAME --budget N)", err)
	case api.CodeForbidden:
		return fmt.Errorf("%w\nTry: run it as the node's operator, on the operator socket without --token or HAYEK_TOKEN", err)
	}
	return err
}

// parseRate reads --rate: N/hour, N/h or a bare N jobs per hour.
func parseRate(s string) (int64, error) {
	n, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	if ok {
		switch strings.ToLower(strings.TrimSpace(unit)) {
		case "hour", "h", "hr":
		default:
			return 0, fmt.Errorf("--rate %q: the period must be an hour: N/hour, N/h or N", s)
		}
	}
	v, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("--rate %q: want a whole number of jobs per hour ≥ 0, as N/hour, N/h or N", s)
	}
	return v, nil
}

// amountArg reads an AMOUNT argument: a positive whole number of the
// ledger's smallest unit.
func amountArg(s string) (int64, error) {
	if v, err := strconv.ParseInt(s, 10, 64); err == nil && v > 0 {
		return v, nil
	}
	if v, err := strconv.ParseFloat(s, 64); err == nil && v <= 0 {
		return 0, fmt.Errorf("AMOUNT %s: amounts must be positive, in whole numbers of the ledger's smallest unit", s)
	}
	return 0, fmt.Errorf("AMOUNT %q: want a whole number of the ledger's smallest unit", s)
}

// amountFlagError is the flag error handler of a command that takes an
// AMOUNT: a negative amount such as -5 reaches the flag parser first, as
// an unknown flag, and is reported as the amount it is, with try.
func amountFlagError(try string) func(*cobra.Command, error) error {
	return func(c *cobra.Command, err error) error {
		_, arg, _ := strings.Cut(err.Error(), "unknown shorthand flag: ")
		_, arg, _ = strings.Cut(arg, " in ")
		if _, perr := strconv.ParseFloat(arg, 64); perr == nil && strings.HasPrefix(arg, "-") {
			_, aerr := amountArg(arg)
			return usageErrorf("%v\nTry: %s", aerr, try)
		}
		return usageErrorf("%v\nTry: %s --help", err, c.CommandPath())
	}
}

// limitText renders an agent limit where 0 means none.
func limitText(v int64, unit string) string {
	if v == 0 {
		return "none"
	}
	return strconv.FormatInt(v, 10) + unit
}

// agentError is clientError with where to look for an agent that does not
// exist.
func agentError(err error) error {
	if isCode(err, api.CodeNotFound) {
		return withCode(ExitNotFound, tryHint(err, "hayek agent list"))
	}
	return clientError(err)
}

// agentStatus is an agent's status in a table row.
func agentStatus(a api.Agent) string {
	if a.Revoked {
		return "revoked"
	}
	return "active"
}

// printAgent writes one agent's account for a human.
func printAgent(w io.Writer, a api.Agent) error {
	t := newTable(w)
	status := "active"
	if a.Revoked {
		status = "REVOKED"
	}
	fmt.Fprintf(t, "agent\t%s\n", a.Name)
	fmt.Fprintf(t, "status\t%s\n", status)
	fmt.Fprintf(t, "budget left\t%d\n", a.BudgetLeft)
	fmt.Fprintf(t, "held\t%d\t(set aside for jobs under way)\n", a.Held)
	fmt.Fprintf(t, "spent\t%d\n", a.Spent)
	fmt.Fprintf(t, "funded\t%d\n", a.Funded)
	fmt.Fprintf(t, "max job price\t%s\n", limitText(a.MaxJobPrice, ""))
	fmt.Fprintf(t, "approval above\t%s\n", limitText(a.ApproveAbove, ""))
	rate := limitText(a.RatePerHour, "/hour")
	if a.RatePerHour > 0 {
		rate += fmt.Sprintf(" (%d in the last hour)", a.JobsLastHour)
	}
	fmt.Fprintf(t, "rate\t%s\n", rate)
	if a.Policy != nil {
		fmt.Fprintf(t, "policy\t%s\n", policyLine(*a.Policy))
	}
	return t.Flush()
}

// isCode reports whether err is an API error with code.
func isCode(err error, code string) bool {
	var e *api.Error
	return errors.As(err, &e) && e.Code == code
}
