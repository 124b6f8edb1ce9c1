"""docs/cli.md documents every command of the click group, and every option of each (sqlite-utils' practice).

A command is documented by a row of the Commands table whose first cell starts with its path in code
(`` `bucket create NAME` ``); the row names each of the command's own options. The five connection options
that most commands share are documented once, in "Where the sessions live". A command added to the group
without its row fails here, so whoever adds a command documents it.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from s3sessions.cli import cli

DOCS = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
SHARED = frozenset({"--bucket", "--prefix", "--endpoint-url", "--profile", "--region"})


def leaf_commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += leaf_commands(command, (*path, name))
        else:
            found.append((" ".join((*path, name)), command))
    return found


def command_rows() -> dict[str, str]:
    """First-cell command path -> the whole table row, for the Commands table of docs/cli.md."""
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for match in re.finditer(r"^\| `([^`]+)` \|.*$", section, flags=re.MULTILINE):
        words = []
        for word in match.group(1).split():
            if not re.fullmatch(r"[a-z][a-z0-9-]*", word):
                break
            words.append(word)
        rows[" ".join(words)] = match.group(0)
    return rows


def own_flags(command: click.Command) -> list[str]:
    flags = [
        max(parameter.opts, key=len)  # the long form
        for parameter in command.params
        if isinstance(parameter, click.Option) and not parameter.hidden
    ]
    return [flag for flag in flags if flag not in SHARED] if set(flags) >= SHARED else flags


COMMANDS = leaf_commands(cli)


def test_the_group_has_the_commands_this_branch_documents():
    paths = {path for path, _ in COMMANDS}
    assert {"fsck", "bucket create", "bucket init", "bucket policy", "migrate strands", "local-s3", "import"} <= paths


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[path for path, _ in COMMANDS])
def test_every_command_has_a_row_naming_its_options(path, command):
    rows = command_rows()
    assert path in rows, f"docs/cli.md has no row for `{path}` in its Commands table"
    for flag in own_flags(command):
        assert flag in rows[path], f"docs/cli.md: the row of `{path}` does not mention {flag}"


def test_no_row_documents_a_command_that_does_not_exist():
    assert set(command_rows()) <= {path for path, _ in COMMANDS}


def test_the_shared_options_and_their_variables_are_documented_once():
    text = DOCS.read_text(encoding="utf-8")
    where = text.split("Where the sessions live:", 1)[1].split("\n\n", 1)[0]
    for flag in SHARED:
        assert f"`{flag}`" in where
    for variable in ("S3SESSIONS_BUCKET", "S3SESSIONS_PREFIX", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        assert variable in where
