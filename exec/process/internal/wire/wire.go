package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Fixed descriptor numbers in the init.
const (
	FDControl = 3 // the control socket (SOCK_STREAM, close-on-exec in the init)
	FDModule  = 4 // the job's executable (a sealed memfd)
	FDInit    = 5 // the init's own executable, closed before anything else
)

// ExitSetup is the init's exit status after an Error frame.
const ExitSetup = 125

// Frame types.
const (
	MsgSpec    byte = 1 // executor → init: Spec
	MsgGo      byte = 2 // executor → init: cgroups joined, finish and exec
	MsgReady   byte = 3 // init → executor: root built; SCM_RIGHTS carries /out and /tmp
	MsgStarted byte = 4 // init → executor: the job's execveat succeeded
	MsgError   byte = 5 // init → executor: Error
	MsgReport  byte = 6 // init → executor: Report (probe mode)
	MsgExit    byte = 7 // init → executor: Exit
	MsgModule  byte = 8 // executor → init: no payload; SCM_RIGHTS carries the job's executable
)

// MaxFrame bounds a frame so a corrupt length cannot make either side
// allocate without limit. Args and env are bounded by the kernel's
// ARG_MAX (a few MiB) anyway.
const MaxFrame = 16 << 20

// Rlimit is one resource limit the init sets before exec.
type Rlimit struct {
	Resource int
	Cur, Max uint64
}

// Input is one file to create in /in; its bytes follow the Spec frame.
type Input struct {
	Name string
	Size int64
}

// Mount sizes of a tmpfs: bytes and inodes.
type Size struct {
	Bytes, Inodes int64
}

// Spec is everything the init needs for one run.
type Spec struct {
	Probe    bool // set everything up, send Report, do not exec
	Argv     []string
	Env      []string // KEY=VALUE
	Inputs   []Input
	In       Size // /in, read-only once written
	Out      Size
	Tmp      Size
	Proc     bool // the init mounted a proc for the job's PID namespace (only its processes)
	Landlock bool // restrict the file system and TCP with Landlock where the kernel has it
	Rlimits  []Rlimit
	Seccomp  []byte // a classic BPF program, 8 bytes per instruction, native byte order
}

// Error is how the init reports a failed step.
type Error struct {
	Stage  string // "mount /out", "pivot_root", "seccomp", "exec"...
	Errno  uint32 // 0 when not a system call error
	Detail string
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return e.Stage
	}
	return e.Stage + ": " + e.Detail
}

// Report is what a probe found in force just before it would have run a
// job.
type Report struct {
	Landlock     int    // ABI version applied, 0 when not
	LandlockNote string // why Landlock is not applied
	Seccomp      bool
	NoNewPrivs   bool
	CapsDropped  bool
	Proc         bool
}

// Exit is how the job (the init's child, PID 2) ended.
type Exit struct {
	WaitStatus uint32 // as wait4 gives it
	UserNanos  int64  // CPU time, from wait4's rusage
	SysNanos   int64
}

// Encode returns the frame payload of x.
func (x *Exit) Encode() []byte {
	e := &encoder{}
	e.uint(uint64(x.WaitStatus))
	e.int(x.UserNanos)
	e.int(x.SysNanos)
	return e.b
}

// DecodeExit parses an Exit frame payload.
func DecodeExit(b []byte) (*Exit, error) {
	d := &decoder{b: b}
	x := &Exit{WaitStatus: uint32(d.uint()), UserNanos: d.int(), SysNanos: d.int()}
	return x, d.done()
}

// Encoding: every field in order; integers as uvarints (signed as
// zig-zag varints), strings and byte slices with a uvarint length.

type encoder struct{ b []byte }

func (e *encoder) uint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) int(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) bool(v bool) {
	if v {
		e.uint(1)
	} else {
		e.uint(0)
	}
}
func (e *encoder) bytes(v []byte) { e.uint(uint64(len(v))); e.b = append(e.b, v...) }
func (e *encoder) string(v string) {
	e.uint(uint64(len(v)))
	e.b = append(e.b, v...)
}
func (e *encoder) strings(v []string) {
	e.uint(uint64(len(v)))
	for _, s := range v {
		e.string(s)
	}
}

type decoder struct {
	b   []byte
	err error
}

var errShort = errors.New("wire: truncated message")

func (d *decoder) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bool() bool { return d.uint() != 0 }

