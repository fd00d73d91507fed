//go:build !linux

package api

import "net"

// peerUID is -1: only Linux names a socket's peer here, so elsewhere
// connections are capped per socket, not per user.
func peerUID(net.Conn) int { return -1 }
