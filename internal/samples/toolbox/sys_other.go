//go:build !unix

package main

import (
	"errors"
	"fmt"
	"runtime"
)

var errNoSystem = errors.New("not supported on " + runtime.GOOS)

func cmdDial(args []string) error {
	for _, a := range args {
		fmt.Printf("%s: failed (%v)\n", a, errNoSystem)
	}
	return nil
}

func cmdFork(args []string) error { return fmt.Errorf("fork: %w", errNoSystem) }
