"""Runs a framework's own test module, verbatim from its PyPI source distribution, against an s3sessions adapter.

`port` executes ``<sdist>/<path>`` (the file as published, never edited) in the namespace of the calling shim
module, so pytest collects its tests, fixtures and marks there. The only change is the backend: the file's own
import statements go through an importer that hands out a swapped name for the backend's constructor (e.g.
``from agents import SQLiteSession`` binds an s3sessions-backed class) and loads the sdist's test helpers
(``from tests.test_responses import ...``) from the sdist, under private module names so that the three
frameworks' ``tests`` packages and ours never collide. Assertions are rewritten by pytest as in any test module.

The sdists are fetched and unpacked by ``scripts/ci-integrations.sh`` into ``.venv-integrations/upstream/``
(or ``$S3SESSIONS_UPSTREAM_TESTS``), at exactly the versions installed in the venv. When they are missing the
shim is skipped, except under ``CI=true`` where that is an error.
"""

from __future__ import annotations

import ast
import builtins
import importlib.metadata
import importlib.util
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
UPSTREAM_ENV = "S3SESSIONS_UPSTREAM_TESTS"
_HELPERS = "tests"
"""The top-level package name the sdists' tests import their helpers from."""


def require(distribution: str) -> Path:
    """Skips the calling shim unless the framework and its unpacked sdist are there (fails under ``CI=true``);
    call it before importing the swapped backends, which import the framework."""
    return upstream_root(distribution)


def upstream_root(distribution: str) -> Path:
    """Returns the unpacked sdist of the installed version of ``distribution`` (skips, or fails under CI)."""
    try:
        version = importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        version = None
    base = Path(os.environ.get(UPSTREAM_ENV) or REPO / ".venv-integrations" / "upstream")
    root = base / f"{distribution.replace('-', '_')}-{version}"
    if version is None or not (root / _HELPERS).is_dir():
        message = (
            f"{distribution} is not installed"
            if version is None
            else f"{distribution} {version}'s own tests are not unpacked at {root} (run scripts/ci-integrations.sh)"
        )
        if os.environ.get("CI", "").lower() == "true":
            raise RuntimeError(message)
        pytest.skip(message, allow_module_level=True)
    return root


class _Swapped(ModuleType):
    """A stand-in for a module whose backend names are swapped; every other attribute is the module's own."""

    def __init__(self, module: ModuleType | None, name: str, swaps: Mapping[str, Any]) -> None:
        super().__init__(name)
        self.__dict__.update(swaps)
        self._module = module

    def __getattr__(self, attribute: str) -> Any:
        if self._module is None:
            raise AttributeError(attribute)
        return getattr(self._module, attribute)


