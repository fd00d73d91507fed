package wasm

import (
	"bytes"
	"errors"
	"fmt"
)

// Time limits are enforced, and the Go runtime kept able to stop the world
// while a job computes, by rewriting each module before it is compiled, in
// the spirit of wasmtime's epoch interruption.
//
// Go cannot preempt a goroutine while it runs wazero's machine code, so a
// guest that never calls the host would hold off every stop-the-world of
// the garbage collector, and so freeze the whole node, timers included, and
// would never notice that it should stop. wazero's answer,
// WithCloseOnContextDone, leaves machine code for Go at every function
// entry and loop iteration; that made a tight loop about 12x slower (doc.go
// has the numbers). The rewrite instead counts, and leaves for Go only once
// every budgetSteps counts:
//
// At the head of every loop, with a fresh local $n per function (locals
// start at zero, and a register is all this costs):
//
//	local.get $n
//	i32.const 1
//	i32.add
//	local.tee $n
//	i32.const budgetSteps-1
//	i32.and
//	i32.eqz
//	if
//	  <poll>
//	end
//
// At the entry of every function that calls another (only calls can
// recurse without a loop), counting in a global, $budget, since a local
// does not outlive the call:
//
//	global.get $budget
//	i32.const 1
//	i32.sub
//	global.set $budget
//	global.get $budget
//	i32.eqz
//	if
//	  <poll>
//	  i32.const budgetSteps
//	  global.set $budget
//	end
//
// where <poll> is
//
//	i32.const 0
//	memory.grow 0
//	drop
//	global.get $stop
//	if
//	  unreachable
//	end
//
// memory.grow is implemented in Go by wazero, so it is a way into Go that
// needs no new import (an import would renumber every function), and a grow
// by 0 pages changes nothing; modules without a memory get an empty one for
// it. To stop a run, the executor sets $stop (exported as stopExport) and
// sets $budget (budgetExport) to 1, and the guest traps at its next poll:
// within budgetSteps loop iterations.
//
// A start section runs inside instantiation, before the executor holds the
// module to set $stop, so it is removed and its function exported as
// startExport, for the executor to call right after instantiating: the same
// order of effects, and now under the time limit.
const (
	stopExport   = "hayek:stop"
	budgetExport = "hayek:budget"
	startExport  = "hayek:start"

	// budgetSteps is how many checks pass between two polls: well under a
	// millisecond of the tightest loop, so the garbage collector waits no
	// longer than that and a stopped job ends about as fast; and far
	// apart enough that a poll's cost vanishes. A power of two, for the
	// mask.
	budgetSteps = 1 << 16
)

// Section ids, in the order the binary format requires for non-custom
// sections (tag, from the exception-handling proposal, sits between memory
// and global).
const (
	secCustom   = 0
	secType     = 1
	secImport   = 2
	secFunction = 3
	secMemory   = 5
	secGlobal   = 6
	secExport   = 7
	secStart    = 8
	secCode     = 10
)

var sectionOrder = map[byte]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}

type section struct {
	id   byte
	body []byte
}

// moduleInfo is what instrument needs to know before rewriting code.
type moduleInfo struct {
	paramCounts []uint32 // per type index
	funcTypes   []uint32 // per defined function
	globals     uint32   // imported and defined
	hasMemory   bool
	startFunc   []byte // the start section's body (a function index), or nil
}

