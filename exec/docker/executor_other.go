//go:build !linux

package docker

import (
	"context"
	"errors"
	"runtime"

	"github.com/hayek-market/hayek/exec"
)

// Executor is only available on Linux; elsewhere New reports
// ErrUnavailable.
type Executor struct{}

// ErrUnavailable is wrapped by New's error when there is no engine this
// executor can use.
var ErrUnavailable = errors.New("exec/docker: no usable Docker engine")

// New reports ErrUnavailable: the executor binds host directories and
// runs a Linux shim, so it needs a Linux host.
func New(ctx context.Context, cfg Config) (*Executor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return nil, errors.Join(ErrUnavailable, errors.New("exec/docker: the docker executor needs a Linux host; this is "+runtime.GOOS))
}

// Run reports exec.ErrClosed: there is no executor here.
func (e *Executor) Run(ctx context.Context, job exec.Job) (exec.Result, error) {
	return exec.Result{}, exec.ErrClosed
}

// Close does nothing.
func (e *Executor) Close(ctx context.Context) error { return nil }
