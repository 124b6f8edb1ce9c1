"""openai-agents ``tests/memory/test_session.py``, verbatim,
with ``SQLiteSession`` swapped for `OpenAIAgentsSession`."""

from _upstream import port, require

require("openai-agents")

from _backends import SQLiteSessionOnS3  # noqa: E402

FRAMEWORK = "openai_agents"
_SQLITE = "SQLiteSession internals"
SKIPS = {
    "test_await_mutation_cancellation_hides_later_failure_without_loop_error": (
        f"{_SQLITE}: agents.memory.sqlite_session._await_mutation, a private helper; no session involved"
    ),
    "test_sqlite_session_close_closes_worker_thread_connections": f"{_SQLITE}: per-thread sqlite3 connections",
    "test_sqlite_session_reaps_connections_from_exited_worker_threads": f"{_SQLITE}: per-thread sqlite3 connections",
    "test_sqlite_session_closes_retired_connections_before_the_next_allocation": f"{_SQLITE}: sqlite3.connect",
    "test_sqlite_session_keeps_connections_of_live_worker_threads": f"{_SQLITE}: per-thread sqlite3 connections",
    "test_sqlite_session_closed_rejects_empty_add_items": (
        f"{_SQLITE}: SQLiteSession's own 'is closed' error; the adapter's manager belongs to its owner"
    ),
    "test_sqlite_session_pop_item_*corrupt*": f"{_SQLITE}: inserts invalid JSON rows with SQL",
    "test_sqlite_session_get_items_*corrupt*": f"{_SQLITE}: inserts invalid JSON rows with SQL",
    "test_sqlite_session_file_lock_is_shared_across_instances": f"{_SQLITE}: the per-file lock registry",
    "test_sqlite_session_failed_add_items_releases_write_lock": f"{_SQLITE}: the SQLite write lock",
    "test_sqlite_session_failed_clear_session_rolls_back": f"{_SQLITE}: drops a table with SQL",
    "test_sqlite_session_failed_pop_item_releases_write_lock": f"{_SQLITE}: drops a table with SQL",
    "test_sqlite_session_rollback_failure_evicts_connection": f"{_SQLITE}: sqlite3 connection factories",
    "test_sqlite_session_close_retries_quarantined_connection": f"{_SQLITE}: sqlite3 connection factories",
    "test_sqlite_session_post_commit_cancellation_propagates_after_known_outcome": f"{_SQLITE}: sqlite3 commit",
}
LOOP_AFFINITY = ("*[run_sync]", "test_sqlite_session_concurrent_access")

port(globals(), "openai-agents", "tests/memory/test_session.py", swaps={"agents": {"SQLiteSession": SQLiteSessionOnS3}})