// instrument returns a copy of module with the checks described above. The
// input has passed CheckModule; anything it cannot parse is reported as a
// bad module, since the validating compiler would refuse it too.
func instrument(module []byte) ([]byte, error) {
	var sections []section
	for off := 8; off < len(module); {
		id := module[off]
		size, n, err := readU32(module[off+1:])
		if err != nil {
			return nil, badModule("%v", err)
		}
		start := off + 1 + n
		sections = append(sections, section{id, module[start : start+int(size)]})
		off = start + int(size)
	}

	var info moduleInfo
	for _, s := range sections {
		if err := info.read(s); err != nil {
			return nil, err
		}
	}
	stop, budget := info.globals, info.globals+1

	newGlobals := []byte{0x7f, 0x01, 0x41, 0x00, 0x0b} // $stop: mutable i32 = 0
	newGlobals = append(newGlobals, 0x7f, 0x01, 0x41)  // $budget: mutable i32 = budgetSteps
	newGlobals = append(appendS32(newGlobals, budgetSteps), 0x0b)
	newExports := appendName(nil, stopExport)
	newExports = append(append(newExports, 0x03), appendU32(nil, stop)...)
	newExports = appendName(newExports, budgetExport)
	newExports = append(append(newExports, 0x03), appendU32(nil, budget)...)
	exportCount := uint32(2)
	if info.startFunc != nil {
		newExports = append(append(appendName(newExports, startExport), 0x00), info.startFunc...)
		exportCount++
	}

	var out []section
	haveGlobal, haveExport := false, false
	for _, s := range sections {
		switch s.id {
		case secGlobal:
			body, err := appendToVector(s.body, 2, newGlobals)
			if err != nil {
				return nil, err
			}
			out = append(out, section{s.id, body})
			haveGlobal = true
		case secExport:
			body, err := appendToVector(s.body, exportCount, newExports)
			if err != nil {
				return nil, err
			}
			out = append(out, section{s.id, body})
			haveExport = true
		case secMemory:
			if !info.hasMemory {
				continue // replaced by the memory added below
			}
			out = append(out, s)
		case secStart:
			// dropped: the executor calls startExport
		case secCode:
			body, err := instrumentCode(s.body, &info, stop, budget)
			if err != nil {
				return nil, err
			}
			out = append(out, section{s.id, body})
		default:
			out = append(out, s)
		}
	}
	if !haveGlobal {
		out = insertSection(out, section{secGlobal, append([]byte{2}, newGlobals...)})
	}
	if !haveExport {
		out = insertSection(out, section{secExport, append(appendU32(nil, exportCount), newExports...)})
	}
	if !info.hasMemory {
		// One memory of 0 pages, no maximum, for the memory.grow in <poll>.
		out = insertSection(out, section{secMemory, []byte{0x01, 0x00, 0x00}})
	}

	var b bytes.Buffer
	b.Grow(len(module) + len(module)/4)
	b.Write(module[:8])
	for _, s := range out {
		b.WriteByte(s.id)
		b.Write(appendU32(nil, uint32(len(s.body))))
		b.Write(s.body)
	}
	return b.Bytes(), nil
}

func (m *moduleInfo) read(s section) error {
	r := reader{b: s.body}
	switch s.id {
	case secType:
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			if form := r.byte(); form != 0x60 {
				r.fail("type form 0x%02x", form)
			}
			params := r.u32()
			r.bytes(int(params))
			r.bytes(int(r.u32())) // results
			m.paramCounts = append(m.paramCounts, params)
		}
	case secImport:
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.name()
			r.name()
			switch kind := r.byte(); kind {
			case 0x00: // func: type index
				r.u32()
			case 0x01: // table: reftype, limits
				r.byte()
				r.limits()
			case 0x02: // memory: limits
				r.limits()
				m.hasMemory = true
			case 0x03: // global: valtype, mutability
				r.byte()
				r.byte()
				m.globals++
			default:
				r.fail("import kind 0x%02x", kind)
			}
		}
	case secFunction:
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			m.funcTypes = append(m.funcTypes, r.u32())
		}
	case secMemory:
		// An empty memory section is valid; it gets the memory below.
		m.hasMemory = m.hasMemory || r.u32() > 0
	case secGlobal:
		m.globals += r.u32()
	case secStart:
		m.startFunc = s.body
	case secExport:
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			if name := r.name(); name == stopExport || name == budgetExport || name == startExport {
				return badModule("module exports %q, a name this executor reserves", name)
			}
			r.byte()
			r.u32()
		}
	}
	return r.err
}

// insertSection puts s before the first non-custom section that must follow
// it.
func insertSection(sections []section, s section) []section {
	for i, t := range sections {
		if t.id != secCustom && sectionOrder[t.id] > sectionOrder[s.id] {
			return append(sections[:i:i], append([]section{s}, sections[i:]...)...)
		}
	}
	return append(sections, s)
}

// appendToVector adds n encoded entries to the end of a section that is a
// vector (a count, then the entries).
func appendToVector(body []byte, n uint32, entries []byte) ([]byte, error) {
	count, k, err := readU32(body)
	if err != nil {
		return nil, badModule("%v", err)
	}
	out := appendU32(make([]byte, 0, len(body)+len(entries)+5), count+n)
	out = append(out, body[k:]...)
	return append(out, entries...), nil
}

func appendPoll(b []byte, stop uint32) []byte {
	b = append(b, 0x41, 0x00, 0x40, 0x00, 0x1a, 0x23) // i32.const 0, memory.grow 0, drop, global.get
	b = appendU32(b, stop)
	return append(b, 0x04, 0x40, 0x00, 0x0b) // if, unreachable, end
}

