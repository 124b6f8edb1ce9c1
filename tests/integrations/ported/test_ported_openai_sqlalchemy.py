"""openai-agents ``tests/extensions/memory/test_sqlalchemy_session.py``, verbatim, with ``SQLAlchemySession``
swapped for `OpenAIAgentsSession` (one s3sessions prefix per engine or database URL). Its backend-agnostic tests
run; the rest are about SQLAlchemy and SQLite and are skipped with their reason."""

from _upstream import port, require

require("openai-agents")

from _backends import SQLAlchemySessionOnS3  # noqa: E402

FRAMEWORK = "openai_agents"
_SQL = "SQLAlchemySession internals"
SKIPS = {
    "test_sqlalchemy_session_defaults_to_escaped_non_ascii_storage": f"{_SQL}: reads the JSON column with SQL",
    "test_sqlalchemy_session_can_store_non_ascii_without_escaping": f"{_SQL}: reads the JSON column with SQL",
    "test_sqlite_fallback_reserves_writer_before_tail_claim": f"{_SQL}: SQLite's DELETE fallback",
    "test_pop_item_supports_unknown_delete_rowcount": f"{_SQL}: DBAPI row counts",
    "test_pop_item_retries_returning_claim_lost_to_concurrent_delete": f"{_SQL}: DELETE RETURNING",
    "test_mutation_cancellation_waits_for_transaction_exit": f"{_SQL}: transaction contexts",
    "test_pop_item_skips_corrupt_most_recent": f"{_SQL}: inserts invalid JSON rows with SQL",
    "test_get_items_limit_skips_corrupt_newest_rows": f"{_SQL}: inserts invalid JSON rows with SQL",
    "test_pop_item_returns_none_after_dropping_only_corrupt_rows": f"{_SQL}: inserts invalid JSON rows with SQL",
    "test_add_items_waits_for_transient_sqlite_write_lock": f"{_SQL}: holds the SQLite write lock",
    "test_add_items_cancelled_waiter_does_not_strand_table_init_lock": f"{_SQL}: its table-creation lock",
    "test_create_tables_false_does_not_allocate_shared_init_lock": f"{_SQL}: its table-creation lock",
    "test_get_items_same_timestamp_consistent_order": f"{_SQL}: rewrites created_at with SQL",
    "test_pop_item_same_timestamp_returns_latest": f"{_SQL}: rewrites created_at with SQL",
    "test_get_items_orders_by_id_for_ties": f"{_SQL}: the ORDER BY of its queries",
    "test_engine_property_*": f"{_SQL}: its engine property",
    "test_sqlite_configuration_registry_*": f"{_SQL}: its SQLite configuration registry",
}
LOOP_AFFINITY = ("test_add_items_concurrent_first_access_*_cross_loop",)

port(
    globals(),
    "openai-agents",
    "tests/extensions/memory/test_sqlalchemy_session.py",
    swaps={"agents.extensions.memory.sqlalchemy_session": {"SQLAlchemySession": SQLAlchemySessionOnS3}},
)
