"""Server settings: from `initializationOptions` and `workspace/configuration` ("tensorlogic")."""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from typing import Any

SECTION = "tensorlogic"

# camelCase key (as clients send it) -> field name
_KEYS = {
    "python": "python",
    "device": "device",
    "cellMarker": "cell_marker",
    "inlayRunResults": "inlay_run_results",
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
    inlay_run_results: bool = True
    diagnostics_delay_ms: int = 20  # debounce before analysing a changed document
    progress_delay_ms: int = 300  # analysis longer than this shows $/progress
    completion_limit: int = 200  # longer lists are cut (best first) and marked incomplete
    warm_delay_ms: int = 150  # pause in typing after which a fresh analysis is fully built

    def merged(self, options: Any) -> Config:
        """This config updated from a client's settings object; bad values are ignored."""
        if not isinstance(options, dict):
            return self
        if isinstance(options.get(SECTION), dict):  # {"tensorlogic": {...}}
            options = options[SECTION]
        changes: dict[str, Any] = {}
        for key, field in _KEYS.items():
            if key not in options and field not in options:
                continue
            value = options.get(key, options.get(field))
            if field == "device":
                if value in ("gpu", "cpu", None, "auto", ""):
                    changes[field] = value if value in ("gpu", "cpu") else None
            elif field in ("python", "cell_marker"):
                if isinstance(value, str) and value.strip():
                    changes[field] = value.strip() if field == "python" else value
            elif field == "inlay_run_results":
                if isinstance(value, bool):
                    changes[field] = value
            elif isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
                changes[field] = int(value)
        return dataclasses.replace(self, **changes)