func entryCheck(stop, budget uint32) []byte {
	b := appendU32([]byte{0x23}, budget)        // global.get $budget
	b = append(b, 0x41, 0x01, 0x6b, 0x24)       // i32.const 1, i32.sub, global.set
	b = appendU32(b, budget)                    //   $budget
	b = appendU32(append(b, 0x23), budget)      // global.get $budget
	b = append(b, 0x45, 0x04, 0x40)             // i32.eqz, if
	b = appendPoll(b, stop)                     //   <poll>
	b = appendS32(append(b, 0x41), budgetSteps) // i32.const budgetSteps
	b = appendU32(append(b, 0x24), budget)      // global.set $budget
	return append(b, 0x0b)                      // end
}

func loopCheck(stop, counter uint32) []byte {
	b := appendU32([]byte{0x20}, counter)         // local.get $n
	b = append(b, 0x41, 0x01, 0x6a, 0x22)         // i32.const 1, i32.add, local.tee
	b = appendU32(b, counter)                     //   $n
	b = appendS32(append(b, 0x41), budgetSteps-1) // i32.const budgetSteps-1
	b = append(b, 0x71, 0x45, 0x04, 0x40)         // i32.and, i32.eqz, if
	b = appendPoll(b, stop)                       //   <poll>
	return append(b, 0x0b)                        // end
}

// instrumentCode rewrites the code section, function by function.
func instrumentCode(body []byte, info *moduleInfo, stop, budget uint32) ([]byte, error) {
	r := reader{b: body}
	n := r.u32()
	if r.err == nil && int(n) != len(info.funcTypes) {
		return nil, badModule("%d function bodies for %d functions", n, len(info.funcTypes))
	}
	out := appendU32(make([]byte, 0, len(body)+len(body)/4), n)
	entry := entryCheck(stop, budget)
	var fn []byte
	for i := range n {
		size := r.u32()
		code := r.bytes(int(size))
		if r.err != nil {
			return nil, r.err
		}
		typ := info.funcTypes[i]
		if int(typ) >= len(info.paramCounts) {
			return nil, badModule("function %d has type %d, which does not exist", i, typ)
		}
		var err error
		fn, err = instrumentFunc(fn[:0], code, info.paramCounts[typ], stop, entry)
		if err != nil {
			return nil, badModule("function %d: %v", i, err)
		}
		out = appendU32(out, uint32(len(fn)))
		out = append(out, fn...)
	}
	if r.err == nil && r.off != len(body) {
		r.fail("%d bytes after the last function", len(body)-r.off)
	}
	return out, r.err
}

// instrumentFunc adds the loop counter local and the checks to one function
// body.
func instrumentFunc(out, code []byte, params uint32, stop uint32, entry []byte) ([]byte, error) {
	r := reader{b: code}
	groups := r.u32()
	locals := uint64(params)
	for range groups {
		locals += uint64(r.u32())
		r.byte() // valtype
	}
	if r.err != nil {
		return nil, r.err
	}
	if locals >= 1<<32-1 {
		return nil, errors.New("too many locals")
	}
	body := code[r.off:]
	loop := loopCheck(stop, uint32(locals))

	// Locals: the same groups and one more, (1 i32), for $n.
	out = appendU32(out, groups+1)
	_, k, _ := readU32(code)
	out = append(out, code[k:r.off]...)
	out = append(out, 0x01, 0x7f)

	// First pass: does the function call anything? Only then can it
	// recurse without passing a loop head.
	calls := false
	for br := (reader{b: body}); br.off < len(body) && br.err == nil; {
		op := br.byte()
		br.skipImmediates(op)
		calls = calls || op == 0x10 || op == 0x11
	}
	if calls {
		out = append(out, entry...)
	}

	br := reader{b: body}
	from := 0
	for br.off < len(body) && br.err == nil {
		op := br.byte()
		br.skipImmediates(op)
		if op == 0x03 && br.err == nil { // loop: check at its head
			out = append(out, body[from:br.off]...)
			out = append(out, loop...)
			from = br.off
		}
	}
	if br.err != nil {
		return nil, br.err
	}
	return append(out, body[from:]...), nil
}

// reader decodes the parts of the binary format instrument needs. The
// first error sticks; later reads return zero values.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = badModule("byte %d: %s", r.off, fmt.Sprintf(format, args...))
	}
}

func (r *reader) byte() byte {
	if r.err != nil || r.off >= len(r.b) {
		r.fail("unexpected end")
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *reader) peek() byte {
	if r.off < len(r.b) {
		return r.b[r.off]
	}
	return 0
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b)-r.off {
		r.fail("unexpected end")
		return nil
	}
	b := r.b[r.off : r.off+n]
	r.off += n
	return b
}

func (r *reader) u32() uint32 {
	if r.err != nil {
		return 0
	}
	v, n, err := readU32(r.b[r.off:])
	if err != nil {
		r.fail("%v", err)
		return 0
	}
	r.off += n
	return v
}

