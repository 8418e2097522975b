"""End to end in a real VS Code: code-server with the built .vsix, driven by Playwright in
Debian's Chromium (tests/e2e/vscode_driver.js). Screenshots of every step land in
tests/e2e/artifacts/vscode/ (the Restricted Mode session's in its restricted/ folder).

Two sessions: a trusted one (Workspace Trust off) drives every feature; a second one opens a
workspace in Restricted Mode whose folder plants programs (`tl-lsp`, `.venv/bin/python`, a
tl-lsp named in its .vscode/settings.json) that leave a mark when run, checks that none runs
and that running code is refused with a reason, then trusts the workspace and checks that its
setting is used and code runs.

The first run installs code-server and Node 24 into .cache/code-server/ (minutes); later runs
reuse it. A failed install fails these tests: they never skip.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.e2e.vscode_install import InstallError, ensure_installed
from tests.vscode.node_tools import NodeToolError, build_vsix

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "e2e" / "artifacts" / "vscode"
DRIVER = Path(__file__).resolve().parent / "vscode_driver.js"

# The program opened in the editor. Cell 1 runs (Ctrl+Enter on its 4th line), cell 2 prints
# in an endless loop until interrupted (its output grows while it runs), the last cell holds
# a static shape error: X is float16[2, 3] and W
# (PyTorch [out, in]) is float16[2, 3].
PROGRAM = """\
// %% linear layer
model = load_model("model.safetensors")
W = model.get_tensor("layer.0.weight")
X = tensor<float16>([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], device: cpu)
Y = X @ transpose(W)
print("Y shape:", Y.shape)
Y

// %% print until interrupted
i = 0
loop { i = i + 1; if i % 5000 == 0 { print("tick", i) } }

// %% shape error
bad = X @ W
"""
HOVER_AT = (5, 1)  # 1-based line:column of `Y` in `Y = X @ transpose(W)`
RUN_AT = (4, 1)
INLINE_LINE_TEXT = "Y"  # the cell's last code line is `Y`
RUN_RESULT_LINE = 7  # 1-based line of that `Y`
SELECTION_LINE = 6  # `print("Y shape:", Y.shape)`, run with Shift+Enter
SPIN_LINE = 11  # `loop { ... print("tick", i) ... }`


UI_SETTINGS = {
    "workbench.startupEditor": "none",
    "chat.disableAIFeatures": True,
    "security.workspace.trust.enabled": False,
    "telemetry.telemetryLevel": "off",
    "update.mode": "none",
    "extensions.ignoreRecommendations": True,
    "extensions.autoCheckUpdates": False,
    "extensions.autoUpdate": False,
    "workbench.tips.enabled": False,
    "workbench.secondarySideBar.defaultVisibility": "hidden",
    "editor.minimap.enabled": False,
    "editor.hover.delay": 200,
    "editor.quickSuggestionsDelay": 50,
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _plant(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


def _write_untrusted_workspace(ws: Path, marks: Path) -> None:
    """The program and model, plus programs a repository could plant: each leaves a file in
    `marks` when run. Only `tools/tl-lsp` (named by the workspace's settings) is a real
    server: a trusted workspace may use it."""
    _write_workspace(ws)
    marks.mkdir()
    _plant(ws / "tl-lsp", f"touch {marks}/planted-tl-lsp; exit 1")
    _plant(ws / ".venv" / "bin" / "python", f"touch {marks}/planted-venv-python; exit 1")
    _plant(ws / "tools" / "tl-lsp", f'touch {marks}/workspace-tl-lsp; exec {_tl_lsp()} "$@"')
    (ws / ".vscode").mkdir()
    (ws / ".vscode" / "settings.json").write_text(
        json.dumps({"tensorlogic.server.path": str(ws / "tools" / "tl-lsp")})
    )


def _tl_lsp() -> Path:
    """A working `tl-lsp`, next to the tests' Python."""
    for d in (ROOT / ".venv" / "bin", Path(sys.executable).parent):
        if (d / "tl-lsp").exists():
            return d / "tl-lsp"
    raise RuntimeError(f"no tl-lsp next to {_python()}: install the package (make install)")


def _write_workspace(ws: Path) -> None:
    from safetensors.numpy import save_file

    ws.mkdir(parents=True, exist_ok=True)
    save_file(
        {
            "layer.0.weight": np.arange(6, dtype=np.float16).reshape(2, 3) / 10,
            "layer.0.bias": np.array([0.5, -0.5], dtype=np.float16),
            "embed.tokens": np.ones((8, 4), dtype=np.float32),
        },
        str(ws / "model.safetensors"),
    )
    (ws / "program.tl").write_text(PROGRAM, encoding="utf-8")


def _python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv if venv.exists() else Path(sys.executable))


