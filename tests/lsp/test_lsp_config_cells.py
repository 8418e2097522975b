"""tl_lsp.config (settings from the client) and tl_lsp.cells (run-cell boundaries)."""

from __future__ import annotations

import dataclasses

from tl_lsp.cells import cell_lines
from tl_lsp.config import Config, ignored_launch_settings

TEXT = "let a = 1\n// %% first\nlet b = 2\n\n  // %% second\nlet c = 3\n"


def test_cells_by_marker():
    assert cell_lines(TEXT, 0) == (0, 1)  # before the first marker
    assert cell_lines(TEXT, 1) == (1, 4)  # the marker line opens its cell
    assert cell_lines(TEXT, 3) == (1, 4)
    assert cell_lines(TEXT, 5) == (4, 7)  # indented marker; through the last line
    assert cell_lines(TEXT, 99) == (4, 7)
    assert cell_lines("x\n# cell\ny\n", 2, marker="# cell") == (
        1,
        4,
    )  # 4 lines with the last, empty one


def test_config_from_client_settings():
    settings = {
            "tensorlogic": {
                "python": " /opt/py/bin/python3 ",
                "device": "gpu",
                "cellMarker": "# %%",
                "inlayRunResults": False,
                "diagnosticsDelayMs": 5,
                "completionLimit": 50,
            }
        }
    c = Config().merged(settings, launch=True)
    assert (c.python, c.device, c.cell_marker, c.inlay_run_results) == (
        "/opt/py/bin/python3", "gpu", "# %%", False,
    )  # fmt: skip
    assert (c.diagnostics_delay_ms, c.completion_limit) == (5, 50)
    assert c.merged({"device": "auto"}).device is None
    # a workspace's settings (launch=False) never choose the kernel's Python
    assert Config().merged(settings) == dataclasses.replace(c, python=Config().python)
    assert ignored_launch_settings(settings, Config()) == ["python"]
    assert ignored_launch_settings(settings, c) == []


def test_bad_settings_are_ignored():
    default = Config()
    bad = {
        "python": "",
        "device": "tpu",
        "cellMarker": 3,
        "inlayRunResults": "yes",
        "diagnosticsDelayMs": -1,
        "progressDelayMs": True,
    }
    assert default.merged(bad) == default
    assert default.merged(None) == default
    assert default.merged(["not", "a", "dict"]) == default
