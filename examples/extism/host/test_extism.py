"""The extism-filter plugin (examples/extism/guest) in Extism's Python SDK, whose native
runtime runs wasmtime. `cargo xtask test` installs requirements.txt into a venv and runs this
with EXTISM_FILTER_WASM set to the plugin's path."""

import os
import threading
import time
import unittest

import extism

WASM = open(os.environ["EXTISM_FILTER_WASM"], "rb").read()


def plugin(config=None, **manifest):
    return extism.Plugin({"wasm": [{"data": WASM}], "config": config or {}, **manifest}, wasi=True)


def text(data):
    return bytes(data).decode()


class FilterPlugin(unittest.TestCase):
    def test_filter_and_state_between_calls(self):
        p = plugin({"deny": "spam, Ads"})
        self.assertEqual(p.call("filter", "hello\nbuy SPAM now\nworld\nads here\n", text), "hello\nworld\n")
        self.assertEqual(p.call("stats", b"", text), "calls=1 kept=2 dropped=2")

    def test_a_panic_and_the_call_after_it_carry_their_line_in_the_error(self):
        p = plugin()
        with self.assertRaises(extism.Error) as panic:
            p.call("crash", b"oh no")
        self.assertRegex(
            str(panic.exception),
            r'^wasmexport: panic in export "crash": oh no at src/lib\.rs:\d+:\d+; the instance is poisoned',
        )
        with self.assertRaises(extism.Error) as after:
            p.call("stats", b"")
        self.assertEqual(
            str(after.exception),
            'wasmexport: module poisoned by an earlier panic: export "stats" cannot run; create a new instance',
        )

    def test_a_timeout_ends_a_sleeping_call_and_poisons_the_plugin(self):
        p = plugin(timeout_ms=300)
        start = time.perf_counter()
        with self.assertRaisesRegex(extism.Error, "timeout"):
            p.call("sleep_ms", b"1500")
        took = time.perf_counter() - start
        # The plugin waits in 10 ms slices (set_max_wait), where the timeout can land.
        self.assertLess(took, 1.0, f"the 1,500 ms sleep ran {took:.3f} s under a 300 ms timeout")
        with self.assertRaisesRegex(extism.Error, r'^wasmexport: module poisoned: an earlier call did not return'):
            p.call("stats", b"")

    def test_a_cancel_ends_a_sleeping_call_and_poisons_the_plugin(self):
        p = plugin()
        threading.Timer(0.1, p.cancel_handle().cancel).start()
        start = time.perf_counter()
        with self.assertRaises(extism.Error):
            p.call("sleep_ms", b"1500")
        self.assertLess(time.perf_counter() - start, 1.0)
        with self.assertRaisesRegex(extism.Error, r"^wasmexport: module poisoned: an earlier call did not return"):
            p.call("stats", b"")

    def test_the_memory_limit_poisons_the_plugin(self):
        p = plugin(memory={"max_pages": 40})
        with self.assertRaisesRegex(extism.Error, "oom"):
            p.call("filter", b"x\n" * (1 << 19))  # a task per line: more than 40 pages
        with self.assertRaisesRegex(extism.Error, r"^wasmexport: module poisoned: an earlier call did not return"):
            p.call("stats", b"")

    def test_sleeps_take_their_time_not_the_cpu(self):
        p = plugin()
        p.call("sleep_ms", b"5")
        wall, cpu = time.perf_counter(), time.process_time()
        p.call("sleep_ms", b"50")
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        self.assertGreaterEqual(wall, 0.049)
        self.assertLess(cpu, 0.025, f"CPU {cpu * 1000:.1f} ms for a 50 ms sleep")


if __name__ == "__main__":
    unittest.main()
