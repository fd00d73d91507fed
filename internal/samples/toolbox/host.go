package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
)

func cmdHello(args []string) error {
	if _, err := io.WriteString(os.Stdout, "hello from hayek\n"); err != nil {
		return err
	}
	_, err := io.Copy(os.Stdout, os.Stdin)
	return err
}

// cmdReadfile prints, for each path, a digest of what the job can read
// there: "PATH: file SHA256" for a file's bytes, "PATH: dir SHA256" for a
// directory's sorted names (one per line), or "PATH: error TEXT". A test
// that computes the same digests on the host can tell whether the job
// reached the host's own files without the job knowing what to look for.
func cmdReadfile(args []string) error {
	for _, p := range args {
		kind, sum, err := digest(p)
		if err != nil {
			fmt.Printf("%s: error %s\n", p, errnoText(err))
			continue
		}
		fmt.Printf("%s: %s %s\n", p, kind, sum)
	}
	return nil
}

// digest is what cmdReadfile prints for path; exectest computes it the
// same way on the host.
func digest(path string) (kind, sum string, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", "", err
	}
	h := sha256.New()
	if fi.IsDir() {
		entries, err := os.ReadDir(path)
		if err != nil {
			return "", "", err
		}
		names := make([]string, len(entries))
		for i, e := range entries {
			names[i] = e.Name()
		}
		io.WriteString(h, strings.Join(names, "\n"))
		return "dir", hex.EncodeToString(h.Sum(nil)), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return "", "", err
	}
	return "file", hex.EncodeToString(h.Sum(nil)), nil
}