class Importer:
    """``__import__`` for upstream code: swapped backends, and the sdist's ``tests`` helpers under private names.

    Args:
        root: The unpacked sdist.
        tag: Names the private modules (``_upstream_<tag>.tests...``).
        swaps: Module name -> {attribute: replacement}. When every name an import asks for is swapped, the real
            module is not even imported (so a backend's driver need not be installed).
        config: pytest's config, for assertion rewriting.
    """

    def __init__(self, root: Path, tag: str, swaps: Mapping[str, Mapping[str, Any]], config: Any) -> None:
        self.root = root
        self.private = f"_upstream_{tag}"
        self.swaps = {name: dict(values) for name, values in swaps.items()}
        self.config = config
        self.builtins = {**builtins.__dict__, "__import__": self}

    def __call__(
        self,
        name: str,
        globals: Mapping[str, Any] | None = None,
        locals: Mapping[str, Any] | None = None,
        fromlist: Any = (),
        level: int = 0,
    ) -> Any:
        package = (globals or {}).get("__package__") or ""
        if level and package.startswith(self.private):
            name = importlib.util.resolve_name("." * level + name, package[len(self.private) + 1 :])
            level = 0
        helper = level == 0 and (name == _HELPERS or name.startswith(_HELPERS + "."))
        swaps = self.swaps.get(name) if level == 0 else None
        if swaps and fromlist:
            wanted = set(fromlist) - {"*"}
            if wanted and wanted <= set(swaps):
                real = None
            else:
                real = self.module(name) if helper else builtins.__import__(name, globals, locals, fromlist)
            return _Swapped(real, name, swaps)
        if helper:
            return self.module(name) if fromlist else self.module(_HELPERS)
        return builtins.__import__(name, globals, locals, fromlist, level)

    def module(self, dotted: str) -> ModuleType:
        """Returns the sdist's module ``dotted`` (``tests.x.y``), executing it once."""
        key = f"{self.private}.{dotted}"
        if key in sys.modules:
            return sys.modules[key]
        parent, _, leaf = dotted.rpartition(".")
        path = self.root.joinpath(*dotted.split("."))
        module = ModuleType(key)
        if path.is_dir():
            module.__path__ = [str(path)]
            module.__package__ = key
            source = path / "__init__.py"
        else:
            module.__package__ = key.rpartition(".")[0]
            source = path.with_suffix(".py")
            if not source.is_file():
                raise ModuleNotFoundError(f"no module {dotted!r} in {self.root}", name=dotted)
        module.__file__ = str(source)
        sys.modules[key] = module
        if parent:
            setattr(self.module(parent), leaf, module)
        if source.is_file():
            self.execute(source, module.__dict__)
        return module

    def execute(self, path: Path, namespace: dict[str, Any]) -> None:
        """Runs the file in ``namespace`` with this importer, its asserts rewritten as pytest does."""
        from _pytest.assertion.rewrite import rewrite_asserts

        source = path.read_bytes()
        tree = ast.parse(source, filename=str(path))
        rewrite_asserts(tree, source, str(path), self.config)
        namespace["__builtins__"] = self.builtins
        exec(compile(tree, str(path), "exec", dont_inherit=True), namespace)


def port(
    namespace: dict[str, Any],
    distribution: str,
    path: str,
    *,
    swaps: Mapping[str, Mapping[str, Any]],
    conftest_fixtures: bool = True,
    exclude_fixtures: frozenset[str] = frozenset({"anyio_backend"}),
) -> Path:
    """Runs the sdist's test module ``path`` into ``namespace`` (the shim module's globals).

    Args:
        namespace: ``globals()`` of the shim.
        distribution: The framework's distribution name (``openai-agents``).
        path: The test module inside the sdist (``tests/memory/test_session.py``).
        swaps: See `Importer`.
        conftest_fixtures: Also bring the fixtures of the sdist's ``tests/conftest.py`` (its harness) into the
            shim, where pytest scopes them to this module.
        exclude_fixtures: conftest fixtures not to bring (``anyio_backend``: s3sessions runs on asyncio only).

    Returns:
        The file that was run.
    """
    root = upstream_root(distribution)
    importer = Importer(root, distribution.replace("-", "_"), swaps, _config())
    if conftest_fixtures and (root / _HELPERS / "conftest.py").is_file():
        conftest = importer.module(f"{_HELPERS}.conftest")
        for name, value in vars(conftest).items():
            if name not in exclude_fixtures and _is_fixture(value):
                namespace[name] = value
    source = root / path
    namespace["UPSTREAM_FILE"] = str(source)
    importer.execute(source, namespace)
    for replacements in swaps.values():
        for name, replacement in replacements.items():
            if name in namespace and namespace[name] is not replacement:
                raise RuntimeError(f"{path}: {name} is not the swapped backend")
    return source


def _is_fixture(value: Any) -> bool:
    from _pytest.fixtures import FixtureFunctionDefinition

    return isinstance(value, FixtureFunctionDefinition)


_CONFIG: list[Any] = []


def set_config(config: Any) -> None:
    """Remembers pytest's config (the ported suites' conftest calls this at configure time)."""
    _CONFIG[:] = [config]


def _config() -> Any:
    return _CONFIG[0] if _CONFIG else None
