"""`CheckContext` (tl_core/check/context.py) is what the checker's helpers use of the
Checker, and the Checker has it: the helpers name it instead of importing the checker."""

from tests.protocols import gaps, members, used_on
from tl_core.check.checker import Checker
from tl_core.check.context import CheckContext
from tl_core.syntax.span import LineIndex


def test_the_checker_satisfies_check_context():
    assert gaps(CheckContext, Checker("", None, ".", LineIndex(""))) == []


def test_check_context_names_all_its_users_read():
    used = (used_on("tl_core/check/learn.py", ("c",)) |
            used_on("tl_core/check/logic.py", ("self.c",)) |
            used_on("tl_core/check/memo.py", ("c",)))
    assert used - set(members(CheckContext)) == set()


def test_a_missing_member_is_named():
    class Half:
        diags: list = []

        def error(self, span): ...

    assert gaps(CheckContext, Half())[:2] == ["missing scopes", "missing all_bindings"]
    assert "error(self, span) differs" in gaps(CheckContext, Half())
