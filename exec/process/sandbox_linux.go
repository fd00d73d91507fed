package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	osexec "os/exec"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hayek-market/hayek/exec"
	"github.com/hayek-market/hayek/exec/process/internal/wire"
)

// sandbox is one started init: the process, its control socket and
// standard streams, and, once it is ready, the job's /out and /tmp.
type sandbox struct {
	e       *Executor
	cmd     *osexec.Cmd
	conn    *net.UnixConn
	ctl     *ctlReader
	stdin   *os.File // write ends and read ends of the job's streams
	stdout  *os.File
	stderr  *os.File
	io      sync.WaitGroup // copying the streams
	out     *os.File
	tmp     *os.File
	waited  chan struct{} // closed when cmd.Wait returned
	waitErr error
	exit    chan exitReport // the init's report, once the job started
}

// ctlReader reads the init's frames, keeping the descriptors they carry.
type ctlReader struct {
	conn *net.UnixConn
	oob  []byte
	fds  []int
}

func (r *ctlReader) Read(p []byte) (int, error) {
	n, oobn, _, _, err := r.conn.ReadMsgUnix(p, r.oob)
	if oobn > 0 {
		msgs, perr := unix.ParseSocketControlMessage(r.oob[:oobn])
		if perr == nil {
			for _, m := range msgs {
				if fds, err := unix.ParseUnixRights(&m); err == nil {
					r.fds = append(r.fds, fds...)
				}
			}
		}
	}
	return n, err
}

// setupError is a sandbox that could not be built: the executor's (or
// the host's) fault, never the job's.
type setupError struct {
	stage string
	err   error
}

func (e *setupError) Error() string {
	return fmt.Sprintf("exec/process: building the sandbox failed at %s: %v; run process.Probe to see what the host lacks", e.stage, e.err)
}

func (e *setupError) Unwrap() error { return e.err }

// cloneFlags are the namespaces every sandbox gets (and the cgroup one,
// which the init makes itself once it is in the job's cgroup).
const cloneFlags = syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID |
	syscall.CLONE_NEWNET | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS

// launch starts an init in new namespaces. It waits for its job: the
// spec, the inputs and the executable come later (prepare), so a launched
// sandbox can be kept ready ahead of a run and the clone and the init's
// start-up are not on the run's path. Its standard streams are pipes the
// run attaches to.
// gpus are device nodes the init binds into the root's /dev.
func (e *Executor) launch(pooled bool, gpus []devNode) (sb *sandbox, err error) {
	var closeOnError []*os.File
	defer func() {
		if err != nil {
			for _, f := range closeOnError {
				f.Close()
			}
		}
	}()
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, &setupError{"socketpair", err}
	}
	parentEnd := os.NewFile(uintptr(pair[0]), "control")
	childEnd := os.NewFile(uintptr(pair[1]), "control")
	defer childEnd.Close()
	fc, err := net.FileConn(parentEnd)
	parentEnd.Close()
	if err != nil {
		return nil, &setupError{"control socket", err}
	}
	conn := fc.(*net.UnixConn)
	var child [3]*os.File // the init's stdin, stdout, stderr
	var parent [3]*os.File
	for i := range child {
		r, w, err := os.Pipe()
		if err != nil {
			conn.Close()
			return nil, &setupError{"pipe", err}
		}
		if i == 0 {
			child[i], parent[i] = r, w
		} else {
			child[i], parent[i] = w, r
		}
		closeOnError = append(closeOnError, parent[i])
		defer child[i].Close() // the init has its copy once started
	}

	root := os.Geteuid() == 0
	cmd := &osexec.Cmd{
		// The init's memfd as the child sees it after ExtraFiles are
		// placed: /proc/self is the child itself.
		Path: "/proc/self/fd/" + strconv.Itoa(wire.FDInit),
		Args: append([]string{"hayek-sandbox-init", e.staging, map[bool]string{true: "proc", false: "noproc"}[e.cfg.Proc], Hostname},
			devicePaths(gpus)...),
		// Fewer runtime threads: they count against the job's process
		// limit while the init waits as PID 1.
		Env:    []string{"GOMAXPROCS=1"},
		Dir:    "/",
		Stdin:  child[0],
		Stdout: child[1],
		Stderr: child[2],
		// fd 4, the job's executable, comes later over the socket.
		ExtraFiles: []*os.File{childEnd, nil, e.init},
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags:  cloneFlags,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: e.uid, Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: e.gid, Size: 1}},
			// Become the mapped user and group, dropping the node's
			// supplementary groups where the kernel lets us set groups.
			GidMappingsEnableSetgroups: root,
			Credential:                 &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: !root},
			Setsid:                     true,
			// No Pdeathsig: it fires when the thread that forked ends,
			// which a Go program does not control. The init ends the
			// sandbox when the node's end of the control socket closes.
		},
	}
	if err := cmd.Start(); err != nil {
		conn.Close()
		return nil, &setupError{"clone with namespaces", namespaceError(err)}
	}
	sb = &sandbox{e: e, cmd: cmd, conn: conn, ctl: &ctlReader{conn: conn, oob: make([]byte, unix.CmsgSpace(8*4))},
		stdin: parent[0], stdout: parent[1], stderr: parent[2], waited: make(chan struct{})}
	e.track(sb, true, pooled)
	go func() {
		sb.waitErr = cmd.Wait()
		close(sb.waited)
	}()
	return sb, nil
}

