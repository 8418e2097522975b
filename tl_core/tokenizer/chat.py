"""Chat templates (Jinja, from `tokenizer.chat_template`) rendered in jinja2's sandbox.

The environment is the one HuggingFace `transformers` renders chat templates with: an
immutable sandbox (a template cannot reach Python attributes or mutate its inputs),
`trim_blocks` and `lstrip_blocks`, the `tojson` filter, and the `raise_exception` and
`strftime_now` helpers that published templates call.
"""

from __future__ import annotations

import datetime
import functools
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from tl_core.tokenizer.errors import TokenizerError

if TYPE_CHECKING:
    import jinja2


class _TemplateRaised(Exception):
    """`raise_exception(message)` called by a template."""


def render_chat(
    template: str,
    messages: Sequence[Mapping[str, str]],
    *,
    add_generation_prompt: bool = True,
    bos_token: str = "",
    eos_token: str = "",
) -> str:
    """The prompt text for `messages` (each a mapping with string "role" and "content")."""
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise TokenizerError(
                f"chat message {i} must be a role and a content, found {type(message).__name__}"
            )
        for key in ("role", "content"):
            if not isinstance(message.get(key), str):
                raise TokenizerError(f"chat message {i} has no string {key!r}")
    import jinja2  # lazy: jinja2 only for a chat template

    try:
        compiled = _compile(template)
        return compiled.render(
            messages=[dict(m) for m in messages],
            add_generation_prompt=add_generation_prompt,
            bos_token=bos_token,
            eos_token=eos_token,
        )
    except _TemplateRaised as exc:
        raise TokenizerError(f"the chat template refused the messages: {exc}") from None
    except jinja2.TemplateSyntaxError as exc:
        raise TokenizerError(
            f"the chat template has a syntax error at its line {exc.lineno}: {exc.message}"
        ) from None
    except jinja2.exceptions.SecurityError as exc:
        raise TokenizerError(f"the chat template tried an unsafe operation: {exc}") from None
    except jinja2.TemplateError as exc:
        raise TokenizerError(f"the chat template failed: {exc}") from None


@functools.lru_cache(maxsize=16)  # compiled templates, keyed by their text
def _compile(template: str) -> jinja2.Template:
    from jinja2.sandbox import ImmutableSandboxedEnvironment  # lazy: as above

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise
    env.globals["strftime_now"] = _strftime_now
    return env.from_string(template)


def _raise(message: str) -> None:
    raise _TemplateRaised(message)


def _tojson(value: object, indent: int | None = None) -> str:
    return json.dumps(value, ensure_ascii=False, indent=indent)


def _strftime_now(fmt: str) -> str:
    return datetime.datetime.now().strftime(fmt)