func (d *decoder) bytes() []byte {
	n := d.uint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errShort
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string { return string(d.bytes()) }

func (d *decoder) strings() []string {
	n := d.uint()
	if n > uint64(len(d.b)) { // every string takes at least a byte
		d.err = errShort
	}
	if d.err != nil {
		return nil
	}
	v := make([]string, n)
	for i := range v {
		v[i] = d.string()
	}
	return v
}

func (d *decoder) size() Size { return Size{Bytes: d.int(), Inodes: d.int()} }

func (d *decoder) done() error {
	if d.err == nil && len(d.b) != 0 {
		return fmt.Errorf("wire: %d unexpected bytes after the message", len(d.b))
	}
	return d.err
}

// Encode returns the frame payload of s.
func (s *Spec) Encode() []byte {
	e := &encoder{}
	e.bool(s.Probe)
	e.strings(s.Argv)
	e.strings(s.Env)
	e.uint(uint64(len(s.Inputs)))
	for _, in := range s.Inputs {
		e.string(in.Name)
		e.int(in.Size)
	}
	for _, sz := range []Size{s.In, s.Out, s.Tmp} {
		e.int(sz.Bytes)
		e.int(sz.Inodes)
	}
	e.bool(s.Proc)
	e.bool(s.Landlock)
	e.uint(uint64(len(s.Rlimits)))
	for _, r := range s.Rlimits {
		e.int(int64(r.Resource))
		e.uint(r.Cur)
		e.uint(r.Max)
	}
	e.bytes(s.Seccomp)
	return e.b
}

// DecodeSpec parses a Spec frame payload.
func DecodeSpec(b []byte) (*Spec, error) {
	d := &decoder{b: b}
	s := &Spec{}
	s.Probe = d.bool()
	s.Argv = d.strings()
	s.Env = d.strings()
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.err = errShort
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		s.Inputs = append(s.Inputs, Input{Name: d.string(), Size: d.int()})
	}
	s.In, s.Out, s.Tmp = d.size(), d.size(), d.size()
	s.Proc = d.bool()
	s.Landlock = d.bool()
	n = d.uint()
	if n > uint64(len(d.b)) {
		d.err = errShort
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		s.Rlimits = append(s.Rlimits, Rlimit{Resource: int(d.int()), Cur: d.uint(), Max: d.uint()})
	}
	s.Seccomp = d.bytes()
	return s, d.done()
}

// Encode returns the frame payload of e.
func (e *Error) Encode() []byte {
	enc := &encoder{}
	enc.string(e.Stage)
	enc.uint(uint64(e.Errno))
	enc.string(e.Detail)
	return enc.b
}

// DecodeError parses an Error frame payload.
func DecodeError(b []byte) (*Error, error) {
	d := &decoder{b: b}
	e := &Error{Stage: d.string(), Errno: uint32(d.uint()), Detail: d.string()}
	return e, d.done()
}

// Encode returns the frame payload of r.
func (r *Report) Encode() []byte {
	e := &encoder{}
	e.int(int64(r.Landlock))
	e.string(r.LandlockNote)
	e.bool(r.Seccomp)
	e.bool(r.NoNewPrivs)
	e.bool(r.CapsDropped)
	e.bool(r.Proc)
	return e.b
}

// DecodeReport parses a Report frame payload.
func DecodeReport(b []byte) (*Report, error) {
	d := &decoder{b: b}
	r := &Report{Landlock: int(d.int()), LandlockNote: d.string(), Seccomp: d.bool(),
		NoNewPrivs: d.bool(), CapsDropped: d.bool(), Proc: d.bool()}
	return r, d.done()
}

// Frame returns the bytes of one frame: a 4-byte big-endian length of
// what follows, the type, the payload.
func Frame(typ byte, payload []byte) []byte {
	b := make([]byte, 5, 5+len(payload))
	binary.BigEndian.PutUint32(b, uint32(1+len(payload)))
	b[4] = typ
	return append(b, payload...)
}

// ReadFrame reads one frame from r.
func ReadFrame(r io.Reader) (typ byte, payload []byte, err error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n < 1 || n > MaxFrame {
		return 0, nil, fmt.Errorf("wire: frame of %d bytes", n)
	}
	payload = make([]byte, n-1)
	if _, err := io.ReadFull(r, payload); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return hdr[4], payload, nil
}
