//go:build !linux

package process

import (
	"context"
	"errors"
	"runtime"

	"github.com/hayek-market/hayek/exec"
)

// Executor is only available on Linux; elsewhere New and Probe report
// ErrUnavailable.
type Executor struct{}

// ErrUnavailable is wrapped by New's and Probe's errors when the host
// cannot isolate jobs as the Config asks.
var ErrUnavailable = errors.New("exec/process: isolation unavailable")

// ErrInvalidJob is wrapped by Run's errors about a malformed Job.
var ErrInvalidJob = errors.New("exec/process: invalid job")

var errNotLinux = errors.Join(ErrUnavailable, errors.New("exec/process: the process sandbox needs Linux namespaces; this is "+runtime.GOOS))

// New reports ErrUnavailable: there is no process sandbox off Linux.
func New(ctx context.Context, cfg Config) (*Executor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return nil, errNotLinux
}

// Probe reports ErrUnavailable: there is no process sandbox off Linux.
func Probe(ctx context.Context, cfg Config) (Protections, error) { return Protections{}, errNotLinux }

func (e *Executor) Run(ctx context.Context, job exec.Job) (exec.Result, error) {
	return exec.Result{}, errNotLinux
}
func (e *Executor) Close(ctx context.Context) error { return nil }
func (e *Executor) Warm(cid string) bool            { return false }
func (e *Executor) Protections() Protections        { return Protections{} }
func (e *Executor) Programs() []string              { return nil }
func (e *Executor) Leaks() []string                 { return nil }

var (
	_ exec.Executor = (*Executor)(nil)
	_ exec.Warmer   = (*Executor)(nil)
)
