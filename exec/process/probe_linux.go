package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hayek-market/hayek/exec/process/internal/wire"
)

// Probe reports what isolation exec/process would give jobs on this host
// with cfg, by starting an executor (which runs a probe sandbox with every
// protection) and closing it again. Its error wraps ErrUnavailable and
// names what is missing when the host cannot isolate jobs: a node then
// does not offer runtime/process, and says why.
func Probe(ctx context.Context, cfg Config) (Protections, error) {
	e, err := New(ctx, cfg)
	if err != nil {
		return Protections{}, err
	}
	p := e.Protections()
	return p, e.Close(ctx)
}

// probe builds one sandbox in probe mode: everything a job gets, then a
// report instead of an exec.
func (e *Executor) probe(ctx context.Context) (Protections, error) {
	l := e.cfg.DefaultLimits
	name := fmt.Sprintf("%s-probe", e.instance)
	cg, err := e.cgroups.newJob(name, l.MemoryBytes, e.cfg.MaxProcesses, e.cfg.CPUs, e.devices)
	if err != nil {
		return Protections{}, unavailable("make a job cgroup in "+e.cgroups.String(), err, "")
	}
	defer cg.destroy(context.WithoutCancel(ctx))
	spec := e.baseSpec(l)
	spec.Probe = true
	sb, err := e.launch(false, nil)
	if err == nil {
		defer sb.release()
		sb.attach(nil, io.Discard, io.Discard)
		err = sb.prepare(ctx, spec, nil, e.init, cg)
	}
	if err != nil {
		if ctx.Err() != nil {
			return Protections{}, fmt.Errorf("exec/process: probe: %w", err)
		}
		return Protections{}, unavailable("probe sandbox", err, "")
	}
	typ, payload, err := wire.ReadFrame(sb.ctl)
	if err == nil && typ != wire.MsgReport {
		err = frameError(typ, payload)
	}
	if err != nil {
		var werr *wire.Error
		if errors.As(err, &werr) {
			return Protections{}, unavailable("probe sandbox: "+werr.Stage, werr, "")
		}
		return Protections{}, unavailable("probe sandbox", err, "")
	}
	r, err := wire.DecodeReport(payload)
	if err != nil {
		return Protections{}, unavailable("probe report", err, "")
	}
	<-sb.waited
	if sb.waitErr != nil {
		return Protections{}, unavailable("probe sandbox", sb.waitErr, "")
	}
	if !r.Seccomp || !r.NoNewPrivs || !r.CapsDropped {
		return Protections{}, unavailable("probe sandbox", errors.New("seccomp, no_new_privs or dropping capabilities did not take"), "")
	}
	p := Protections{
		Namespaces:          []string{"user", "pid", "mount", "network", "ipc", "uts", "cgroup"},
		Cgroup:              e.cgroups.String(),
		Seccomp:             r.Seccomp,
		NoNewPrivs:          r.NoNewPrivs,
		CapabilitiesDropped: r.CapsDropped,
		Landlock:            r.Landlock,
		LandlockMissing:     r.LandlockNote,
		Proc:                r.Proc,
		HostUID:             e.uid,
		HostGID:             e.gid,
	}
	for _, rl := range spec.Rlimits {
		p.Rlimits = append(p.Rlimits, rlimitName(rl.Resource))
	}
	return p, nil
}

func rlimitName(r int) string {
	switch r {
	case unix.RLIMIT_CPU:
		return "cpu"
	case unix.RLIMIT_AS:
		return "address space"
	case unix.RLIMIT_NOFILE:
		return "open files"
	case unix.RLIMIT_NPROC:
		return "processes"
	case unix.RLIMIT_FSIZE:
		return "file size"
	case unix.RLIMIT_CORE:
		return "core (none)"
	}
	return strings.ToLower(fmt.Sprint(r))
}
