"""strands-agents ``tests/strands/session/test_file_session_manager.py``, verbatim, with ``FileSessionManager``
swapped for `StrandsSessionManager` (one s3sessions prefix per storage directory)."""

from _upstream import port, require

require("strands-agents")

from _backends_strands import strands_file_session_manager  # noqa: E402

FRAMEWORK = "strands"
_FILE = "FileSessionManager internals"
SKIPS = {
    "test_create_session": f"{_FILE}: reads its session.json file",
    "test_delete_session": f"{_FILE}: checks its session directory",
    "test_create_agent": f"{_FILE}: reads its agent.json file",
    "test_create_message": f"{_FILE}: reads its message_<id>.json file",
    "test_message_durable_id_persists": f"{_FILE}: reads its message_<id>.json file",
    "test_corrupted_json_file": f"{_FILE}: its private _read_file",
    "test_permission_error_handling": f"{_FILE}: patches builtins.open",
    "test__get_*": f"{_FILE}: its private path builders",
    "test_create_multi_agent": f"{_FILE}: reads its multi_agent.json file",
    "test_create_session_multi_agent_directory_structure": f"{_FILE}: checks its directories",
}
LOOP_AFFINITY: tuple[str, ...] = ()

port(
    globals(),
    "strands-agents",
    "tests/strands/session/test_file_session_manager.py",
    swaps={"strands.session.file_session_manager": {"FileSessionManager": strands_file_session_manager}},
)
