"""The session commands: one short function each, which parses, makes the manager call(s) and prints."""

from __future__ import annotations

import json
from typing import IO, Any

import click
from pydantic import ValidationError

from ..errors import AgentError, ConflictError
from ..manager import S3SessionManager
from ..models import Session, SessionMetadata, SessionPage
from ..validation import check_name, check_session_id, new_session_id
from .options import Settings, connection_options, json_option, one_line, pass_settings, run, translated_errors
from .progress import HeadProgress, PageProgress
from .render import DEFAULT_BLOCK_CHARS, metadata_json, session_table, transcript

session_options = connection_options(from_environment=False)


def _print_metadata(metadata: SessionMetadata, as_json: bool, text: str) -> None:
    click.echo(json.dumps(metadata_json(metadata), indent=2, ensure_ascii=False) if as_json else text)


def _label(metadata: SessionMetadata) -> str:
    return metadata.id + (f" ({metadata.name})" if metadata.name else "")


LS_PAGE = 50
"""Sessions `ls` shows unless asked for more (one round trip of LISTs)."""


@click.command("ls")
@session_options
@click.option("--limit", type=click.IntRange(1, 1000), default=LS_PAGE, show_default=True, help="Sessions per page.")
@click.option("--all", "everything", is_flag=True, help="Every session, page after page (progress on stderr).")
@click.option("--cursor", default=None, help="Start after this position (the hint a previous page printed).")
@click.option("--tag", default=None, metavar="TAG", help="Only sessions with this tag.")
@click.option("--agent", default=None, metavar="NAME", help="Only sessions of this agent.")
@json_option
@pass_settings
def list_sessions(
    settings: Settings,
    limit: int,
    everything: bool,
    cursor: str | None,
    tag: str | None,
    agent: str | None,
    as_json: bool,
) -> None:
    """Lists sessions, newest first: id, name, tags, turns, last update and size of the messages.

    Shows one page (50 by default) and, when there are more, the command that shows the next.
    """
    reporter = PageProgress()

    async def listing(manager: S3SessionManager) -> SessionPage:
        if not everything:
            return await manager.list_page(limit, cursor, tag=tag, agent_name=agent)
        listed: list[SessionMetadata] = []
        position = cursor
        while True:
            page = await manager.list_page(1000, position, tag=tag, agent_name=agent)
            listed += page.sessions
            reporter(len(listed), done=page.next_cursor is None)
            if page.next_cursor is None:
                return SessionPage(sessions=listed)
            position = page.next_cursor

    page = run(settings, listing)
    if as_json:
        click.echo(json.dumps([metadata_json(metadata) for metadata in page.sessions], indent=2, ensure_ascii=False))
    elif page.sessions:
        click.echo(session_table(page.sessions))
    else:
        click.echo(settings.no_sessions([tag] if tag else (), agent=agent), err=True)
    if page.next_cursor is not None:
        more = f"s3sessions ls --cursor {page.next_cursor}" + (f" --limit {limit}" if limit != LS_PAGE else "")
        click.echo(f"more: {more}   (or --all)", err=True)


@click.command()
@session_options
@click.argument("session_id", metavar="ID")
@click.option("--full", is_flag=True, help="Show every message in full (long ones are cut by default).")
@click.option(
    "--last", "last_turns", type=click.IntRange(min=0), default=None, metavar="K", help="Only the last K turns."
)
@pass_settings
def show(settings: Settings, session_id: str, full: bool, last_turns: int | None) -> None:
    """Prints a session as a readable transcript, with turn and message numbers."""
    session = run(settings, lambda manager: manager.resume(session_id, last_turns=last_turns))
    click.echo(transcript(session, limit=None if full else DEFAULT_BLOCK_CHARS))


@click.command()
@session_options
@click.argument("session_id", metavar="ID")
@pass_settings
def export(settings: Settings, session_id: str) -> None:
    """Writes the whole session (metadata, messages, state) as plain JSON to stdout; `import` reads it back."""
    session = run(settings, lambda manager: manager.resume(session_id))
    click.echo(json.dumps(session.model_dump(mode="json"), indent=2, ensure_ascii=False))


def _not_json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _bad_file(file_name: str, problem: str) -> click.ClickException:
    return click.ClickException(one_line(f"{file_name} {problem}"))


_JSON_KINDS = {dict: "an object", list: "an array", str: "a string", int: "a number", float: "a number"}


def _kind(value: object) -> str:
    return "true or false" if isinstance(value, bool) else _JSON_KINDS.get(type(value), "null")


