"""openai-agents ``tests/extensions/memory/test_redis_session.py``, verbatim, with ``RedisSession`` swapped for
`OpenAIAgentsSession` (one s3sessions prefix per Redis key prefix). Its backend-agnostic tests run; the rest are
about Redis itself and are skipped with their reason."""

from _upstream import port, require

require("openai-agents")

from _backends import RedisSessionOnS3  # noqa: E402

FRAMEWORK = "openai_agents"
_REDIS = "RedisSession internals"
SKIPS = {
    "test_redis_session_rejects_cluster_transactions_before_pipeline": f"{_REDIS}: Redis Cluster transactions",
    "test_redis_cluster_reads_and_subclass_writes": f"{_REDIS}: Redis Cluster reads",
    "test_colliding_*": f"{_REDIS}: keys of another Redis type",
    "test_clear_rechecks_key_types_after_concurrent_replacement": f"{_REDIS}: Redis key types",
    "test_released_redis_layout_remains_usable": f"{_REDIS}: its key layout",
    "test_mutation_cancellation_waits_for_authoritative_outcome": f"{_REDIS}: pipeline cancellation",
    "test_redis_connectivity": f"{_REDIS}: ping()",
    "test_ttl_functionality": f"{_REDIS}: key TTLs",
    "test_from_url_constructor": f"{_REDIS}: needs a Redis server (upstream skips it on fakeredis)",
    "test_session_settings_from_url": f"{_REDIS}: needs a Redis server (upstream skips it on fakeredis)",
    "test_external_client_not_closed": f"{_REDIS}: ownership of the redis client",
    "test_internal_client_ownership": f"{_REDIS}: ownership of the redis client",
    "test_decode_responses_client_compatibility": f"{_REDIS}: redis client decoding",
    "test_real_redis_decode_responses_compatibility": f"{_REDIS}: redis client decoding",
    "test_get_next_id_method": f"{_REDIS}: its id counter",
    "test_add_items_preserves_created_at_metadata": f"{_REDIS}: reads its metadata hash with HGETALL",
    "test_get_items_limit_skips_corrupt_newest_messages": f"{_REDIS}: pushes invalid JSON with RPUSH",
    "test_corrupted_data_handling": f"{_REDIS}: pushes invalid JSON with RPUSH",
    "test_ping_connection_failure": f"{_REDIS}: ping()",
    "test_close_method_coverage": f"{_REDIS}: closing the redis client",
    "test_redis_session_closed_*": f"{_REDIS}: RedisSession's own 'is closed' error",
    "test_redis_session_close_is_idempotent": f"{_REDIS}: RedisSession's own 'is closed' error",
    "test_redis_session_*_cleanup_is_terminal_and_retried": f"{_REDIS}: closing the redis client",
    "test_redis_session_ping_raises_after_close": f"{_REDIS}: ping()",
    "test_redis_session_close_is_noop_for_injected_client": f"{_REDIS}: _owns_client and ping()",
    "test_add_items_applies_ttl_in_the_write_transaction": f"{_REDIS}: key TTLs",
    "test_add_items_rejects_*_before_writing": f"{_REDIS}: TTL and metadata key types",
    "test_add_items_uses_server_absolute_expiration_after_serialization": f"{_REDIS}: key TTLs",
    "test_add_items_refreshes_server_timestamps_after_watch_retry": f"{_REDIS}: WATCH retries",
    "test_add_items_with_ttl_supports_single_connection_pool": f"{_REDIS}: connection pools",
    "test_ambiguous_exec_watch_error_is_not_retried": f"{_REDIS}: WATCH/EXEC",
    "test_redis8*_pool_checkout_*": f"{_REDIS}: connection pools",
    "test_cancelled_*": f"{_REDIS}: connection and pool cancellation",
    "test_post_commit_*": f"{_REDIS}: connection cleanup after EXEC",
    "test_successful_batch_response_with_sibling_error_does_not_retry": f"{_REDIS}: EXEC responses",
    "test_reconnect_*": f"{_REDIS}: connection pools",
    "test_pre_exec_*": f"{_REDIS}: connection cleanup before EXEC",
    "test_*_pool_*": f"{_REDIS}: connection pools",
    "test_release_failure_after_reborrow_preserves_new_borrower": f"{_REDIS}: connection pools",
    "test_redis_session_operation_waiting_behind_close_raises": f"{_REDIS}: RedisSession's own 'is closed' error",
    "test_compaction_replaces_redis_history_atomically": f"{_REDIS}: its atomic history replacement",
    "test_atomic_replacement_*": f"{_REDIS}: its atomic history replacement",
    "test_compaction_*": f"{_REDIS}: its atomic history replacement",
    "test_redis_compaction_preserves_encryption_wrapper": f"{_REDIS}: its atomic history replacement",
}
LOOP_AFFINITY: tuple[str, ...] = ()

port(
    globals(),
    "openai-agents",
    "tests/extensions/memory/test_redis_session.py",
    swaps={"agents.extensions.memory.redis_session": {"RedisSession": RedisSessionOnS3}},
)
