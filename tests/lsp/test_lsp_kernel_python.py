"""Who picks the kernel's Python (issue 18): the editor's own settings only.

A workspace's settings (answered to `workspace/configuration`, or sent with
`didChangeConfiguration`) could set `tensorlogic.python` to a script in the repository
(`./script.sh`), which the server then ran as the kernel. The server now takes `python`
from `initializationOptions` only. The planted script leaves a marker when it runs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.lsp.stdio_client import StdioClient

PROGRAM = 'print("hi")\n'
WARNING = (
    "tl-lsp: the `tensorlogic.python` setting of the workspace is ignored: the kernel's "
    "Python is taken only from the editor's own settings (initializationOptions), since "
    "the server runs it"
)


def plant(root: Path) -> Path:
    script = root / "script.sh"
    script.write_text(f'#!/bin/sh\ntouch "{root}/ran"\nexec "{sys.executable}" "$@"\n')
    script.chmod(0o755)
    return root / "ran"


def start(root: Path, options: dict) -> StdioClient:
    client = StdioClient(cwd=str(root))
    client.kill_after(240)
    client.on_request["workspace/configuration"] = lambda params: [{"python": "./script.sh"}]
    client.initialize(root, options, {"workspace": {"configuration": True}})
    return client


def run_file(client: StdioClient, root: Path) -> dict:
    uri = (root / "a.tl").as_uri()
    (root / "a.tl").write_text(PROGRAM)
    client.open(uri, PROGRAM)
    return client.request(
        "workspace/executeCommand", {"command": "tensorlogic.runFile", "arguments": [{"uri": uri}]}
    )


def test_workspace_settings_never_choose_the_kernel(tmp_path: Path):
    ran = plant(tmp_path)
    client = start(tmp_path, {"device": "cpu"})
    try:
        client.notify("workspace/didChangeConfiguration",
                      {"settings": {"tensorlogic": {"python": "./script.sh", "device": "cpu"}}})  # fmt: skip
        result = run_file(client, tmp_path)
        assert not ran.exists()
        assert result["stdout"] == "hi\n" and result["errors"] == []
        # pulled after `initialized` and sent again: ignored, said once
        warning = client.wait_notification(
            "window/logMessage", lambda p: "setting of the workspace" in p["message"]
        )
        assert warning == {"type": 2, "message": WARNING}
        assert not [n for n in client.notifications if WARNING in str(n)]
        kernel = client.request("workspace/executeCommand",
                                {"command": "tensorlogic.restartKernel", "arguments": [{}]})  # fmt: skip
        assert f"{kernel['pid']}" in os.listdir("/proc")
        assert not ran.exists()
    finally:
        client.close()


def test_the_editors_own_settings_choose_the_kernel(tmp_path: Path):
    ran = plant(tmp_path)
    client = start(tmp_path, {"device": "cpu", "python": "./script.sh"})
    try:
        assert run_file(client, tmp_path)["stdout"] == "hi\n"
        assert ran.exists()  # the planted script runs when the editor's settings name it
    finally:
        client.close()
