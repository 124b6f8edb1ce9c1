"""The storage layer's signals never reach the caller (errors.py: `ObjectMissing`, `PreconditionFailed` and
`WriteConflict` are for the engine; "a signal that escaped by mistake is still an AgentError").

Found by the multi-process workload: a conditional PUT that lost (412) or raced (409), whose settling read of the
head then failed too, re-raises the PUT's own signal. The caller sees ``PreconditionFailed: put_object:
precondition failed``, which is neither a conflict it can act on nor an honest "the outcome is unknown".

Counts: 5 operations x 2 signals (412, 409) = 10 operations, each with one lost PUT and one failed read injected.
"""

from __future__ import annotations

from typing import Any

import pytest

from s3sessions import Session, SessionMetadata, StorageError
from s3sessions.errors import ObjectMissing, PreconditionFailed, WriteConflict
from s3sessions.testing import InMemoryObjectStore

from .conftest import TALLY, memory_manager, saved, turn

X = "x"
HEAD = f"adv/sessions/{X}/head.json.zst"


class LoseThenFailTheRead:
    """The next head PUT loses with ``signal`` (before it takes effect), and the head GET after it fails."""

    def __init__(self, signal: type[StorageError]) -> None:
        self.signal = signal
        self.state = "armed"

    def __call__(self, operation: str, key: str) -> Any:
        if key != HEAD:
            return None
        if self.state == "armed" and operation == "PutObject":
            self.state = "lost"
            TALLY["faults"] += 1
            return "before", self.signal("injected", key=key)
        if self.state == "lost" and operation == "GetObject":
            self.state = "done"
            TALLY["faults"] += 1
            return "before", StorageError("injected: the settling read failed too", key=key)
        return None


OPERATIONS = {
    "create": lambda m, held: m.save(Session(metadata=SessionMetadata(id=X), messages=turn("c"))),
    "save": lambda m, held: m.save(held),
    "tag": lambda m, held: m.tag(X, ["t"]),
    "rename": lambda m, held: m.rename(X, "n"),
    "delete": lambda m, held: m.delete(X),
}


@pytest.mark.parametrize("signal", [PreconditionFailed, WriteConflict], ids=["412", "409"])
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
async def test_a_lost_put_whose_settling_read_fails_is_a_plain_storage_error(operation, signal):
    store = InMemoryObjectStore()
    manager = memory_manager(store)
    held = await saved(manager, X, 2)
    held.messages.extend(turn("more"))
    if operation == "create":
        manager = memory_manager(store)
    store.faults = LoseThenFailTheRead(signal)
    TALLY["operations"] += 1
    with pytest.raises(StorageError) as raised:
        await OPERATIONS[operation](manager, held)
    assert not isinstance(raised.value, (PreconditionFailed, WriteConflict, ObjectMissing)), repr(raised.value)
