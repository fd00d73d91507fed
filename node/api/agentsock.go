package api

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
)

// DefaultAgentSocket is the agent socket's file name, beside the operator
// socket (so <home>/agent.sock by default).
const DefaultAgentSocket = "agent.sock"

// agentSocketKey marks the context of requests that came in on the agent
// socket.
type agentSocketKey struct{}

func onAgentSocket(ctx context.Context) bool {
	v, _ := ctx.Value(agentSocketKey{}).(bool)
	return v
}

// WithAgentSocket makes Serve also serve the agent socket, at path ("" for
// agent.sock beside the operator socket), mode 0660. On it every request
// needs an agent token; a request without one is refused with
// CodeUnauthorized. group ("" to keep the group the file gets by default,
// the node user's) names the Unix group — by name or number — whose
// members may connect: the users the node's agents run as. The node's
// user must belong to it. A group that does not exist is an error, and so
// is a backend that does not implement Admin (it has no tokens).
//
// Other users also need to reach the socket: every directory above it
// must be searchable by them (the node's home is 0700 by default). Serve
// logs a warning when the socket's directory is not.
func WithAgentSocket(path, group string) Option {
	return func(s *Server) error {
		perm := sockPerm{mode: 0o660, gid: -1}
		if group != "" {
			gid, err := lookupGroup(group)
			if err != nil {
				return err
			}
			perm.gid, perm.group = gid, group
		}
		s.agent, s.agentPath, s.agentPerm = true, path, perm
		return nil
	}
}

// lookupGroup resolves a group name, or a number, to its gid.
func lookupGroup(group string) (int, error) {
	g, err := user.LookupGroup(group)
	if err != nil {
		var unknown user.UnknownGroupError
		if errors.As(err, &unknown) {
			if gid, nerr := strconv.Atoi(group); nerr == nil && gid >= 0 {
				return gid, nil // a bare gid need not have a name
			}
			return 0, fmt.Errorf("api: the agent socket's group %q does not exist: create it (sudo groupadd %s), add the node's user and the agents' users to it, or configure no group", group, group)
		}
		return 0, fmt.Errorf("api: looking up the agent socket's group %q: %w", group, err)
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return 0, fmt.Errorf("api: group %q has gid %q, not a number", group, g.Gid)
	}
	return gid, nil
}

// warnUnreachable logs when the agent socket's directory cannot be
// entered by the socket's group: then only the node's own user can use it.
func (s *Server) warnUnreachable(ctx context.Context, path string) {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if err != nil {
		return
	}
	dirGID, ok := fileGID(fi)
	if !ok {
		return
	}
	mode := fi.Mode().Perm()
	gid := s.agentPerm.gid
	if gid < 0 {
		gid = os.Getgid()
	}
	if mode&0o001 != 0 || (mode&0o010 != 0 && dirGID == gid) {
		return
	}
	group := s.agentPerm.group
	if group == "" {
		group = strconv.Itoa(gid)
	}
	s.log.WarnContext(ctx, "api: agents under other users cannot reach the agent socket: its directory is not searchable by its group; chgrp the directory to the group and chmod g+x it (and its parents), or put the agent socket elsewhere",
		"socket", path, "dir", dir, "mode", fmt.Sprintf("%04o", mode), "group", group)
}
