package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// fileSystem is what fsops needs from a file system: the os package's
// functions on absolute paths, or an *os.Root's methods on paths relative
// to a directory the program opened itself. The second is how os.Root,
// and wasi-libc's openat family, reach files: through a directory file
// descriptor that is not a preopen.
type fileSystem interface {
	Mkdir(name string, perm fs.FileMode) error
	MkdirAll(name string, perm fs.FileMode) error
	OpenFile(name string, flag int, perm fs.FileMode) (*os.File, error)
	ReadFile(name string) ([]byte, error)
	ReadDir(name string) ([]fs.DirEntry, error)
	Remove(name string) error
	RemoveAll(name string) error
	Rename(oldname, newname string) error
	Stat(name string) (fs.FileInfo, error)
	Chtimes(name string, atime, mtime time.Time) error
	Symlink(oldname, newname string) error
	Link(oldname, newname string) error
}

type osFS struct{}

func (osFS) Mkdir(name string, perm fs.FileMode) error    { return os.Mkdir(name, perm) }
func (osFS) MkdirAll(name string, perm fs.FileMode) error { return os.MkdirAll(name, perm) }
func (osFS) OpenFile(name string, flag int, perm fs.FileMode) (*os.File, error) {
	return os.OpenFile(name, flag, perm)
}
func (osFS) ReadFile(name string) ([]byte, error)       { return os.ReadFile(name) }
func (osFS) ReadDir(name string) ([]fs.DirEntry, error) { return os.ReadDir(name) }
func (osFS) Remove(name string) error                   { return os.Remove(name) }
func (osFS) RemoveAll(name string) error                { return os.RemoveAll(name) }
func (osFS) Rename(oldname, newname string) error       { return os.Rename(oldname, newname) }
func (osFS) Stat(name string) (fs.FileInfo, error)      { return os.Stat(name) }
func (osFS) Chtimes(name string, atime, mtime time.Time) error {
	return os.Chtimes(name, atime, mtime)
}
func (osFS) Symlink(oldname, newname string) error { return os.Symlink(oldname, newname) }
func (osFS) Link(oldname, newname string) error    { return os.Link(oldname, newname) }

type rootFS struct{ *os.Root }

func (r rootFS) ReadDir(name string) ([]fs.DirEntry, error) { return fs.ReadDir(r.FS(), name) }

// fsOp is one operation of an fsops script: its operand count and what
// it prints on success.
type fsOp struct {
	args int
	run  func(fsys fileSystem, a []string) (string, error)
}

var fsOps = map[string]fsOp{
	"mkdir":    {1, func(f fileSystem, a []string) (string, error) { return "", f.Mkdir(a[0], 0o755) }},
	"mkdirall": {1, func(f fileSystem, a []string) (string, error) { return "", f.MkdirAll(a[0], 0o755) }},
	"write":    {2, func(f fileSystem, a []string) (string, error) { return writeFile(f, a[0], a[1], os.O_TRUNC) }},
	"append":   {2, func(f fileSystem, a []string) (string, error) { return writeFile(f, a[0], a[1], os.O_APPEND) }},
	"fill":     {2, fillFile},
	"cat": {1, func(f fileSystem, a []string) (string, error) {
		b, err := f.ReadFile(a[0])
		return strconv.Quote(string(b)), err
	}},
	"ls":    {1, listDir},
	"rm":    {1, func(f fileSystem, a []string) (string, error) { return "", f.Remove(a[0]) }},
	"rmall": {1, func(f fileSystem, a []string) (string, error) { return "", f.RemoveAll(a[0]) }},
	"mv":    {2, func(f fileSystem, a []string) (string, error) { return "", f.Rename(a[0], a[1]) }},
	"stat": {1, func(f fileSystem, a []string) (string, error) {
		fi, err := f.Stat(a[0])
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%v %d %d", fi.Mode(), fi.Size(), fi.ModTime().UnixNano()), nil
	}},
	"chtimes": {2, func(f fileSystem, a []string) (string, error) {
		sec, err := strconv.ParseInt(a[1], 10, 64)
		if err != nil {
			return "", err
		}
		return "", f.Chtimes(a[0], time.Unix(sec, 0), time.Unix(sec, 0))
	}},
	"symlink": {2, func(f fileSystem, a []string) (string, error) { return "", f.Symlink(a[0], a[1]) }},
	"link":    {2, func(f fileSystem, a []string) (string, error) { return "", f.Link(a[0], a[1]) }},
	"now": {0, func(fileSystem, []string) (string, error) {
		return strconv.FormatInt(time.Now().UnixNano(), 10), nil
	}},
}

func writeFile(f fileSystem, name, text string, mode int) (string, error) {
	file, err := f.OpenFile(name, os.O_WRONLY|os.O_CREATE|mode, 0o644)
	if err != nil {
		return "", err
	}
	_, err = file.WriteString(text)
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	return "", err
}

// fillFile writes a[1] bytes in 64 KiB chunks, the way a program spills
// to a scratch file.
func fillFile(f fileSystem, a []string) (string, error) {
	n, err := strconv.ParseInt(a[1], 10, 64)
	if err != nil {
		return "", err
	}
	file, err := f.OpenFile(a[0], os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return "", err
	}
	defer file.Close()
	chunk := make([]byte, 64<<10)
	for n > 0 {
		b := chunk[:min(n, int64(len(chunk)))]
		if _, err := file.Write(b); err != nil {
			return "", err
		}
		n -= int64(len(b))
	}
	return "", file.Close()
}

func listDir(f fileSystem, a []string) (string, error) {
	entries, err := f.ReadDir(a[0])
	if err != nil {
		return "", err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() {
			name += "/"
		}
		names = append(names, name)
	}
	return strings.Join(names, " "), nil
}

// cmdFS runs a script of file operations, "OP OPERANDS... OP OPERANDS...",
// printing one line per operation: "OP OPERANDS: ok", with what it read,
// or with the error. "cd DIR" makes the following paths relative to DIR,
// opened with os.OpenRoot; "cd -" goes back to plain paths. It runs every
// operation even after an error, so one run shows many outcomes, and
// exits 1 if any failed.
func cmdFS(args []string) error {
	var fsys fileSystem = osFS{}
	failed := 0
	for len(args) > 0 {
		name, rest := args[0], args[1:]
		if name == "cd" && len(rest) > 0 {
			if rest[0] == "-" {
				fsys = osFS{}
				fmt.Println("cd -: ok")
			} else if root, err := os.OpenRoot(rest[0]); err != nil {
				fmt.Printf("cd %s: error: %s\n", rest[0], errnoText(err))
				failed++
			} else {
				fsys = rootFS{root}
				fmt.Printf("cd %s: ok\n", rest[0])
			}
			args = rest[1:]
			continue
		}
		op, ok := fsOps[name]
		if !ok || len(rest) < op.args {
			return fmt.Errorf("fsops: unknown operation or missing operands at %q", args)
		}
		operands := rest[:op.args]
		args = rest[op.args:]
		line := strings.TrimSpace(name + " " + strings.Join(operands, " "))
		out, err := op.run(fsys, operands)
		switch {
		case err != nil:
			fmt.Printf("%s: error: %s\n", line, errnoText(err))
			failed++
		case out != "":
			fmt.Printf("%s: %s\n", line, out)
		default:
			fmt.Printf("%s: ok\n", line)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d operations failed", failed)
	}
	return nil
}

// errnoText is the system error alone, without the path and operation
// that os wraps around it (os.Root words those differently from os).
func errnoText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}