// attach feeds stdin to the job and keeps what it writes, within the
// captures' limits. The copies end when every process that holds the
// pipes has ended; release waits for them.
func (sb *sandbox) attach(stdin []byte, stdout, stderr io.Writer) {
	sb.io.Go(func() {
		// The job may not read it all; a write that cannot go on fails
		// once the job is gone or release closes the pipe.
		_, _ = sb.stdin.Write(stdin)
		sb.stdin.Close()
	})
	for _, c := range []struct {
		r *os.File
		w io.Writer
	}{{sb.stdout, stdout}, {sb.stderr, stderr}} {
		sb.io.Go(func() {
			buf := make([]byte, 32<<10)
			_, _ = io.CopyBuffer(c.w, c.r, buf)
		})
	}
}

// prepare hands the init its job: the executable, the spec and the
// inputs; waits for it to build the root; puts it into cg; lets it drop
// its privileges and start the job. On error the caller releases sb.
func (sb *sandbox) prepare(ctx context.Context, spec *wire.Spec, inputs []exec.File, module *os.File, cg *jobCgroup) error {
	conn := sb.conn
	// Setup has its own deadline, and ctx can end it.
	_ = conn.SetDeadline(time.Now().Add(sb.e.cfg.SetupTimeout))
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()

	if err := sb.send(spec, inputs, module); err != nil {
		return sb.failed(ctx, "send spec", err)
	}
	if err := sb.expect(wire.MsgReady); err != nil {
		return sb.failed(ctx, "build root", err)
	}
	if len(sb.ctl.fds) != 2 {
		return &setupError{"build root", fmt.Errorf("init sent %d descriptors, want 2", len(sb.ctl.fds))}
	}
	sb.out = os.NewFile(uintptr(sb.ctl.fds[0]), "out")
	sb.tmp = os.NewFile(uintptr(sb.ctl.fds[1]), "tmp")
	sb.ctl.fds = nil
	if cg != nil {
		if err := cg.join(sb.cmd.Process.Pid); err != nil {
			return &setupError{"join cgroup", err}
		}
	}
	if _, err := conn.Write(wire.Frame(wire.MsgGo, nil)); err != nil {
		return sb.failed(ctx, "send go", err)
	}
	if spec.Probe {
		return nil
	}
	if err := sb.expect(wire.MsgStarted); err != nil {
		if isExecFailure(err) {
			return err
		}
		return sb.failed(ctx, "start the job", err)
	}
	_ = conn.SetDeadline(time.Time{})
	sb.exit = make(chan exitReport, 1)
	go func() {
		typ, payload, err := wire.ReadFrame(sb.ctl)
		if err == nil && typ != wire.MsgExit {
			err = frameError(typ, payload)
		}
		var x *wire.Exit
		if err == nil {
			x, err = wire.DecodeExit(payload)
		}
		sb.exit <- exitReport{x, err}
	}()
	return nil
}

