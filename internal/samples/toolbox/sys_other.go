//go:build !linux

package main

import (
	"errors"
	"fmt"
	"runtime"
)

var errNoSystem = errors.New("not supported on " + runtime.GOOS)

func cmdFork(args []string) error { return fmt.Errorf("fork: %w", errNoSystem) }
