"""strands-agents ``tests/strands/session/test_s3_session_manager.py``, verbatim, with Strands' ``S3SessionManager``
swapped for `StrandsSessionManager` (same bucket and prefix) and moto's in-process ``mock_aws`` for the suite's
moto server (the suite's own ``s3_bucket`` fixture creates its bucket there through ``AWS_ENDPOINT_URL_S3``)."""

import contextlib

from _upstream import port, require

require("strands-agents")

from _backends_strands import strands_s3_session_manager  # noqa: E402

FRAMEWORK = "strands"
RESET_S3 = True  # every test creates the bucket test-session-bucket
_S3 = "S3SessionManager internals"
SKIPS = {
    "test_init_s3_session_manager*": f"{_S3}: the user agent and endpoint of its boto3 client",
    "test_create_session": f"{_S3}: reads its session.json object",
    "test_delete_session": f"{_S3}: heads its session.json object",
    "test_create_agent": f"{_S3}: reads its agent.json object",
    "test_create_message": f"{_S3}: reads its message_<id>.json object",
    "test__get_*": f"{_S3}: its private key builders",
    "test_create_multi_agent": f"{_S3}: reads its multi_agent.json object",
}
LOOP_AFFINITY: tuple[str, ...] = ()


def _mock_aws() -> contextlib.AbstractContextManager[None]:
    """moto's ``mock_aws``: the suite's moto server stands in for it."""
    return contextlib.nullcontext()


port(
    globals(),
    "strands-agents",
    "tests/strands/session/test_s3_session_manager.py",
    swaps={
        "strands.session.s3_session_manager": {"S3SessionManager": strands_s3_session_manager},
        "moto": {"mock_aws": _mock_aws},
    },
)
