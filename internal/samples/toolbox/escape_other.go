//go:build !linux || !amd64

package main

import (
	"fmt"
	"runtime"
)

func cmdEscape(args []string) error {
	fmt.Printf("escape: not written for %s/%s\n", runtime.GOOS, runtime.GOARCH)
	return nil
}
