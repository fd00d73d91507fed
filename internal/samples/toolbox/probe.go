package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"os"
	"sort"
	"time"
)

func cmdArgs(args []string) error {
	for _, a := range os.Args {
		fmt.Println(a)
	}
	return nil
}

func cmdEnv(args []string) error {
	env := os.Environ()
	sort.Strings(env)
	for _, kv := range env {
		fmt.Println(kv)
	}
	return nil
}

// hostProbes are the ways a job could try to see the machine it runs on:
// absolute host paths, relative escapes from the working directory and from
// the mounts, and listing the root.
var hostProbes = []struct {
	name string
	try  func() error
}{
	{"open /etc/passwd", openFile("/etc/passwd")},
	{"open /etc/hostname", openFile("/etc/hostname")},
	{"open /proc/self/environ", openFile("/proc/self/environ")},
	{"open ../etc/passwd", openFile("../etc/passwd")},
	{"open ../../../../etc/passwd", openFile("../../../../etc/passwd")},
	{"open /in/../etc/passwd", openFile("/in/../etc/passwd")},
	{"open /out/../../etc/passwd", openFile("/out/../../etc/passwd")},
	{"readdir /", readDir("/")},
	{"readdir /tmp", hostEntries("/tmp")},
	{"readdir /in/..", readDir("/in/..")},
	{"create /tmp/../hayek-escape", createFile("/tmp/../hayek-escape")},
}

func openFile(name string) func() error {
	return func() error {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		buf := make([]byte, 1)
		_, err = f.Read(buf)
		return err
	}
}

func readDir(name string) func() error {
	return func() error {
		_, err := os.ReadDir(name)
		return err
	}
}

// hostEntries fails unless the directory holds something: a job's /tmp
// may exist, but only as its own empty scratch directory, never the host's.
func hostEntries(name string) func() error {
	return func() error {
		entries, err := os.ReadDir(name)
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			return errors.New("empty: the job's own scratch directory")
		}
		return nil
	}
}

func createFile(name string) func() error {
	return func() error {
		f, err := os.Create(name)
		if err != nil {
			return err
		}
		return f.Close()
	}
}

// cmdReadhost prints "denied" or "REACHED" for every probe, so a test can
// assert that no line says REACHED.
func cmdReadhost(args []string) error {
	for _, p := range hostProbes {
		if err := p.try(); err != nil {
			fmt.Printf("%s: denied (%v)\n", p.name, err)
		} else {
			fmt.Printf("%s: REACHED\n", p.name)
		}
	}
	return nil
}

// cmdRand prints everything a job could use as a source of entropy or time,
// so that two runs of the same job can be compared byte for byte.
func cmdRand(args []string) error {
	start := time.Now()
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return err
	}
	fmt.Printf("crypto/rand: %s\n", hex.EncodeToString(buf))
	fmt.Printf("math/rand/v2: %d\n", mathrand.Uint64())
	m := map[int]bool{}
	for i := range 16 {
		m[i] = true
	}
	order := make([]int, 0, len(m))
	for k := range m { // map order is randomised by the runtime's seed
		order = append(order, k)
	}
	fmt.Printf("map order: %v\n", order)
	fmt.Printf("wall clock: %s\n", time.Now().UTC().Format(time.RFC3339Nano))
	fmt.Printf("monotonic: %d\n", time.Since(start).Nanoseconds())
	return nil
}
