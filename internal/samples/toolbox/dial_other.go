//go:build wasip1 || js

package main

import "fmt"

func cmdDial(args []string) error {
	for _, a := range args {
		fmt.Printf("%s: failed (%v)\n", a, errNoSystem)
	}
	return nil
}
