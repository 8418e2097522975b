"""Server settings: from `initializationOptions` and `workspace/configuration` ("tensorlogic").

`python` (the kernel's Python: the server runs it) is taken from `initializationOptions`
only: those come from the editor process itself (the VS Code extension sends its resolved
machine-scoped `pythonPath`; Neovim the user's `setup()`), while `workspace/configuration`
and `didChangeConfiguration` carry a workspace's own settings, which a cloned repository
can set (`"python": "./script.sh"` ran that script as the kernel; issue 18).
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from typing import Any

SECTION = "tensorlogic"

# settings a workspace may not choose: taken from `initializationOptions` only
LAUNCH_ONLY = frozenset({"python"})

# camelCase key (as clients send it) -> field name
_KEYS = {
    "python": "python",
    "device": "device",
    "cellMarker": "cell_marker",
    "diagnosticsDelayMs": "diagnostics_delay_ms",
    "progressDelayMs": "progress_delay_ms",
    "completionLimit": "completion_limit",
    "warmDelayMs": "warm_delay_ms",
}


@dataclass(frozen=True)
class Config:
    python: str = sys.executable  # the Python that runs `-m tl_core.kernel`
    device: str | None = None  # "gpu" | "cpu" | None (kernel's choice)
    cell_marker: str = "// %%"
    # debounce before analysing a changed document during a burst. 0: each change is
    # analysed at once and a newer one cancels it at its next checkpoint; a debounce of 20
    # delayed the last change of a burst by far more than 20 ms on a loaded machine (its
    # timer and the analysis thread each wait to be scheduled): bench/lsp.py, typing, the
    # last edit's diagnostics after bursts at 100/s, load 8: p50 250 ms with 20, 150-180 with 0
    diagnostics_delay_ms: int = 0
    progress_delay_ms: int = 300  # analysis longer than this shows $/progress
    completion_limit: int = 200  # longer lists are cut (best first) and marked incomplete
    warm_delay_ms: int = 150  # pause in typing after which a fresh analysis is fully built

    def merged(self, options: Any, launch: bool = False) -> Config:
        """This config updated from a client's settings object; bad values are ignored,
        and so are the `LAUNCH_ONLY` settings unless `launch` (the options are the
        client's `initializationOptions`)."""
        if not isinstance(options, dict):
            return self
        if isinstance(options.get(SECTION), dict):  # {"tensorlogic": {...}}
            options = options[SECTION]
        changes: dict[str, Any] = {}
        for key, field in _KEYS.items():
            if key not in options and field not in options:
                continue
            if field in LAUNCH_ONLY and not launch:
                continue
            value = options.get(key, options.get(field))
            if field == "device":
                if value in ("gpu", "cpu", None, "auto", ""):
                    changes[field] = value if value in ("gpu", "cpu") else None
            elif field in ("python", "cell_marker"):
                if isinstance(value, str) and value.strip():
                    changes[field] = value.strip() if field == "python" else value
            elif isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
                changes[field] = int(value)
        return dataclasses.replace(self, **changes)


def ignored_launch_settings(options: Any, config: Config) -> list[str]:
    """The `LAUNCH_ONLY` settings in a workspace's settings object that differ from
    `config` (to say that they were ignored)."""
    if not isinstance(options, dict):
        return []
    if isinstance(options.get(SECTION), dict):
        options = options[SECTION]
    return [
        key
        for key in sorted(LAUNCH_ONLY)
        if key in options and config.merged({key: options[key]}, launch=True) != config
    ]