// release ends the sandbox, if it still runs, and frees everything it
// holds: the init (and with it the PID namespace) is killed and reaped,
// the stream copies finish, descriptors are closed.
func (sb *sandbox) release() {
	sb.kill()
	<-sb.waited
	sb.e.track(sb, false, false)
	// Every writer of the pipes is gone with the namespace; closing our
	// ends also ends a stdin write the job never read.
	sb.stdin.Close()
	sb.io.Wait()
	sb.stdout.Close()
	sb.stderr.Close()
	for _, f := range []*os.File{sb.out, sb.tmp} {
		if f != nil {
			f.Close()
		}
	}
	sb.out, sb.tmp = nil, nil
	for _, fd := range sb.ctl.fds {
		unix.Close(fd)
	}
	sb.ctl.fds = nil
	sb.conn.Close()
}

// exitReport is the init's last word: how the job ended, or why it could
// not say.
type exitReport struct {
	exit *wire.Exit
	err  error
}

// send hands over the executable (as a descriptor, in a frame of its
// own), the spec and the inputs' bytes.
func (sb *sandbox) send(spec *wire.Spec, inputs []exec.File, module *os.File) error {
	if _, _, err := sb.conn.WriteMsgUnix(wire.Frame(wire.MsgModule, nil), unix.UnixRights(int(module.Fd())), nil); err != nil {
		return err
	}
	if _, err := sb.conn.Write(wire.Frame(wire.MsgSpec, spec.Encode())); err != nil {
		return err
	}
	for _, in := range inputs {
		if _, err := sb.conn.Write(in.Data); err != nil {
			return err
		}
	}
	return nil
}

// expect reads the next frame and fails unless it is typ.
func (sb *sandbox) expect(typ byte) error {
	got, payload, err := wire.ReadFrame(sb.ctl)
	if err != nil {
		return err
	}
	if got == typ {
		return nil
	}
	return frameError(got, payload)
}

// frameError is the error an unexpected frame stands for: the init's
// own, when it sent an Error.
func frameError(typ byte, payload []byte) error {
	if typ != wire.MsgError {
		return fmt.Errorf("unexpected frame type %d from the sandbox init", typ)
	}
	werr, err := wire.DecodeError(payload)
	if err != nil {
		return err
	}
	return werr
}

// isExecFailure reports whether err is the init's report that execveat
// itself failed: the kernel refused the module.
func isExecFailure(err error) bool {
	var werr *wire.Error
	return errors.As(err, &werr) && werr.Stage == "exec"
}

// failed turns a setup failure into the error Run returns: ctx's when ctx
// ended it, the init's own report when it sent one, or what went wrong on
// the socket with how the init ended.
func (sb *sandbox) failed(ctx context.Context, stage string, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	var werr *wire.Error
	if errors.As(err, &werr) {
		return &setupError{werr.Stage, werr}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) {
		// The init may have said why before it went (a failure while it
		// built the root ahead of this run, before anyone listened).
		_ = sb.conn.SetReadDeadline(time.Now().Add(time.Second))
		if typ, payload, rerr := wire.ReadFrame(sb.ctl); rerr == nil && typ == wire.MsgError {
			if werr, derr := wire.DecodeError(payload); derr == nil {
				return &setupError{werr.Stage, werr}
			}
		}
		// It died without a word; say how.
		sb.kill()
		<-sb.waited
		return &setupError{stage, fmt.Errorf("the sandbox init ended early (%v)", sb.waitErr)}
	}
	return &setupError{stage, err}
}

// kill ends the init, and with it every process in the sandbox's PID
// namespace. It is safe to call more than once and after the init ended.
func (sb *sandbox) kill() { _ = sb.cmd.Process.Kill() }

