package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/node/api"
)

// Exit codes shared by every command, so scripts can tell outcomes apart.
// exitCodesHelp documents them; README.md lists them too.
const (
	ExitOK          = 0 // done; for job commands: the job completed with exit code 0
	ExitFailed      = 1 // the job ran and failed, or the command failed
	ExitUsage       = 2 // the command line was wrong
	ExitNotRun      = 3 // the job could not be run (no bids, refused by the budget, node down)
	ExitNotFound    = 4 // no such job, agent or peer
	ExitNotFinished = 5 // the job has not finished: there is no result yet
	ExitDenied      = 6 // the token is missing, unknown or revoked, or the caller may not do this
)

// exitCodesHelp is the table of exit codes that hayek --help and the job
// commands' help show.
const exitCodesHelp = `Exit codes:
  0  done; for a job: it completed with exit code 0
  1  the job ran and failed (non-zero exit, trap, time, memory or output
     limit), or the command failed
  2  the command line was wrong
  3  the job could not be run (no provider, no bids, cancelled, rejected,
     refused by the agent's budget or limits), or the node cannot be reached
  4  not found: no such job, agent or peer
  5  not finished: the job has no result yet (hayek job watch ID waits)
  6  refused: the token is missing, unknown or revoked, or the command is
     the operator's (run it without a token, on the operator socket)`

// Streams are the process's standard streams and environment, injected so
// the whole CLI runs in-process in tests.
type Streams struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

// exitError carries an exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// withCode wraps err so the command exits with code.
func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// usageErrorf is a command-line mistake: exit 2 with a hint.
func usageErrorf(format string, args ...any) error {
	return withCode(ExitUsage, fmt.Errorf(format, args...))
}

// globals are the flags and streams every command sees.
type globals struct {
	Streams
	home   string
	socket string
	token  string
}

// homeDir resolves --home, $HAYEK_HOME, then ~/.hayek.
func (g *globals) homeDir() (string, error) {
	if g.home != "" {
		return filepath.Abs(g.home)
	}
	if h := g.Getenv("HAYEK_HOME"); h != "" {
		return filepath.Abs(h)
	}
	u, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot find your home directory (%v); pass --home DIR or set HAYEK_HOME", err)
	}
	return filepath.Join(u, ".hayek"), nil
}

// socketPath resolves --socket, $HAYEK_SOCKET, then <home>/hayek.sock.
func (g *globals) socketPath() (string, error) {
	if g.socket != "" {
		return g.socket, nil
	}
	if s := g.Getenv("HAYEK_SOCKET"); s != "" {
		return s, nil
	}
	home, err := g.homeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, "hayek.sock"), nil
}

// tokenValue resolves --token, then $HAYEK_TOKEN; "" acts as the operator.
func (g *globals) tokenValue() string {
	if g.token != "" {
		return g.token
	}
	return strings.TrimSpace(g.Getenv("HAYEK_TOKEN"))
}

// client connects to the local node's socket, as the agent of the token
// if one is given.
func (g *globals) client() (*api.Client, error) {
	p, err := g.socketPath()
	if err != nil {
		return nil, err
	}
	return api.NewClient(p, api.WithToken(g.tokenValue())), nil
}

// commandGroup is a heading of hayek --help and the commands under it.
type commandGroup struct {
	id, title string
	commands  []*cobra.Command
}

// commands are every top-level command, by group: the one list to read to
// know what hayek does, and the one place a new command is added.
func commands(g *globals) []commandGroup {
	return []commandGroup{
		{"node", "Run nodes:", []*cobra.Command{
			newInitCmd(g), newServeCmd(g), newDevnetCmd(g), newDemoCmd(g), newBenchCmd(g), newSimCmd(g)}},
		{"client", "Use a running node:", []*cobra.Command{
			newJobCmd(g), newOffersCmd(g), newPeersCmd(g), newStatusCmd(g), newMetricsCmd(g), newMCPCmd(g)}},
		{"research", "Research:", []*cobra.Command{newTestnetCmd(g)}},
		{"money", "Agents, money and trust:", []*cobra.Command{
			newAgentCmd(g), newLedgerCmd(g), newRepCmd(g), newAuditCmd(g)}},
		{"", "", []*cobra.Command{newVersionCmd(g)}}, // beside help and completion
	}
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "hayek",
		Short:         "A peer-to-peer compute market",
		Long:          "hayek runs a node of a peer-to-peer compute market and is the client of a running node.\n\nStart with: hayek demo\n\n" + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.Version = versionLine(debug.ReadBuildInfo())
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetIn(g.Stdin)
	root.SetOut(g.Stdout)
	root.SetErr(g.Stderr)
	root.PersistentFlags().StringVar(&g.home, "home", "", "node home directory (env HAYEK_HOME, default ~/.hayek)")
	root.PersistentFlags().StringVar(&g.socket, "socket", "", "node socket for client commands (env HAYEK_SOCKET, default <home>/hayek.sock; agents under another user: the node's agent.sock)")
	root.PersistentFlags().StringVar(&g.token, "token", "", "act as the agent of this token, from hayek agent create (env HAYEK_TOKEN, which other users cannot see in ps; default: none, the operator)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErrorf("%v\nTry: %s --help", err, c.CommandPath())
	})
	for _, grp := range commands(g) {
		if grp.id != "" {
			root.AddGroup(&cobra.Group{ID: grp.id, Title: grp.title})
		}
		for _, c := range grp.commands {
			c.GroupID = grp.id
			root.AddCommand(c)
		}
	}
	return root
}

// Run runs the CLI with args and returns the process exit code.
func Run(ctx context.Context, args []string, s Streams) int {
	if s.Getenv == nil {
		s.Getenv = func(string) string { return "" }
	}
	g := &globals{Streams: s}
	root := newRoot(g)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	code := ExitFailed
	if errors.As(err, &ee) {
		code = ee.code
	} else if isUsageError(err) {
		code = ExitUsage
		err = fmt.Errorf("%v\nTry: hayek --help", err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "hayek") {
		msg = "hayek: " + msg
	}
	fmt.Fprintln(s.Stderr, msg)
	return code
}

// isUsageError recognises cobra's own argument errors.
func isUsageError(err error) bool {
	m := err.Error()
	return strings.HasPrefix(m, "unknown command") || strings.HasPrefix(m, "accepts ") ||
		strings.HasPrefix(m, "requires ") || strings.Contains(m, "unknown flag") ||
		strings.HasPrefix(m, "invalid argument")
}