def _wait_http(url: str, proc: subprocess.Popen, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"code-server exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"code-server did not answer {url} within {timeout:.0f} s")


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        return
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _code_server_session(
    artifacts: Path,
    write_workspace: Callable[[Path], Path],
    ext_settings: dict,
    trust: bool,
    driver_config: Callable[[Path, Path], dict],
    path_dir: Path | None = None,
) -> dict:
    """Start code-server on a fresh workspace and profile, run the driver, return its checks.

    `write_workspace(tmp)` makes the folder and returns it; `trust` turns Workspace Trust on
    (Restricted Mode, no start-up prompt); `driver_config(tmp, user_data)` gives the driver's
    scenario-specific configuration; `path_dir` goes first on the user's PATH."""
    try:
        tools = ensure_installed()
        vsix = build_vsix()
    except (InstallError, NodeToolError) as exc:
        pytest.fail(f"could not set up the VS Code e2e environment: {exc}")
    if artifacts.exists():
        shutil.rmtree(artifacts)
    artifacts.mkdir(parents=True)
    tmp = Path(tempfile.mkdtemp(prefix="tl-vscode-"))
    ws = write_workspace(tmp)
    user_data, extensions = tmp / "user-data", tmp / "extensions"
    # The extension's settings are machine-scoped (paths on the machine that runs the
    # server): in code-server they come from the remote machine's settings, Machine/.
    ui = dict(UI_SETTINGS)
    if trust:
        ui.update({
            "security.workspace.trust.enabled": True,
            "security.workspace.trust.startupPrompt": "never",
        })  # fmt: skip
    for folder, settings in (("User", {**ui, **ext_settings}), ("Machine", ext_settings)):
        (user_data / folder).mkdir(parents=True)
        (user_data / folder / "settings.json").write_text(json.dumps(settings, indent=2))
    env = dict(os.environ)
    env.update(
        XDG_CONFIG_HOME=str(tmp / "xdg-config"),
        XDG_DATA_HOME=str(tmp / "xdg-data"),
        PATH=f"{tools.node.parent}{os.pathsep}{env.get('PATH', '')}",
    )
    if path_dir is not None:
        # VS Code's server takes the extension host's environment from a login shell: the
        # user's PATH is what their profile makes it
        home = tmp / "home"
        home.mkdir()
        for profile in (".bash_profile", ".profile"):
            (home / profile).write_text(f'export PATH="{path_dir}:$PATH"\n')
        env.update(HOME=str(home), SHELL="/bin/bash", PATH=f"{path_dir}{os.pathsep}{env['PATH']}")
    env.pop("NODE_OPTIONS", None)
    # No extension gallery: code-server would query one on the internet at start-up; point
    # it at a closed loopback port instead, so the test never leaves this machine.
    env["EXTENSIONS_GALLERY"] = json.dumps(
        {"serviceUrl": "http://127.0.0.1:9/gallery", "itemUrl": "http://127.0.0.1:9/item"}
    )
    base = [
        str(tools.node),
        str(tools.code_server),
        "--user-data-dir",
        str(user_data),
        "--extensions-dir",
        str(extensions),
    ]
    install = subprocess.run(
        [*base, "--install-extension", str(vsix)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    (artifacts / "install-extension.log").write_text(install.stdout + install.stderr)
    if install.returncode != 0:
        pytest.fail(f"code-server --install-extension failed:\n{install.stdout}{install.stderr}")
    port = _free_port()
    log = open(artifacts / "code-server.log", "w")
    server = subprocess.Popen(
        [
            *base,
            "--bind-addr",
            f"127.0.0.1:{port}",
            "--auth",
            "none",
            "--disable-telemetry",
            "--disable-update-check",
            *([] if trust else ["--disable-workspace-trust"]),
            "--reconnection-grace-time",
            "5",
            str(ws),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, killed as a whole below
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/healthz", server, 120)
        config = {
            "url": f"http://127.0.0.1:{port}",
            "workspace": str(ws),
            "programName": "program.tl",
            "profile": str(tmp / "chromium-profile"),
            "chromium": str(tools.chromium),
            "artifacts": str(artifacts),
            **driver_config(tmp, user_data),
        }
        cfg_path = tmp / "driver.json"
        cfg_path.write_text(json.dumps(config))
        node_env = dict(env, NODE_PATH=str(tools.node_path))
        proc = subprocess.run(
            [str(tools.node), str(DRIVER), str(cfg_path)],
            env=node_env,
            capture_output=True,
            text=True,
            timeout=540,
        )
        (artifacts / "driver.log").write_text(proc.stderr + "\n--- stdout\n" + proc.stdout)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if not lines:
            pytest.fail(f"the Playwright driver printed no result:\n{proc.stderr[-4000:]}")
        result = json.loads(lines[-1])
    finally:
        _kill_group(server)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return result["checks"]


# what the driver checks about the program, in both sessions
PROGRAM_CHECKS = {
    "problemPatterns": [
        r"program\.tl",
        r"float16\[2, 3\] @ float16\[2, 3\]: inner dimensions 3 and 2 differ",
        r"\[Ln 14, Col 7\]",
    ],
    "hoverAt": list(HOVER_AT),
    "hoverPattern": r"float16\[2, 2\]",
    "runAt": list(RUN_AT),
    "outputPatterns": [r"Y shape: \[2, 2\]", r"\[run program\.tl:1-"],
}


@pytest.fixture(scope="module")
def vscode_run() -> dict:
    def workspace(tmp: Path) -> Path:
        _write_workspace(tmp / "workspace")
        return tmp / "workspace"

    def driver_config(tmp: Path, user_data: Path) -> dict:
        return {
            "scenario": "trusted",
            **PROGRAM_CHECKS,
            "completionPrefix": 'extra = model.get_tensor("',
            "completionNames": ["layer.0.weight", "layer.0.bias", "embed.tokens"],
            "inlinePattern": r"⇒ float16\[2, 2\] on cpu · [0-9.]+ m?s",
            "inlineLineText": INLINE_LINE_TEXT,
            "runResultLine": RUN_RESULT_LINE,
            "selectionLine": SELECTION_LINE,
            "lensOutputPattern": (
                r"\[run program\.tl:13-\d+\]\n(.*\n)*program\.tl:14:7: error: "
                r"float16\[2, 3\] @ float16\[2, 3\]: inner dimensions 3 and 2 differ"
            ),
            "lensInlinePattern": r"⇒ error: float16\[2, 3\] @ float16\[2, 3\]: inner dimensions",
            "spinLine": SPIN_LINE,
            "statusPattern": r"TensorLogic: idle · cpu",
            "readmeShot": str(ARTIFACTS / "readme-hover-inline.png"),
            "readmeClip": {"x": 345, "y": 40, "width": 740, "height": 330},
            "machineSettingsFile": str(user_data / "Machine" / "settings.json"),
        }

    settings = {"tensorlogic.pythonPath": _python(), "tensorlogic.device": "cpu"}
    return _code_server_session(ARTIFACTS, workspace, settings, False, driver_config)


RESTRICTED_RUN = (
    "Running TensorLogic code is disabled in Restricted Mode: this workspace is not trusted, "
    "and a run executes its code on your machine. Trust the workspace to run code."
)


@pytest.fixture(scope="module")
def restricted_run() -> dict:
    """Restricted Mode with default user settings, a tl-lsp on the user's PATH, and the
    workspace's settings naming another."""

    def workspace(tmp: Path) -> Path:
        _write_untrusted_workspace(tmp / "workspace", tmp / "marks")
        return tmp / "workspace"

    def driver_config(tmp: Path, user_data: Path) -> dict:
        return {
            "scenario": "restricted",
            **PROGRAM_CHECKS,
            "marks": str(tmp / "marks"),
            "restrictedMessage": RESTRICTED_RUN,
            "restrictedStatus": "TensorLogic: Restricted Mode",
            "statusPattern": r"TensorLogic: idle · cpu",
        }

    return _code_server_session(
        ARTIFACTS / "restricted",
        workspace,
        {"tensorlogic.device": "cpu"},
        True,
        driver_config,
        path_dir=_tl_lsp().parent,
    )


def _assert_check(checks: dict, name: str) -> None:
    if "driver" in checks:
        pytest.fail(f"the driver stopped: {checks['driver']['detail']}")
    assert name in checks, f"check {name} did not run; ran: {sorted(checks)}"
    assert checks[name]["ok"], f"{name}: {checks[name]['detail']} (screenshots under {ARTIFACTS})"


def test_language_mode_is_tensorlogic(vscode_run):
    _assert_check(vscode_run, "language_mode")


def test_shape_error_in_problems_panel(vscode_run):
    _assert_check(vscode_run, "problems_shape_error")


def test_hover_shows_tensor_shape(vscode_run):
    _assert_check(vscode_run, "hover_shape")


def test_completion_lists_tensor_names(vscode_run):
    _assert_check(vscode_run, "completion_tensor_names")


def test_run_cell_prints_to_output_channel(vscode_run):
    _assert_check(vscode_run, "run_cell_output")


def test_run_cell_shows_inline_result(vscode_run):
    _assert_check(vscode_run, "run_cell_inline")


def test_code_lens_runs_cell_and_shows_runtime_error(vscode_run):
    _assert_check(vscode_run, "code_lens_run_cell_runtime_error")


def test_status_bar_shows_kernel_state_and_device(vscode_run):
    _assert_check(vscode_run, "status_bar_kernel")


def test_inline_result_cleared_when_its_line_is_edited(vscode_run):
    _assert_check(vscode_run, "inline_cleared_on_edit")


def test_server_failure_shows_one_notification_that_opens_the_setting(vscode_run):
    _assert_check(vscode_run, "server_failure_notification")


def test_run_selection_with_shift_enter(vscode_run):
    _assert_check(vscode_run, "run_selection")


def test_output_streams_while_a_cell_runs(vscode_run):
    _assert_check(vscode_run, "output_streams")


def test_interrupt_stops_a_running_cell_and_keeps_its_output(vscode_run):
    _assert_check(vscode_run, "interrupt")


def test_restart_kernel(vscode_run):
    _assert_check(vscode_run, "restart_kernel")


def test_restricted_mode_starts_the_server_on_the_users_path(restricted_run):
    for name in ("language_mode", "problems_shape_error", "hover_shape"):
        _assert_check(restricted_run, name)


def test_restricted_mode_says_so_in_the_status_bar(restricted_run):
    _assert_check(restricted_run, "restricted_status_bar")


def test_restricted_mode_offers_no_run_lenses(restricted_run):
    _assert_check(restricted_run, "restricted_no_run_lens")


def test_restricted_mode_refuses_runs_and_says_why(restricted_run):
    _assert_check(restricted_run, "restricted_run_refused")


def test_restricted_mode_never_starts_a_program_from_the_workspace(restricted_run):
    # a planted ./tl-lsp, .venv/bin/python, and the tl-lsp the workspace's settings name
    _assert_check(restricted_run, "restricted_nothing_from_workspace_ran")


def test_trusting_the_workspace_uses_its_setting_and_runs(restricted_run):
    _assert_check(restricted_run, "trust_granted")
    # the workspace's own tl-lsp starts; the planted ./tl-lsp and .venv still never run
    _assert_check(restricted_run, "trusted_uses_workspace_setting_and_runs")