// sleb skips a signed LEB128 of at most maxBytes bytes.
func (r *reader) sleb(maxBytes int) {
	for i := 0; i < maxBytes; i++ {
		if r.byte()&0x80 == 0 {
			return
		}
	}
	r.fail("integer too long")
}

func (r *reader) name() string { return string(r.bytes(int(r.u32()))) }

func (r *reader) limits() {
	flags := r.byte()
	r.u32()
	if flags&1 != 0 {
		r.u32()
	}
}

func (r *reader) memarg() {
	r.u32() // alignment
	r.u32() // offset
}

func (r *reader) blockType() {
	// 0x40 (no values) and value types (0x6f externref to 0x7f i32) are one
	// byte; anything else is a type index, whose first LEB128 byte is
	// below 0x40 or has the continuation bit set.
	if b := r.peek(); b == 0x40 || (b >= 0x6f && b <= 0x7f) {
		r.off++ // empty, or a single value type
		return
	}
	r.sleb(5) // a type index, as a signed 33-bit number
}

// skipImmediates advances past op's immediates, for the instructions of
// WebAssembly 2.0 as wazero's default features enable them (MVP, sign
// extension, saturating conversions, bulk memory, reference types,
// multi-value, fixed-width SIMD). Anything else is an error.
func (r *reader) skipImmediates(op byte) {
	switch {
	case op == 0x02 || op == 0x03 || op == 0x04: // block, loop, if
		r.blockType()
	case op == 0x0c || op == 0x0d: // br, br_if
		r.u32()
	case op == 0x0e: // br_table
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.u32()
		}
		r.u32()
	case op == 0x10: // call
		r.u32()
	case op == 0x11: // call_indirect
		r.u32()
		r.u32()
	case op == 0x1c: // select t*
		r.bytes(int(r.u32()))
	case op >= 0x20 && op <= 0x26: // local.*, global.*, table.get/set
		r.u32()
	case op >= 0x28 && op <= 0x3e: // loads and stores
		r.memarg()
	case op == 0x3f || op == 0x40: // memory.size, memory.grow
		r.u32()
	case op == 0x41: // i32.const
		r.sleb(5)
	case op == 0x42: // i64.const
		r.sleb(10)
	case op == 0x43: // f32.const
		r.bytes(4)
	case op == 0x44: // f64.const
		r.bytes(8)
	case op == 0xd0: // ref.null
		r.byte()
	case op == 0xd2: // ref.func
		r.u32()
	case op == 0xfc:
		r.skipMisc(r.u32())
	case op == 0xfd:
		r.skipSIMD(r.u32())
	case op <= 0x01, op == 0x05, op == 0x0b, op == 0x0f, op == 0x1a, op == 0x1b,
		op >= 0x45 && op <= 0xc4, op == 0xd1:
		// no immediates
	default:
		r.fail("instruction 0x%02x is not in the WebAssembly 2.0 features this executor enables", op)
	}
}

func (r *reader) skipMisc(sub uint32) {
	switch {
	case sub <= 7: // saturating truncations
	case sub == 8: // memory.init data, memory
		r.u32()
		r.u32()
	case sub == 9: // data.drop
		r.u32()
	case sub == 10: // memory.copy
		r.u32()
		r.u32()
	case sub == 11: // memory.fill
		r.u32()
	case sub == 12 || sub == 14: // table.init elem table, table.copy table table
		r.u32()
		r.u32()
	case sub == 13 || sub == 15 || sub == 16 || sub == 17: // elem.drop, table.grow/size/fill
		r.u32()
	default:
		r.fail("instruction 0xfc %d is not in the WebAssembly 2.0 features this executor enables", sub)
	}
}

func (r *reader) skipSIMD(sub uint32) {
	switch {
	case sub <= 0x0b || sub == 0x5c || sub == 0x5d: // loads, stores, load_zero
		r.memarg()
	case sub == 0x0c || sub == 0x0d: // v128.const, i8x16.shuffle
		r.bytes(16)
	case sub >= 0x15 && sub <= 0x22: // extract_lane, replace_lane
		r.byte()
	case sub >= 0x54 && sub <= 0x5b: // load_lane, store_lane
		r.memarg()
		r.byte()
	case sub <= 0xff:
		// no immediates
	default:
		r.fail("instruction 0xfd %d is not in the WebAssembly 2.0 features this executor enables", sub)
	}
}

func appendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendS32(b []byte, v int32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendName(b []byte, s string) []byte {
	return append(appendU32(b, uint32(len(s))), s...)
}

var errNotInstrumented = errors.New("exec/wasm: module has no stop globals; it was not instrumented")
