"""Cells: a line starting with the cell marker (`// %%`) opens one."""

from __future__ import annotations

import re

CELL = re.compile(r"^[ \t]*// ?%%")
