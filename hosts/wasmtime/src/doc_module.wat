;; A hand-written module that speaks the host-async ABI, for the crate's documentation examples:
;; `double(x)` completes during its call (EXIT), `fetch(n)` waits for the host operation that
;; `host.fetch(n)` starts and resolves with the value it completes with (for bytes: their
;; length), and `trap()` traps. Call ids count up from 1; tokens index a table at address 0.
(module
  (import "wasmexport" "[task-return]double" (func $return_double (param i32 i32)))
  (import "wasmexport" "[task-return]fetch" (func $return_fetch (param i32 i32)))
  (import "wasmexport" "[task-return]trap" (func $return_trap (param i32)))
  (import "host" "fetch" (func $fetch (param i32) (result i32)))
  (memory (export "memory") 1)
  (global $next_id (mut i32) (i32.const 1))

  (func $new_id (result i32)
    (global.get $next_id)
    (global.set $next_id (i32.add (global.get $next_id) (i32.const 1))))

  ;; The address of the slot that holds the id of the call waiting for `token`.
  (func $slot (param $token i32) (result i32)
    (i32.shl (i32.and (local.get $token) (i32.const 1023)) (i32.const 2)))

  (func (export "_initialize"))

  (func (export "double") (param $x i32) (result i32)
    (local $id i32)
    (local.set $id (call $new_id))
    (call $return_double (local.get $id) (i32.mul (local.get $x) (i32.const 2)))
    ;; EXIT (0), with the id
    (i32.shl (local.get $id) (i32.const 4)))

  (func (export "fetch") (param $n i32) (result i32)
    (local $id i32)
    (local.set $id (call $new_id))
    (i32.store (call $slot (call $fetch (local.get $n))) (local.get $id))
    ;; WAIT (2), with the id
    (i32.or (i32.shl (local.get $id) (i32.const 4)) (i32.const 2)))

  (func (export "trap") (result i32)
    unreachable)

  (func (export "wasmexport_complete") (param $token i32) (param $value i32) (result i32)
    (local $id i32)
    (local.set $id (i32.load (call $slot (local.get $token))))
    (if (local.get $id)
      (then
        (i32.store (call $slot (local.get $token)) (i32.const 0))
        (call $return_fetch (local.get $id) (local.get $value))))
    (i32.const -1))

  (func (export "wasmexport_buffer") (param $token i32) (param $len i32) (result i32)
    (i32.const 4096))

  (func (export "wasmexport_drive") (result i32)
    (i32.const -1)))
