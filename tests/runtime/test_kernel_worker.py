"""tl_core.kernel.worker's output stream: printed text goes out while a cell runs."""

from __future__ import annotations

import threading
import time

from tl_core.kernel.worker import OutputStream


class Sink:
    """Stands in for the Worker: collects what it would send to the kernel."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.lock = threading.Lock()

    def send(self, msg: dict) -> None:
        with self.lock:
            self.sent.append(msg)

    def texts(self) -> list[str]:
        with self.lock:
            return [m["params"]["text"] for m in self.sent]


def test_text_printed_soon_after_a_print_goes_out_without_a_later_print():
    """A token printed right after another (within the batching interval) is sent even when
    the program prints nothing more for a long time (a slow decode step): it used to wait
    for the next print or the end of the run."""
    sink = Sink()
    out = OutputStream(sink, 7, "file:///a.tl")  # type: ignore[arg-type]
    out.write("Hello")
    out.write(", world")  # batched with whatever follows within the interval
    deadline = time.monotonic() + 10
    while "".join(sink.texts()) != "Hello, world" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "".join(sink.texts()) == "Hello, world"
    assert [m["params"]["id"] for m in sink.sent] == [7] * len(sink.sent)
    out.flush()  # the run's end: nothing left, nothing sent twice
    assert "".join(sink.texts()) == "Hello, world"


def test_many_prints_are_batched_in_order():
    sink = Sink()
    out = OutputStream(sink, 1, "u")  # type: ignore[arg-type]
    for i in range(1000):
        out.write(f"{i} ")
    out.flush()
    assert "".join(sink.texts()) == "".join(f"{i} " for i in range(1000))
    assert len(sink.sent) < 1000