def _parse_export(data: bytes, file_name: str) -> dict[str, Any]:
    """Returns the document of an exported session, or raises one line naming what is wrong with the file."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad_file(file_name, f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from exc
    try:
        document: Any = json.loads(text, parse_constant=_not_json_constant)
    except RecursionError as exc:
        raise _bad_file(file_name, "is not an exported session: its JSON is nested too deeply") from exc
    except ValueError as exc:  # json.JSONDecodeError, or NaN / Infinity
        raise _bad_file(file_name, f"is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise _bad_file(file_name, f"is not an exported session: it is {_kind(document)}, not an object")
    for key, kind in (("metadata", dict), ("messages", list)):
        if not isinstance(document.get(key), kind):
            found = "no" if key not in document else f"{_kind(document[key])} as"
            raise _bad_file(
                file_name,
                f"is not an exported session: it has {found} '{key}' ({_JSON_KINDS[kind]}, as `export` writes)",
            )
    if not isinstance(document["metadata"].get("id"), str):
        raise _bad_file(file_name, "is not an exported session: its metadata has no 'id' string")
    return document


def _read_session(file: IO[bytes], *, new_id: bool, name: str | None) -> Session:
    """Reads and checks a file written by `export`, with --new-id and --name applied; nothing is sent to S3."""
    if name is not None:
        with translated_errors():
            check_name(name)
    file_name = str(getattr(file, "name", "-"))
    file_name = "stdin" if file_name in ("<stdin>", "-") else file_name
    document = _parse_export(file.read(), file_name)
    if new_id:
        document["metadata"]["id"] = new_session_id()
    if name is not None:
        document["metadata"]["name"] = name
    try:
        session = Session.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "document"
        raise _bad_file(file_name, f"is not an exported session: {where}: {first['msg']}") from exc
    except (AgentError, ValueError, TypeError) as exc:  # a field validator's InvalidInput: bad id, name or tag
        raise _bad_file(file_name, f"is not an exported session: {exc}") from exc
    session.metadata.version = None
    return session


@click.command("import")
@session_options
@click.argument("file", type=click.File("rb"))
@click.option("--new-id", is_flag=True, help="Give the session a fresh id instead of the one in the file.")
@click.option("--name", help="Name the imported session (default: the name in the file).")
@pass_settings
def import_session(settings: Settings, file: IO[bytes], new_id: bool, name: str | None) -> None:
    """Creates a session from a JSON file written by `export` (FILE may be - for stdin).

    A file that is not an export (not UTF-8, not JSON, no metadata or messages, an invalid id, name or tag) is
    refused with one line naming the problem, before anything is written.
    """
    session = _read_session(file, new_id=new_id, name=name)
    try:
        metadata = run(settings, lambda manager: manager.save(session))
    except click.ClickException as exc:
        if isinstance(exc.__cause__, ConflictError):
            raise click.ClickException(f"{exc.message}; pass --new-id to import it as a copy") from exc.__cause__
        raise
    click.echo(f"imported {_label(metadata)}: {metadata.turn_count} turn(s)")


@click.command()
@session_options
@click.argument("session_id", metavar="ID")
@click.option("--name", help='Name of the copy (default: the source\'s name + " (fork)").')
@json_option
@pass_settings
def fork(settings: Settings, session_id: str, name: str | None, as_json: bool) -> None:
    """Copies a session under a new id (server-side); prints the new id."""
    metadata = run(settings, lambda manager: manager.fork(session_id, name))
    _print_metadata(metadata, as_json, f"forked {session_id} -> {_label(metadata)}")


@click.command(context_settings={"ignore_unknown_options": True})  # so that TURN may be -1
@session_options
@click.argument("session_id", metavar="ID")
@click.argument("turn", type=int)
@json_option
@pass_settings
def rewind(settings: Settings, session_id: str, turn: int, as_json: bool) -> None:
    """Keeps turns 0..TURN (as `show` numbers them) and drops every later message.

    TURN counts from 0; a TURN outside the session's turns (-1 included) is refused with the valid range.
    """
    if turn < 0:  # the library refuses it before any request; the command also says what the range is
        count = run(settings, lambda manager: manager.resume(session_id, last_turns=0)).metadata.turn_count
        valid = f"so use 0..{count - 1}" if count else "the session has no turns yet"
        raise click.ClickException(f"invalid turn index {turn}: turns are numbered from 0, {valid}")
    session = run(settings, lambda manager: manager.rewind(session_id, turn))
    kept = f"kept turns 0..{turn}: {len(session.messages)} message(s)"
    _print_metadata(session.metadata, as_json, f"rewound {_label(session.metadata)}: {kept}")


@click.command()
@session_options
@click.argument("session_id", metavar="ID")
@click.argument("tags", nargs=-1, required=True)
@json_option
@pass_settings
def tag(settings: Settings, session_id: str, tags: tuple[str, ...], as_json: bool) -> None:
    """Adds tags to a session (existing tags are kept)."""
    metadata = run(settings, lambda manager: manager.tag(session_id, list(tags)))
    _print_metadata(metadata, as_json, f"tagged {_label(metadata)}: {', '.join(metadata.tags)}")


@click.command()
@session_options
@click.argument("session_id", metavar="ID")
@click.argument("name")
@json_option
@pass_settings
def rename(settings: Settings, session_id: str, name: str, as_json: bool) -> None:
    """Sets a session's name."""
    metadata = run(settings, lambda manager: manager.rename(session_id, name))
    _print_metadata(metadata, as_json, f"renamed {metadata.id} to {name!r}")


@click.command("rm")
@session_options
@click.argument("session_ids", metavar="ID...", nargs=-1, required=True)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_settings
def remove(settings: Settings, session_ids: tuple[str, ...], yes: bool) -> None:
    """Deletes sessions and every object they own (asks first unless --yes)."""
    with translated_errors():
        for session_id in session_ids:  # refuse a bad id before deleting anything
            check_session_id(session_id)
    if not yes:
        click.confirm(
            f"Delete {len(session_ids)} session(s) from {settings.location}: {' '.join(session_ids)}?", abort=True
        )

    async def delete_all(manager: S3SessionManager) -> None:
        for session_id in session_ids:
            await manager.delete(session_id)
            click.echo(f"deleted {session_id}")

    run(settings, delete_all)


@click.command()
@session_options
@click.option("--progress/--no-progress", default=None, help="Report heads read on stderr (default: on a terminal).")
@pass_settings
def reindex(settings: Settings, progress: bool | None) -> None:
    """Rebuilds the metadata index from the session heads (repairs `ls` after crashes or manual edits)."""
    reporter = HeadProgress()
    show_progress = progress if progress is not None else reporter.is_terminal

    async def rebuild(manager: S3SessionManager) -> int:
        return await manager.reindex(progress=reporter if show_progress else None)

    count = run(settings, rebuild)
    click.echo(f"reindexed {settings.location}: {count} session(s)")
