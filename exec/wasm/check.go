package wasm

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// ErrBadModule is wrapped by every error that blames the module bytes: not
// WebAssembly, invalid, or not a WASI preview 1 command. Run reports such
// modules as exec.StatusBadModule; CheckModule and Precompile return it.
var ErrBadModule = errors.New("exec/wasm: bad module")

func badModule(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadModule, fmt.Sprintf(format, args...))
}

var wasmMagic = []byte("\x00asm")

// CheckModule is the cheap test a requester runs when a job is submitted, so
// that a wrong upload (a native binary, a text file, a truncated download, a
// WASI preview 2 component) is refused with a useful message before any
// money is put on hold. It checks the magic number, the binary format
// version and that the section headers tile the file exactly; it does not
// decode or validate function bodies, which for a Go-built module costs as
// much as compiling it. A module that passes may still be reported as
// exec.StatusBadModule by Run (invalid code, missing _start, imports other
// than wasi_snapshot_preview1); Executor.Precompile does the full check.
func CheckModule(module []byte) error {
	if len(module) == 0 {
		return badModule("module is empty; upload the .wasm file your compiler produced")
	}
	if len(module) < 8 || !slices.Equal(module[:4], wasmMagic) {
		return badModule("module does not start with the WebAssembly magic number \\0asm (it starts with %q), so it is not a .wasm file; "+
			"build it for WASI preview 1, e.g. GOOS=wasip1 GOARCH=wasm go build, or cargo build --target wasm32-wasip1",
			module[:min(len(module), 8)])
	}
	switch {
	case module[4] == 1 && module[5] == 0 && module[6] == 0 && module[7] == 0:
	case module[6] == 1 && module[7] == 0:
		return badModule("module is a WebAssembly component (WASI preview 2); only core modules for WASI preview 1 run here: " +
			"build for wasm32-wasip1 instead of wasm32-wasip2")
	default:
		return badModule("module declares binary format version % x; only version 1 (01 00 00 00) is supported", module[4:8])
	}
	for off := 8; off < len(module); {
		id := module[off]
		if id > 13 {
			return badModule("byte %d: unknown section id %d; the file is corrupt or not a WebAssembly module", off, id)
		}
		size, n, err := readU32(module[off+1:])
		if err != nil {
			return badModule("byte %d: section %d header: %v; the file is truncated or corrupt, upload it again", off, id, err)
		}
		off += 1 + n
		if uint64(size) > uint64(len(module)-off) {
			return badModule("byte %d: section %d declares %d bytes but only %d remain; the file is truncated, upload it again",
				off, id, size, len(module)-off)
		}
		off += int(size)
	}
	return nil
}

// readU32 decodes an unsigned LEB128 number of at most 32 bits.
func readU32(b []byte) (v uint32, n int, err error) {
	var shift uint
	for i := 0; i < 5; i++ {
		if i >= len(b) {
			return 0, 0, errors.New("length runs past the end of the file")
		}
		c := b[i]
		v |= uint32(c&0x7f) << shift
		if c&0x80 == 0 {
			if i == 4 && c > 0x0f {
				return 0, 0, errors.New("length does not fit in 32 bits")
			}
			return v, i + 1, nil
		}
		shift += 7
	}
	return 0, 0, errors.New("length does not fit in 32 bits")
}

// wasiFunctions returns the host functions a module may import, by name.
func wasiFunctions(r wazero.Runtime) map[string]api.FunctionDefinition {
	m := r.Module(wasi_snapshot_preview1.ModuleName)
	if m == nil {
		return nil
	}
	return m.ExportedFunctionDefinitions()
}

// checkCommand verifies what wazero's compiler does not: that the module is
// a WASI preview 1 command. wazero would otherwise fail at instantiation
// with a less helpful message, or, for a missing _start, silently run
// nothing.
func checkCommand(cm wazero.CompiledModule, wasi map[string]api.FunctionDefinition) error {
	for _, imp := range cm.ImportedFunctions() {
		mod, name, _ := imp.Import()
		if mod != wasi_snapshot_preview1.ModuleName {
			return badModule("module imports function %q from module %q; only %s functions are available here, with no network and no host calls",
				name, mod, wasi_snapshot_preview1.ModuleName)
		}
		def, ok := wasi[name]
		if !ok {
			return badModule("module imports %s.%s, which WASI preview 1 does not define; rebuild against a wasip1 target",
				mod, name)
		}
		if !slices.Equal(def.ParamTypes(), imp.ParamTypes()) || !slices.Equal(def.ResultTypes(), imp.ResultTypes()) {
			return badModule("module imports %s.%s with signature %s, but WASI preview 1 defines %s",
				mod, name, signature(imp), signature(def))
		}
	}
	if mems := cm.ImportedMemories(); len(mems) > 0 {
		mod, name, _ := mems[0].Import()
		return badModule("module imports memory %s.%s; a WASI command must define its own memory", mod, name)
	}
	start, ok := cm.ExportedFunctions()["_start"]
	if !ok {
		return badModule("module exports no _start function, so it is not a WASI command (a reactor or library cannot be run as a job); " +
			"build it as an executable, e.g. package main for Go")
	}
	if len(start.ParamTypes()) != 0 || len(start.ResultTypes()) != 0 {
		return badModule("module's _start has signature %s; a WASI command's _start takes and returns nothing", signature(start))
	}
	return nil
}

func signature(def api.FunctionDefinition) string {
	names := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return strings.Join(s, ",")
	}
	return fmt.Sprintf("(%s)->(%s)", names(def.ParamTypes()), names(def.ResultTypes()))
}
