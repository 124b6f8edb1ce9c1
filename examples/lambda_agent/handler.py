"""An example agent on AWS Lambda: resumes or creates the session named in the event, appends one turn, saves.

The event is ``{"session_id": "...", "message": "..."}`` (``message`` optional); the reply is scripted, not a
model call. The result is ``{"session_id": ..., "turn_count": ..., "reply": ...}``.

The manager is created once per container, at import (cheap: no AWS SDK is loaded until the first request),
and reused by every warm invocation: its S3 client, connection pool and cached heads survive between
invocations. `SyncSessionManager` runs it on a private long-lived event loop, so no loop is ever closed under a
live client (``asyncio.run`` per invocation would do exactly that).

Concurrent invocations on one session (a user who double-clicks, a retried event): each call goes through
``sessions.update``, which reads the session, applies the turn and saves with a conditional write; a call that
loses the race to another invocation reads the newer session and applies its turn again on top, so every
invocation lands its turn and none is lost or duplicated. With a real model, ``add_turn`` would call it on the
history it is given: a call that lost the race calls it again on the newer history.

Configuration comes from the environment the SAM template sets: ``S3SESSIONS_BUCKET``, ``S3SESSIONS_PREFIX`` and
``S3SESSIONS_KMS_KEY_ID`` (empty: the bucket's default encryption). botocore reads the rest as usual
(credentials from the function's role, ``AWS_REGION``; ``AWS_ENDPOINT_URL_S3`` for a local S3 in tests).
The library comes from the function's layer (``infra/build_layer.py``), not from a requirements.txt.
"""

from __future__ import annotations

import os
from typing import Any

from s3sessions import S3SessionManager, Session
from s3sessions.sync import SyncSessionManager

AGENT_NAME = "lambda-agent"
ATTEMPTS = 16
"""How many concurrent invocations on one session a call outlasts: each lost race costs one re-read and retry."""

sessions = SyncSessionManager(
    S3SessionManager(
        bucket=os.environ.get("S3SESSIONS_BUCKET"),
        prefix=os.environ.get("S3SESSIONS_PREFIX", ""),
        kms_key_id=os.environ.get("S3SESSIONS_KMS_KEY_ID") or None,
    )
)


def scripted_reply(message: str, turn: int) -> str:
    """Stands in for the model call of a real agent."""
    return f"Turn {turn}: you said {message!r}."


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point (``handler.handler``)."""
    session_id = event["session_id"]
    message = str(event.get("message", "hello"))
    replies: list[str] = []

    def add_turn(session: Session) -> None:  # runs again on the newer session after a lost race
        if session.metadata.version is None:
            session.metadata.agent_name = AGENT_NAME  # a new session
        reply = scripted_reply(message, session.metadata.turn_count + 1)
        session.messages.append({"role": "user", "content": message})
        session.messages.append({"role": "assistant", "content": reply})
        replies.append(reply)

    session = sessions.update(session_id, add_turn, attempts=ATTEMPTS)
    return {"session_id": session_id, "turn_count": session.metadata.turn_count, "reply": replies[-1]}
