"""Checks a lab runs on a student's functions: which modules they use ("numpy only" and the like)."""
from __future__ import annotations

import builtins
import dis
import inspect
import sys
import types
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["modules_used"]

# Built-ins that reach other modules or run text as code: a rule about modules would mean nothing with them.
_ESCAPES = {"__import__", "eval", "exec", "compile", "globals", "vars", "open"}


def _codes(code: types.CodeType) -> Iterable[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _codes(const)


def _owner(value: Any) -> str | None:
    """Top-level package a global belongs to (None for plain data)."""
    if isinstance(value, types.ModuleType):
        return value.__name__.split(".")[0]
    module = getattr(value, "__module__", None)
    if isinstance(module, str) and (callable(value) or isinstance(value, type)):
        return module.split(".")[0]
    return None


def modules_used(functions: Iterable[Callable[..., Any]]) -> set[str]:
    """Top-level modules the functions reach: their imports, the globals they name, the helpers they call.

    Helpers defined in the notebook (module ``__main__``) are followed; names are read from the compiled
    code (``import x`` inside a function, ``x.f()`` on a global, ``from x import f`` at the top), so a
    function that uses librosa is caught however it is written. Built-ins that could hide an import
    (``__import__``, ``eval``, ``exec``...) are reported as ``builtins.<name>``.
    """
    found: set[str] = set()
    seen: set[int] = set()
    todo = list(functions)
    while todo:
        fn = todo.pop()
        if callable(fn):
            fn = inspect.unwrap(fn)
        code = getattr(fn, "__code__", None)
        if code is None or id(code) in seen:
            owner = _owner(fn)
            if owner and owner != "__main__":
                found.add(owner)
            continue
        seen.add(id(code))
        glb = getattr(fn, "__globals__", {})
        cells = [c.cell_contents for c in (getattr(fn, "__closure__", None) or ()) if _has_contents(c)]
        for sub in _codes(code):
            for ins in dis.get_instructions(sub):
                if ins.opname == "IMPORT_NAME":
                    found.add(str(ins.argval).split(".")[0])
                elif ins.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
                    name = str(ins.argval)
                    if name in glb:
                        value = glb[name]
                    elif hasattr(builtins, name):
                        if name in _ESCAPES:
                            found.add(f"builtins.{name}")
                        continue
                    else:
                        continue
                    _note(value, found, todo)
        for value in cells + list(getattr(fn, "__defaults__", None) or ()):
            _note(value, found, todo)
    found.discard("builtins")
    return found


def _has_contents(cell: Any) -> bool:
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True


def _note(value: Any, found: set[str], todo: list[Any]) -> None:
    owner = _owner(value)
    if owner is None:
        return
    if owner == "__main__" or owner == getattr(sys.modules.get("__main__"), "__name__", None):
        if isinstance(value, (types.FunctionType, types.MethodType)):
            todo.append(value)
        return
    if owner != "builtins":
        found.add(owner)
