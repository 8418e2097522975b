"""Loading a model in a run shows as the run's `$/progress` (issue 16): the kernel sends
`progress` notifications (title `loading`, one growing count for the model, however many
tensors it has), the server forwards them as it does a learn block's epochs, after
`window/workDoneProgress/create`. The kernel's delay before the first
report (0.5 s) is 0 here through `TL_PROGRESS_DELAY` in the server's environment, which the
kernel inherits."""

from __future__ import annotations

import numpy as np
import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.lsp.lsp_util import ENV, SERVER_CMD, diagnostics_for, init_params, make_client, open_doc

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

CONFIG = ClientServerConfig(server_command=SERVER_CMD, server_env={**ENV, "TL_PROGRESS_DELAY": "0"},
                            client_factory=make_client)


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(lsp_client: LanguageClient, tmp_path_factory):
    root = tmp_path_factory.mktemp("load")
    lsp_client.root = root
    await lsp_client.initialize_session(init_params(root, options={"device": "cpu"}))
    yield
    await lsp_client.shutdown_session()


async def test_a_model_load_shows_as_progress(client: LanguageClient):
    from safetensors.numpy import save_file

    tensors = {f"layers.{i}.weight": np.full((64, 256), i, np.float32) for i in range(300)}
    save_file({"big": np.ones((5, 1024, 1024), np.float32), **tensors},
              str(client.root / "many.safetensors"))
    text = ('let m = load_model("many.safetensors")\nlet w = get_tensor(m, "big")\n'
            'for name in names(m) {\n  let t = get_tensor(m, name)\n}\nprint(w.shape)\n')
    path = client.root / "load.tl"
    path.write_text(text, encoding="utf-8")
    uri = open_doc(client, path, text)
    await diagnostics_for(client, uri)
    result = await client.workspace_execute_command_async(
        lsp.ExecuteCommandParams(command="tensorlogic.runFile", arguments=[{"uri": uri}]))
    assert result["errors"] == [] and result["stdout"] == "[5, 1024, 1024]\n"
    (run,) = [rs for rs in client.progress_reports.values()
              if isinstance(rs[0], lsp.WorkDoneProgressBegin) and rs[0].message.startswith(
                  "Running load.tl")]
    reports = [r for r in run if isinstance(r, lsp.WorkDoneProgressReport)]
    # the kernel throttles its notifications: some counts are skipped, never the last
    assert reports and all(r.message.startswith("loading many.safetensors ") and
                           r.message.endswith(" of 38.8 MiB") for r in reports)
    assert [r.percentage for r in reports] == sorted(r.percentage for r in reports)
    assert reports[-1].message == "loading many.safetensors 38.8 MiB of 38.8 MiB"
    assert reports[-1].percentage == 100
    assert isinstance(run[-1], lsp.WorkDoneProgressEnd)
