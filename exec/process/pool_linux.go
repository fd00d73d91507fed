package process

import (
	"context"
	"errors"
	"io"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/hayek-market/hayek/exec"
	"github.com/hayek-market/hayek/exec/process/internal/wire"
)

// The pool keeps Config.WarmSandboxes inits launched ahead of the runs
// that will need them: clone with its namespaces and the init's start-up
// are then off a run's path. A launched init has no job, no mounts and no
// cgroup yet; it waits, in the node's cgroup, for a spec.

// fill keeps the pool full until the executor closes.
func (e *Executor) fill() {
	defer close(e.fillDone)
	for {
		select {
		case <-e.closing:
			return
		default:
		}
		sb, err := e.launch(true, nil)
		if err != nil {
			// The probe launched one a moment ago, so this is passing
			// (out of processes, memory); runs launch their own meanwhile.
			select {
			case <-e.closing:
				return
			case <-time.After(time.Second):
				continue
			}
		}
		select {
		case e.pool <- sb:
		case <-e.closing:
			sb.release()
			return
		}
	}
}

// take prepares a sandbox for a run: one from the pool when there is one,
// else a fresh one. A pooled init that died while it waited (the node's
// cgroup ran out of memory, say) is replaced once.
//
// A run with GPUs always gets a fresh one: the init binds their device
// nodes while it builds the root, before it knows its job.
func (e *Executor) take(ctx context.Context, spec *wire.Spec, inputs []exec.File, module *os.File, cg *jobCgroup,
	gpus []devNode, stdin []byte, stdout, stderr io.Writer) (*sandbox, error) {
	pool := e.pool
	if len(gpus) > 0 {
		pool = nil // a receive from nil never proceeds: launch
	}
	for attempt := 0; ; attempt++ {
		var sb *sandbox
		pooled := false
		select {
		case sb = <-pool:
			pooled = true
			e.setIdle(sb, false)
		default:
			var err error
			if sb, err = e.launch(false, gpus); err != nil {
				return nil, err
			}
		}
		sb.attach(stdin, stdout, stderr)
		err := sb.prepare(ctx, spec, inputs, module, cg)
		if err == nil {
			return sb, nil
		}
		if pooled && attempt == 0 && ctx.Err() == nil && diedWaiting(err) {
			sb.release()
			continue
		}
		return sb, err
	}
}

// diedWaiting reports whether a setup error says the init was gone before
// it read its spec.
func diedWaiting(err error) bool {
	var se *setupError
	return errors.As(err, &se) && se.stage == "send spec" ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)
}

// drain releases the inits waiting in the pool, once fill has stopped.
func (e *Executor) drain() {
	for {
		select {
		case sb := <-e.pool:
			sb.release()
		default:
			return
		}
	}
}

// track records the inits launched and not yet reaped, for Leaks, and
// whether each is meant for the pool.
func (e *Executor) track(sb *sandbox, live, pooled bool) {
	e.liveMu.Lock()
	defer e.liveMu.Unlock()
	if live {
		e.live[sb] = pooled
	} else {
		delete(e.live, sb)
	}
}

// setIdle marks a pooled init as taken for a run.
func (e *Executor) setIdle(sb *sandbox, idle bool) {
	e.liveMu.Lock()
	defer e.liveMu.Unlock()
	if _, ok := e.live[sb]; ok {
		e.live[sb] = idle
	}
}

// liveInits describes the inits launched and not yet reaped, but for
// those waiting in the pool while the executor is open: those are ready
// for the next run, not left over from the last.
func (e *Executor) liveInits() []string {
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	e.liveMu.Lock()
	defer e.liveMu.Unlock()
	var s []string
	for sb, idle := range e.live {
		if idle && !closed {
			continue
		}
		s = append(s, "sandbox init, PID "+strconv.Itoa(sb.cmd.Process.Pid)+", not reaped")
	}
	return s
}
