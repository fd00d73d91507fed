;; features exercises every kind of instruction immediate that instrument
;; must step over (see interrupt.go): block types by value and by type
;; index, br_table, select with types, memory and table operations, bulk
;; memory, reference types, saturating conversions, sign extension and
;; SIMD. _start computes a checksum through all of them and exits with it
;; (proc_exit), so a test can compare the instrumented module's result with
;; the original's.
;;
;; Rebuild with scripts/gen-samples (wat2wasm from wabt).
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (type $pair (func (param i32) (result i32 i32)))
  (type $unop (func (param i32) (result i32)))
  (memory 1 2)
  (table $t 4 funcref)
  (global $g (mut i32) (i32.const 7))
  (data $d "\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f\10")
  (elem $e func $twice $inc)
  (elem (table $t) (i32.const 0) func $twice $inc)

  (func $twice (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
  (func $inc (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func $split (type $pair) (local.get 0) (i32.const 3))

  (func $loops (param $n i32) (result i32)
    (local $acc i32)
    (block $out
      (loop $again
        (br_if $out (i32.eqz (local.get $n)))
        (local.set $acc (i32.add (local.get $acc) (local.get $n)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $again)))
    ;; a loop with a parameter, typed by index
    (i32.const 5)
    (loop $withparam (type $pair) (param i32) (result i32 i32)
      (i32.const 3))
    (drop)
    (drop)
    (local.get $acc))

  (func (export "_start")
    (local $x i32) (local $v v128) (local $f f32) (local $r funcref)
    ;; br_table
    (block $a (block $b (block $c
      (br_table $a $b $c (i32.const 1)))
      (local.set $x (i32.const 100)))
      (local.set $x (i32.add (local.get $x) (i32.const 10))))
    ;; select with a type, call_indirect, globals
    (local.set $x (select (result i32) (local.get $x) (i32.const 0) (i32.const 1)))
    (local.set $x (call_indirect (type $unop) (local.get $x) (i32.const 1)))
    (global.set $g (i32.add (global.get $g) (local.get $x)))
    ;; multi-value block and call
    (block (result i32 i32) (call $split (i32.const 4)))
    (local.set $x (i32.add (i32.add) (local.get $x)))
    ;; memory, bulk memory, data and elem segments, tables, refs
    (memory.init $d (i32.const 0) (i32.const 0) (i32.const 16))
    (memory.copy (i32.const 32) (i32.const 0) (i32.const 16))
    (memory.fill (i32.const 64) (i32.const 9) (i32.const 8))
    (data.drop $d)
    (table.init $t $e (i32.const 2) (i32.const 0) (i32.const 2))
    (table.copy $t $t (i32.const 0) (i32.const 2) (i32.const 1))
    (elem.drop $e)
    (local.set $r (table.get $t (i32.const 3)))
    (table.set $t (i32.const 1) (ref.func $twice))
    (drop (table.grow $t (ref.null func) (i32.const 1)))
    (table.fill $t (i32.const 4) (ref.null func) (i32.const 1))
    (local.set $x (i32.add (local.get $x) (table.size $t)))
    (local.set $x (i32.add (local.get $x) (i32.load8_u offset=35 (i32.const 0))))
    (local.set $x (i32.add (local.get $x) (i32.load offset=64 align=4 (i32.const 0))))
    (i64.store (i32.const 128) (i64.const -9000000000))
    (local.set $x (i32.add (local.get $x) (i32.wrap_i64 (i64.load (i32.const 128)))))
    (drop (memory.grow (i32.const 1)))
    (local.set $x (i32.add (local.get $x) (memory.size)))
    (if (ref.is_null (local.get $r)) (then (unreachable)))
    ;; numbers: floats, saturating and sign-extending conversions
    (local.set $f (f32.const 2.5))
    (local.set $x (i32.add (local.get $x) (i32.trunc_sat_f32_s (f32.mul (local.get $f) (f32.const 4)))))
    (local.set $x (i32.add (local.get $x) (i32.trunc_sat_f64_u (f64.const -1))))
    (local.set $x (i32.add (local.get $x) (i32.extend8_s (i32.const 0x80))))
    ;; SIMD: const, shuffle, lanes, loads and stores with lanes
    (local.set $v (v128.const i32x4 1 2 3 4))
    (local.set $v (i8x16.shuffle 4 5 6 7 0 1 2 3 12 13 14 15 8 9 10 11 (local.get $v) (local.get $v)))
    (local.set $v (i32x4.replace_lane 3 (local.get $v) (i32.const 40)))
    (local.set $v (v128.load32_lane offset=0 1 (i32.const 0) (local.get $v)))
    (v128.store32_lane 2 (i32.const 256) (local.get $v))
    (v128.store (i32.const 272) (i32x4.add (local.get $v) (v128.load32_zero (i32.const 256))))
    (local.set $x (i32.add (local.get $x) (i32x4.extract_lane 3 (v128.load (i32.const 272)))))
    (local.set $x (i32.add (local.get $x) (i32x4.extract_lane 0 (v128.load8x8_s (i32.const 0)))))
    ;; loops and a recursive call
    (local.set $x (i32.add (local.get $x) (call $loops (i32.const 100))))
    (call $exit (i32.and (i32.add (local.get $x) (global.get $g)) (i32.const 0xff))))
)
