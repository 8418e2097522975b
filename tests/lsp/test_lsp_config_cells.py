"""tl_lsp.config (settings from the client)."""

from __future__ import annotations

import dataclasses

from tl_lsp.config import Config, ignored_launch_settings


def test_config_from_client_settings():
    settings = {
            "tensorlogic": {
                "python": " /opt/py/bin/python3 ",
                "device": "gpu",
                "cellMarker": "# %%",
                "inlayRunResults": False,  # no longer a setting: ignored
                "diagnosticsDelayMs": 5,
                "completionLimit": 50,
            }
        }
    c = Config().merged(settings, launch=True)
    assert (c.python, c.device, c.cell_marker) == ("/opt/py/bin/python3", "gpu", "# %%")
    assert not hasattr(c, "inlay_run_results")
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
