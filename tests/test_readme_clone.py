"""The README followed as a reader types it, in a fresh copy of this checkout with no AWS configuration.

- "Try it": its first command (venv, ``pip install -e '.[cli]'``, ``s3sessions demo``) runs as written.
- "Quick start": its shell block runs as written, the ``s3sessions local-s3`` line serves, the export lines it
  prints are pasted into a second shell, and the Quick start's program runs there as ``python quickstart.py``.
- Every ``pip install`` line of README.md, docs/cli.md and infra/README.md installs something that exists: a
  path in the clone (the wheel built by the README's own ``pip wheel`` command included) with extras that
  pyproject.toml declares, checked by pip itself (``--dry-run``); none names a distribution pip would look up.

The checkout is copied (tracked and untracked files, not ignored ones such as .venv) into a temporary folder,
so what runs is what a clone of this commit holds; Try it runs there first, then the Quick start, as a reader
goes. Installs use the machine's pip cache.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INSTALL_DOCS = ("README.md", "docs/cli.md", "infra/README.md")
_IGNORED = shutil.ignore_patterns(".venv*", ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache")


def fresh_copy(destination: Path) -> Path:
    """Copies what a clone of the working tree holds (git's view when there is one) into ``destination``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    if listed.returncode != 0:
        shutil.copytree(ROOT, destination, ignore=_IGNORED)
        return destination
    for name in filter(None, listed.stdout.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def reader_environment(home: Path) -> dict[str, str]:
    """A shell on a fresh machine: no AWS or s3sessions variables, no ~/.aws, no active virtualenv."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "S3SESSIONS_", "VIRTUAL_ENV", "PYTHONPATH"))
    }
    env.update(HOME=str(home), AWS_EC2_METADATA_DISABLED="true")
    return env


def bash(script: str, cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"$ {script}\n{result.stdout}\n{result.stderr}"
    return result


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def code_blocks(text: str, *languages: str) -> list[str]:
    pattern = r"```(?:" + "|".join(languages) + r")\n(.*?)```"
    return re.findall(pattern, text, flags=re.DOTALL)


# ------------------------------------------------------------------------------------------------ Try it


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> tuple[Path, str]:
    """A fresh copy in which the reader ran Try it's first command: the copy, and what it printed.

    The Quick start then runs in the same copy, as a reader who reads on does (its venv line finds .venv).
    """
    home = tmp_path_factory.mktemp("home")
    copy = fresh_copy(tmp_path_factory.mktemp("reader") / "clone")
    (block, *_) = code_blocks(readme_section("Try it"), "sh")
    first = block.splitlines()[0]
    assert first.startswith("python3 -m venv .venv") and first.endswith("s3sessions demo")
    return copy, bash(first, copy, reader_environment(home)).stdout


def test_try_it_runs_from_a_fresh_clone(clone):
    _, out = clone
    for step in ("1. create", "2. fork", "3. rewind", "4. tag", "5. list", "6. delete", "7. the fork"):
        assert step in out
    assert "Bucket layout" in out and "demo/manifest.json.zst" in out


# ------------------------------------------------------------------------------------------------ Quick start


def test_quick_start_against_local_s3_as_a_reader_runs_it(clone, tmp_path):
    clone, _ = clone
    env = reader_environment(tmp_path)
    section = readme_section("Quick start")
    [block] = [block for block in code_blocks(section, "sh") if "s3sessions local-s3" in block]
    lines = block.strip().splitlines()
    [serve] = [line for line in lines if line.startswith("s3sessions local-s3")]
    setup = [line for line in lines if line != serve]
    assert setup[0].startswith("python3 -m venv .venv && . .venv/bin/activate"), setup
    bash("\n".join(setup), clone, env)  # first shell: venv, install

    # First shell, still: the server, in the foreground (`exec` only lets the test stop it with SIGTERM).
    server = subprocess.Popen(
        ["bash", "-c", f". .venv/bin/activate && exec {serve}"], cwd=clone, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        printed: list[str] = []
        while not printed or not printed[-1].startswith("then try:"):
            line = server.stdout.readline()
            assert line, printed
            printed.append(line.rstrip("\n"))
        exports = [line for line in printed if line.startswith("export ")]
        assert len(exports) == 2, printed  # "the two export lines"

        # Second shell: activate, paste the export lines, save the program as quickstart.py, run it.
        [program] = [block for block in code_blocks(section, "python") if "S3SessionManager(" in block]
        (clone / "quickstart.py").write_text(program, encoding="utf-8")
        result = bash("\n".join([". .venv/bin/activate", *exports, "python quickstart.py"]), clone, env, timeout=120)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        assert server.stdout is not None
        server.stdout.close()
    printed = result.stdout.splitlines()
    assert printed[0].startswith("conflict: another writer changed this session")
    listed = [line.split() for line in printed[1:]]
    assert len(listed) == 2
    assert listed[0][1:4] == ["refactor", "foo", "3"] and listed[0][-1] == "['prod']"
    assert listed[1][1:3] == ["try", "B"] and listed[1][3] == "1"


# ------------------------------------------------------------------------------------------------ install lines


def install_lines() -> list[tuple[str, str]]:
    """(document, command) for every `pip install ...` in the docs' code: fenced blocks and inline code."""
    found: list[tuple[str, str]] = []
    for document in INSTALL_DOCS:
        text = (ROOT / document).read_text(encoding="utf-8")
        blocks = re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.DOTALL)
        inline = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.DOTALL))
        for code in [*blocks, *inline]:
            for match in re.finditer(r"pip install [^\n]*", code):
                command = re.split(r"\s(?:#|&&|\|\||;|\|)\s?", match.group(0))[0].strip()  # one command, no comment
                found.append((document, command))
    return found


def declared_extras() -> set[str]:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    block = text.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
    return set(re.findall(r"^([a-z0-9-]+) = \[", block, flags=re.MULTILINE))


def test_every_install_line_names_a_path_with_declared_extras_and_pip_accepts_it(clone, tmp_path):
    lines = install_lines()
    assert len(lines) >= 8, lines  # the Quick start, the CLI, the integrations, docs/cli.md
    clone, _ = clone
    env = reader_environment(tmp_path)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # python3 = a Python with pip

    blocks = code_blocks(readme_section("Quick start"), "sh")
    [wheel_command] = [line for block in blocks for line in block.splitlines() if "pip wheel" in line]
    bash(wheel_command.split("#")[0], clone, env)  # the README's own command builds the wheel it names

    checked: set[str] = set()
    for document, command in lines:
        arguments = shlex.split(command)[2:]
        targets = [argument for argument in arguments if not argument.startswith("-")]
        assert targets, (document, command)
        for target in targets:
            path, _, extras = target.partition("[")
            assert path == "." or path.startswith(("./", "dist/")), f"{document}: {command!r} asks an index"
            assert (clone / path).exists(), f"{document}: {command!r}: {path} does not exist"
            assert set(filter(None, extras.rstrip("]").split(","))) <= declared_extras(), (document, command)
        if command in checked:
            continue
        checked.add(command)
        dry_run = ["python3", "-m", "pip", "install", "--dry-run", "--no-deps", "--ignore-installed", "--quiet"]
        bash(shlex.join([*dry_run, *arguments]), clone, env)


@pytest.mark.parametrize("document", INSTALL_DOCS)
def test_no_document_tells_to_install_from_pypi(document):
    text = (ROOT / document).read_text(encoding="utf-8")
    assert not re.search(r"pip install ['\"]?(s3sessions|s3-agent-sessions)\b", text), document
