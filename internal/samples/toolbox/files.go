package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
)

func cmdUpper(args []string) error {
	in := bufio.NewReader(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	for {
		r, _, err := in.ReadRune()
		if err == io.EOF {
			return out.Flush()
		}
		if err != nil {
			return err
		}
		if _, err := out.WriteRune(unicode.ToUpper(r)); err != nil {
			return err
		}
	}
}

func cmdCat(args []string) error {
	for _, name := range args {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		_, err = io.Copy(os.Stdout, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func cmdWc(args []string) error {
	if len(args) == 0 {
		return wc(os.Stdin, "")
	}
	for _, name := range args {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		err = wc(f, name)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func wc(r io.Reader, name string) error {
	var lines, words, size int
	inWord := false
	br := bufio.NewReader(r)
	for {
		c, err := br.ReadByte()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		size++
		if c == '\n' {
			lines++
		}
		space := c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f'
		if !space && !inWord {
			words++
		}
		inWord = !space
	}
	_, err := fmt.Println(strings.TrimSpace(fmt.Sprintf("%d %d %d %s", lines, words, size, name)))
	return err
}

func cmdSha256(args []string) error {
	entries, err := os.ReadDir("/in")
	if err != nil {
		return err
	}
	var manifest bytes.Buffer
	for _, e := range entries { // ReadDir sorts by name.
		if !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/in", e.Name()))
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&manifest, "%s  %s\n", hex.EncodeToString(sum[:]), e.Name())
	}
	if err := os.WriteFile("/out/manifest.sha256", manifest.Bytes(), 0o644); err != nil {
		return err
	}
	_, err = os.Stdout.Write(manifest.Bytes())
	return err
}

func cmdLs(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("want one directory, got %d arguments", len(args))
	}
	entries, err := os.ReadDir(args[0])
	if err != nil {
		return err
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			return err
		}
		fmt.Printf("%v %d %d %s\n", info.Mode(), info.Size(), info.ModTime().UnixNano(), e.Name())
	}
	return nil
}

func cmdWrite(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("want N SIZE, got %q", args)
	}
	n, err := strconv.Atoi(args[0])
	if err != nil {
		return err
	}
	size, err := strconv.Atoi(args[1])
	if err != nil {
		return err
	}
	for i := range n {
		data := make([]byte, size)
		for j := range data {
			data[j] = byte('a' + (i+j)%26)
		}
		if err := os.WriteFile(fmt.Sprintf("/out/file-%04d", i), data, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("wrote %d files of %d bytes\n", n, size)
	return nil
}

func cmdTouch(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("want PATH, got %q", args)
	}
	f, err := os.OpenFile(args[0], os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString("touched\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Printf("wrote %s\n", args[0])
	return nil
}
