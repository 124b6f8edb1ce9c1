"""How every adapter gets its manager and commits through it (shared by Strands, OpenAI Agents and Claude).

`open_manager`: an adapter takes either ``manager=`` (the caller's: the caller closes it) or ``**manager_options``,
forwarded verbatim to `S3SessionManager` (bucket, prefix, endpoint_url, region_name, profile_name, kms_key_id,
client_config, pool_size, session, client, ...: every option, with the library's defaults and environment
variables), in which case the adapter owns the manager and closes it.

`commit`: the one read-apply-save path of the OpenAI and Claude adapters. It first applies the change to the copy
the adapter already holds (no GET when that copy is current); when another writer committed first it hands over to
`SessionManager.update`, which re-reads, applies again and retries with jittered back-off. Starting from the held
copy is why the adapters do not call `update` directly: `update` always reads first, which would add a GET to
every write (a ``Runner.run`` turn would go from 1 GET + 4 PUT to 3 GET + 4 PUT).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from ..base import SessionManager
from ..errors import ConflictError, InvalidInput, SessionNotFound
from ..models import Session

__all__ = ["NoChange", "commit", "open_manager"]


def open_manager(manager: SessionManager | None, options: Mapping[str, Any]) -> tuple[SessionManager, bool]:
    """Returns (the manager to use, whether the adapter owns it and must close it).

    Args:
        manager: The caller's manager, or None to create an `S3SessionManager` from ``options``.
        options: `S3SessionManager` keyword arguments, passed as they are.

    Raises:
        InvalidInput: both a manager and options were given (the options would be silently ignored).
        TypeError: an option `S3SessionManager` does not take.
    """
    if manager is not None:
        if options:
            raise InvalidInput(
                f"pass either manager= or S3SessionManager options, not both (got {', '.join(sorted(options))})"
            )
        return manager, False
    from ..manager import S3SessionManager

    return S3SessionManager(**options), True


class NoChange(Exception):
    """Raised by a `commit` change to say that nothing needs writing (`commit` then writes nothing)."""


def _copy(session: Session) -> Session:
    return session.model_copy(
        update={
            "messages": list(session.messages),
            "state": copy.deepcopy(session.state),
            "metadata": session.metadata.model_copy(deep=True),
        }
    )


async def commit(
    manager: SessionManager,
    session_id: str,
    held: Session | None,
    change: Callable[[Session], None],
    *,
    agent_name: str,
) -> Session | None:
    """Applies ``change`` to the session and saves it; returns the saved session, or None if ``change`` raised
    `NoChange` (nothing was written).

    ``change`` mutates the session it is given (a new, empty one when the session does not exist) and may run
    more than once, each time on a newer copy.

    S3 requests: with a current ``held`` copy, those of one `SessionManager.save`; otherwise, or after a lost
    race, those of `SessionManager.update` (a GET, then the save).

    Raises:
        ConflictError: the session kept changing under every attempt of `SessionManager.update`.
    """
    if held is not None:
        candidate = _copy(held)
        try:
            change(candidate)
        except NoChange:
            return None
        try:
            await manager.save(candidate)
        except (ConflictError, SessionNotFound):
            pass  # another writer committed (or deleted) since `held` was read: read again and re-apply
        else:
            return candidate
    try:
        return await manager.update(session_id, change, agent_name=agent_name)
    except NoChange:
        return None
