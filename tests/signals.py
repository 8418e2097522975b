"""Child processes that a test interrupts with SIGINT, whatever the test runner inherited.

A shell starts background jobs (`make test &`, `nohup`) with SIGINT ignored, children inherit
that, and Python then installs no KeyboardInterrupt handler: a `tl run` started from such a
test run would ignore the test's Ctrl-C. `interruptible` (a Popen `preexec_fn`) gives the child
the default disposition a terminal's foreground process has."""

from __future__ import annotations

import signal


def interruptible() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
