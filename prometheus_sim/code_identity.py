"""What code a result came from: the sources of some modules and of every project module they import.

A sweep's resume key holds a digest of the code that makes its cells (each strategy's, the venue's, the
sweep's own), so a rerun into the same directory refuses to mix cells made by other code. Hashing only the
file that defines a strategy missed what it imports: a review changed a helper module the strategy read
its risky share from, deleted two cells, and the resume mixed 90 % crypto cells with 10 % ones
(2026-12-05). So the digest follows imports: every ``import`` and ``from ... import`` in a module's source
(inside functions too), resolved to a file, followed while the file is project code, not the standard
library's or an installed package's (those change with their versions, which the key records apart).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import sysconfig
from collections.abc import Iterable
from pathlib import Path


def _library_roots() -> tuple[Path, ...]:
    """Folders of the standard library and of installed packages (an editable project is not in them)."""
    paths = sysconfig.get_paths()
    return tuple({Path(paths[k]).resolve() for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths})


def _origin(name: str) -> Path | None:
    """The ``.py`` file module ``name`` is loaded from, or None (not a module, built in, compiled, unfindable)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError, AttributeError):  # ``pkg.attr``: a name imported from a module, not a module
        return None
    origin = getattr(spec, "origin", None) if spec is not None else None
    if not origin or not origin.endswith(".py"):
        return None
    return Path(origin).resolve()


def _imports(tree: ast.AST, module: str, is_package: bool) -> list[str]:
    """Module names an AST imports (``from a import b`` gives ``a`` and ``a.b``: b may be a submodule)."""
    package = module if is_package else module.rpartition(".")[0]
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            try:
                base = importlib.util.resolve_name("." * node.level + (node.module or ""), package) if node.level else (
                    node.module or "")  # fmt: skip
            except (ImportError, ValueError):  # a relative import beyond the top package: it fails when run
                continue
            names += [base] + [f"{base}.{alias.name}" for alias in node.names if alias.name != "*"]
    return [n for n in names if n]


def source_closure(roots: Iterable[str]) -> dict[str, str]:
    """Module name -> SHA-256 of its source, for ``roots`` and every project module they import, transitively
    (parent packages included: importing ``a.b`` runs ``a/__init__.py``). Every file is read at every call."""
    libraries = _library_roots()
    found: dict[str, str] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in found:
            continue
        parts = name.split(".")
        todo += [".".join(parts[:k]) for k in range(1, len(parts))]
        origin = _origin(name)
        if origin is None or any(origin.is_relative_to(lib) for lib in libraries):
            continue
        source = origin.read_bytes()
        digest = hashlib.sha256(source).hexdigest()
        found[name] = digest
        todo += _imports_of(digest, name, origin.name == "__init__.py", source)
    return found


_PARSED: dict[tuple[str, str, bool], tuple[str, ...]] = {}  # (source digest, module, package) -> its imports


def _imports_of(digest: str, name: str, is_package: bool, source: bytes) -> tuple[str, ...]:
    """The names a source imports, parsed once per content (reading and hashing a file is cheap, parsing is not;
    a file's time and size could stay the same across an edit within one clock tick)."""
    key = (digest, name, is_package)
    if key not in _PARSED:
        try:
            tree = ast.parse(source)
        except SyntaxError:  # hashed; it cannot have been imported, so it imports nothing
            _PARSED[key] = ()
        else:
            _PARSED[key] = tuple(_imports(tree, name, is_package))
    return _PARSED[key]


def source_digest(roots: Iterable[str]) -> str | None:
    """One SHA-256 over :func:`source_closure` (names and digests, sorted); None when no root is a project file
    (``__main__`` run as a script has no spec to find)."""
    closure = source_closure(roots)
    if not closure:
        return None
    return hashlib.sha256("\n".join(f"{k} {v}" for k, v in sorted(closure.items())).encode()).hexdigest()


__all__ = ["source_closure", "source_digest"]
