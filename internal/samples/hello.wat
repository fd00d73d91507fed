;; hello: the smallest useful WASI preview 1 command. It writes a greeting to
;; stdout, then copies stdin to stdout until end of file, and exits 0 by
;; returning from _start. Hand-written so that it is a few hundred bytes: the
;; executor's warm-start benchmark and quick smoke tests use it.
;;
;; Rebuild with scripts/gen-samples (wat2wasm from wabt).
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit"
    (func $proc_exit (param i32)))

  (memory (export "memory") 1)

  ;; Layout of the single page:
  ;;   0..8     iovec {buf, len} shared by reads and writes
  ;;   8..12    nread / nwritten
  ;;   16..     the greeting
  ;;   1024..   the copy buffer (4 KiB)
  (data (i32.const 16) "hello from hayek\n")

  ;; write(buf, len) writes all of buf to stdout, or exits 1 on error.
  (func $write (param $buf i32) (param $len i32)
    (local $n i32)
    (block $done
      (loop $more
        (br_if $done (i32.eqz (local.get $len)))
        (i32.store (i32.const 0) (local.get $buf))
        (i32.store (i32.const 4) (local.get $len))
        (if (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))
          (then (call $proc_exit (i32.const 1))))
        (local.set $n (i32.load (i32.const 8)))
        (local.set $buf (i32.add (local.get $buf) (local.get $n)))
        (local.set $len (i32.sub (local.get $len) (local.get $n)))
        (br $more))))

  (func (export "_start")
    (local $n i32)
    (call $write (i32.const 16) (i32.const 17))
    (block $eof
      (loop $copy
        (i32.store (i32.const 0) (i32.const 1024))
        (i32.store (i32.const 4) (i32.const 4096))
        (if (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8))
          (then (call $proc_exit (i32.const 1))))
        (local.set $n (i32.load (i32.const 8)))
        (br_if $eof (i32.eqz (local.get $n)))
        (call $write (i32.const 1024) (local.get $n))
        (br $copy)))))
