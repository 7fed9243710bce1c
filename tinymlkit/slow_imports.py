"""Optional packages whose import costs seconds, and a way for the kit's child processes to skip them.

``rfc3987_syntax`` is installed with Jupyter (jupyter-events asks for ``jsonschema[format-nongpl]``).
jsonschema imports it, where present, only to check the ``iri`` string format, and the package builds
about thirty Earley parsers at import time: 8.7 of the 9.9 CPU seconds of ``import nbformat`` on the
development machine, paid again by every nbgrader and Ray process. Nothing the kit runs validates an IRI.
"""
from __future__ import annotations

import importlib.abc
import sys
from typing import Any

__all__ = ["SLOW_OPTIONAL_IMPORTS", "SkipImports", "skip_slow_imports"]

SLOW_OPTIONAL_IMPORTS = ("rfc3987_syntax",)
"""Top-level names of optional packages the kit's child processes import as if they were not installed."""


class SkipImports(importlib.abc.MetaPathFinder):
    """An import finder under which the named packages raise ModuleNotFoundError, as if not installed."""

    def __init__(self, names: tuple[str, ...] = SLOW_OPTIONAL_IMPORTS, why: str = "") -> None:
        self.names = tuple(names)
        self.why = why

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        """Refuse the named packages; leave every other import to the normal finders."""
        if fullname.split(".")[0] in self.names:
            raise ModuleNotFoundError(f"{fullname} is skipped here{': ' + self.why if self.why else ''}",
                                      name=fullname)
        return None


def skip_slow_imports(why: str = "") -> SkipImports:
    """Install a :class:`SkipImports` finder for :data:`SLOW_OPTIONAL_IMPORTS` in this process (first on the path)."""
    finder = SkipImports(SLOW_OPTIONAL_IMPORTS, why)
    sys.meta_path.insert(0, finder)
    return finder
