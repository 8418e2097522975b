"""Running hostile cases in a child process under hard bounds.

A case that hangs is killed at `timeout` (reported, never waited for); a case that would
allocate without bound meets `RLIMIT_AS` (a MemoryError or a death in the child, never the
test machine's memory). The child's peak resident memory comes back (`maxrss`), so tests
can say how much memory a case was allowed to cost.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
GiB = 1 << 30


@dataclass(frozen=True)
class Child:
    rc: int | None  # None: killed at the timeout
    stdout: str
    stderr: str
    maxrss: int  # peak resident bytes of the child

    @property
    def hung(self) -> bool:
        return self.rc is None

    def json(self) -> Any:
        return json.loads(self.stdout.strip().splitlines()[-1])


def _limits(address_space: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_child(code: str, timeout: float = 120, address_space: int = 4 * GiB,
              cwd: str | None = None, env: dict[str, str] | None = None,
              argv: list[str] | None = None) -> Child:
    """Run `code` (Python) with the repository importable, at most `timeout` seconds and
    `address_space` bytes of virtual memory. The peak RSS is read from the child itself
    (`peak_rss`; the wrapper adds it to stderr, taken out again here)."""
    wrapper = (
        "import sys\n"
        "from tests.hostile.bounded import peak_rss\n"
        "try:\n"
        f"    exec(compile({code!r}, '<hostile case>', 'exec'))\n"
        "finally:\n"
        "    sys.stdout.flush()\n"
        "    print('MAXRSS', peak_rss() // 1024, file=sys.stderr)\n"
    )
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-c", wrapper, *(argv or [])], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, cwd=cwd, env=full_env,
        preexec_fn=lambda: _limits(address_space), start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
        rc: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, err = proc.communicate()
        rc = None
    maxrss = 0
    lines = err.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("MAXRSS "):
            maxrss = int(line.split()[1]) * 1024
            err = "\n".join(lines[:i] + lines[i + 1:])
            break
    return Child(rc, out, err, maxrss)


def peak_rss() -> int:
    """This process's peak resident bytes since it started its program (VmHWM: unlike
    `getrusage`'s ru_maxrss, which Linux carries over `exec` from the forked parent, so a
    child of a 1 GB pytest reports at least 1 GB)."""
    return rss_of(os.getpid())


def rss_of(pid: int, key: str = "VmHWM") -> int:
    """Resident bytes of a running process from /proc (VmRSS now, VmHWM its peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def children_of(pid: int) -> list[int]:
    """The direct child processes of `pid` (every thread's)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out
