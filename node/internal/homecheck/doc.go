// Package homecheck owns the privacy of a node's home.
//
// The home holds what no other Unix user may read or change: the identity
// key, the ledger (agents' names, budgets and token hashes), the job store
// and blobs. Everything in it is for the node's user only (directories
// 0700, files 0600), except the home itself, which may let a group search
// it (0710) so that agents under other users reach the agent socket, and
// the agent socket, which its group may use (0660).
//
// The node creates everything that way (Private sets the umask to
// 0077, and the stores create their files 0600 themselves), and it
// refuses to start in a home where anything is wider or belongs to
// another user, naming each path and the command that fixes it, rather
// than narrowing modes itself: a file that was readable may already have
// been read, and the operator should know.
//
// The node calls Private as it starts; node.CheckHome (Check) is for
// tools and tests that check a home without starting a node.
package homecheck
