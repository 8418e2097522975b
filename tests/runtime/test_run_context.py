"""`RunContext` (tl_core/runtime/context.py) is what the interpreter's helpers use of the
Interpreter, and the Interpreter has it: the helpers name it instead of importing it."""

from tests.protocols import gaps, members, used_on
from tl_core.runtime.context import RunContext
from tl_core.runtime.interpreter import Interpreter


def test_the_interpreter_satisfies_run_context():
    assert gaps(RunContext, Interpreter(device="cpu")) == []


def test_run_context_names_all_its_users_read():
    used = (used_on("tl_core/logic/run.py", ("self.interp",)) |
            used_on("tl_core/logic/learn.py", ("interp", "self.interp")) |
            used_on("tl_core/runtime/structs.py", ("interp",)))
    assert used - set(members(RunContext)) == set()
