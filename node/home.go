package node

import "github.com/hayek-market/hayek/node/internal/homecheck"

// The privacy of the node's home is node/internal/homecheck's; these are
// its names for the node's users (cmd, testnet).

// ErrHomeNotPrivate matches (errors.Is) the error of a home that other
// users could read or write.
var ErrHomeNotPrivate = homecheck.ErrNotPrivate

// HomeError is the error of a home that other users could read or write.
type HomeError = homecheck.Error

// HomeProblem is one path of a home that is not private.
type HomeProblem = homecheck.Problem

// CheckHome returns a *HomeError naming every path of home another user
// could read or write, or that another user owns; nil means the home is
// private (homecheck.Check says what passes).
func CheckHome(home string) error { return homecheck.Check(home) }