// namespaceError says which namespace the kernel refused, when clone
// fails for one.
func namespaceError(err error) error {
	if !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOSPC) && !errors.Is(err, syscall.EUSERS) {
		return err
	}
	for _, ns := range []struct {
		name string
		flag uintptr
		hint string
	}{
		{"user", syscall.CLONE_NEWUSER, "user namespaces are off (sysctl kernel.unprivileged_userns_clone, user.max_user_namespaces, or an AppArmor/SELinux policy); a container needs seccomp and AppArmor profiles that allow them"},
		{"mount", syscall.CLONE_NEWNS, ""},
		{"pid", syscall.CLONE_NEWPID, ""},
		{"network", syscall.CLONE_NEWNET, ""},
		{"ipc", syscall.CLONE_NEWIPC, ""},
		{"uts", syscall.CLONE_NEWUTS, ""},
	} {
		flags := ns.flag
		if ns.flag != syscall.CLONE_NEWUSER {
			flags |= syscall.CLONE_NEWUSER
		}
		cmd := osexec.Command("/proc/self/exe")
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flags,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}}
		cmd.Path = "/nonexistent-hayek-probe" // clone happens, exec fails: nothing runs
		if err := cmd.Start(); err != nil && !errors.Is(err, os.ErrNotExist) {
			if ns.hint != "" {
				return fmt.Errorf("%w: the kernel refuses new %s namespaces: %s", err, ns.name, ns.hint)
			}
			return fmt.Errorf("%w: the kernel refuses new %s namespaces", err, ns.name)
		}
	}
	return err
}

// runSpec is the spec of one job.
func (e *Executor) runSpec(job exec.Job, l exec.Limits) *wire.Spec {
	env := make([]string, 0, len(job.Env))
	for k, v := range job.Env {
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	var inputs []wire.Input
	var inBytes int64
	for _, f := range job.Inputs {
		inputs = append(inputs, wire.Input{Name: f.Name, Size: int64(len(f.Data))})
		inBytes += roundUp(int64(len(f.Data)), pageSize)
	}
	outBytes, outInodes := outSize(l)
	spec := e.baseSpec(l)
	spec.Argv = append([]string{ArgV0}, job.Args...)
	spec.Env = env
	spec.Inputs = inputs
	spec.In = wire.Size{Bytes: max(inBytes, pageSize), Inodes: int64(len(inputs)) + 2}
	spec.Out = wire.Size{Bytes: outBytes, Inodes: outInodes}
	return spec
}

// baseSpec is what every sandbox gets, job or probe.
func (e *Executor) baseSpec(l exec.Limits) *wire.Spec {
	cpuSeconds := e.cpuSeconds(l)
	fileSize := uint64(max(l.MemoryBytes, l.OutputBytes))
	rl := []wire.Rlimit{
		{Resource: unix.RLIMIT_CPU, Cur: cpuSeconds, Max: cpuSeconds + 1},
		{Resource: unix.RLIMIT_NOFILE, Cur: uint64(e.cfg.MaxOpenFiles), Max: uint64(e.cfg.MaxOpenFiles)},
		// The pids cgroup is the wall (and counts what it refused); this
		// only backs it up.
		{Resource: unix.RLIMIT_NPROC, Cur: 2 * uint64(e.cfg.MaxProcesses), Max: 2 * uint64(e.cfg.MaxProcesses)},
		{Resource: unix.RLIMIT_FSIZE, Cur: fileSize, Max: fileSize},
		// 1, not 0: the kernel takes 1 to mean "no core, not even to a
		// core_pattern pipe", so a crashing job never hands its memory to
		// a host program.
		{Resource: unix.RLIMIT_CORE, Cur: 1, Max: 1},
	}
	if e.cfg.AddressSpaceBytes > 0 {
		rl = append(rl, wire.Rlimit{Resource: unix.RLIMIT_AS, Cur: uint64(e.cfg.AddressSpaceBytes), Max: uint64(e.cfg.AddressSpaceBytes)})
	}
	return &wire.Spec{
		In:       wire.Size{Bytes: pageSize, Inodes: 2},
		Out:      wire.Size{Bytes: pageSize, Inodes: 2},
		Tmp:      wire.Size{Bytes: l.MemoryBytes, Inodes: max(l.MemoryBytes>>10, 64)},
		Proc:     e.cfg.Proc,
		Landlock: e.cfg.Landlock,
		Rlimits:  rl,
		Seccomp:  e.seccomp,
	}
}

// cpuSeconds is the job's RLIMIT_CPU (soft): more CPU time than its
// processes could use in its wall time on the cores it may use. It only
// backs up the wall-time limit.
func (e *Executor) cpuSeconds(l exec.Limits) uint64 {
	cores := l.CPUs
	if cores <= 0 {
		cores = e.cfg.cpuCount()
	}
	return uint64(math.Ceil(l.Timeout.Seconds()*cores)) + 1
}

func devicePaths(nodes []devNode) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.path
	}
	return out
}
