"""Builds the Lambda layer of the example function: s3sessions and its dependencies, for python3.14 on arm64.

``sam build --use-container`` mounts only the function's folder (``examples/lambda_agent/``) into its build
container, so a ``requirements.txt`` line pointing at this checkout cannot resolve there, and s3sessions is not
on PyPI yet. This script needs neither Docker nor SAM: it builds the project's wheel from this checkout, then
has pip install it with every dependency as wheels for the Lambda platform into ``infra/build/layer/python/``
(Lambda puts a layer's ``python/`` on ``sys.path``). ``infra/template.yaml``'s ``SessionsLayer`` points there.

Usage (any Python 3.10+ with pip; run from anywhere)::

    python3 infra/build_layer.py                      # python3.14, arm64: what the template deploys
    python3 infra/build_layer.py --native -o DIR      # for this interpreter and machine (tests run it so)
    python3 infra/build_layer.py --wheel dist/X.whl   # from a wheel already built (pip wheel --no-deps ...)

Only wheels are accepted (``--only-binary=:all:``): pydantic-core, zstandard and aiohttp are compiled, and a
source build on this machine would produce code for the wrong CPU. Prints the layer's size; Lambda allows 250 MB
unzipped for a function and its layers together.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "infra" / "build" / "layer"
PYTHON_VERSION = "3.14"
"""The template's ``Runtime: python3.14``."""
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_34_aarch64")
"""The template's ``Architectures: [arm64]``: Lambda's python3.14 runs on Amazon Linux 2023 (glibc 2.34)."""
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024


def pip(*arguments: str) -> None:
    """Runs this interpreter's pip; its output is shown only when it fails."""
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", *arguments]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"build_layer: pip {arguments[0]} failed (exit {result.returncode})")


def build_wheel(directory: Path) -> Path:
    """Builds the project's wheel from this checkout into ``directory`` and returns its path."""
    pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(directory), str(ROOT))
    (wheel,) = directory.glob("*.whl")
    return wheel


def target_arguments(native: bool, python_version: str, platforms: list[str]) -> list[str]:
    """pip's cross-install arguments (none for a native build)."""
    if native:
        return []
    abi = "cp" + python_version.replace(".", "")
    arguments = ["--implementation", "cp", "--python-version", python_version, "--abi", abi]
    for platform in platforms:
        arguments += ["--platform", platform]
    return arguments


def directory_size(path: Path) -> int:
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def build_layer(
    output: Path, *, native: bool, python_version: str, platforms: list[str], wheel: Path | None = None
) -> Path:
    """Builds the layer into ``output`` (its ``python/`` folder is replaced) and returns that folder.

    ``wheel``: the project's wheel, already built (default: build it from this checkout).
    """
    site = output / "python"
    if site.exists():
        shutil.rmtree(site)
    site.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="s3sessions-wheel-") as scratch:
        wheel = wheel or build_wheel(Path(scratch))
        pip(
            "install",
            "--quiet",
            "--no-compile",  # bytecode of this interpreter would be useless to another Python version
            "--only-binary=:all:",
            "--target",
            str(site),
            *target_arguments(native, python_version, platforms),
            str(wheel),
        )
    shutil.rmtree(site / "bin", ignore_errors=True)  # console scripts: nothing on Lambda runs them
    return site


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT, help="layer folder (default: %(default)s)")
    parser.add_argument("--native", action="store_true", help="build for this interpreter and machine instead")
    parser.add_argument("--python-version", default=PYTHON_VERSION, help="target Python (default: %(default)s)")
    parser.add_argument(
        "--platform", action="append", dest="platforms", help=f"pip platform tag, repeatable (default: {PLATFORMS})"
    )
    parser.add_argument("--wheel", type=Path, help="the project's wheel, already built (default: build it here)")
    options = parser.parse_args(argv)
    platforms = options.platforms or list(PLATFORMS)
    site = build_layer(
        options.output,
        native=options.native,
        python_version=options.python_version,
        platforms=platforms,
        wheel=options.wheel,
    )
    size = directory_size(site)
    target = "this interpreter" if options.native else f"python{options.python_version} on {platforms[0]}"
    print(f"layer for {target}: {site} ({size / 2**20:.1f} MiB unzipped)")
    if size > LAMBDA_UNZIPPED_LIMIT:
        print("build_layer: over Lambda's 250 MB unzipped limit", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
