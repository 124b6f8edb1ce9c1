"""strands-agents ``tests/strands/session/test_repository_session_manager.py``, verbatim: Strands' own
``RepositorySessionManager`` over `S3SessionsRepository` (swapped for the suite's ``MockedSessionRepository``;
its one ``FileSessionManager`` is swapped for `StrandsSessionManager`)."""

from _upstream import port, require

require("strands-agents")

from _backends_strands import MockedSessionRepositoryOnS3, strands_file_session_manager  # noqa: E402

FRAMEWORK = "strands"
SKIPS: dict[str, str] = {}
LOOP_AFFINITY: tuple[str, ...] = ()
# The suite's Mock(spec=BidiAgent) has a truthy ``storage``, so Strands warns that it does not use it; the suite's
# own pytest configuration does not turn warnings into errors.
WARNINGS = ("ignore:Agent-level storage is set:UserWarning",)

port(
    globals(),
    "strands-agents",
    "tests/strands/session/test_repository_session_manager.py",
    swaps={
        "tests.fixtures.mock_session_repository": {"MockedSessionRepository": MockedSessionRepositoryOnS3},
        "strands.session.file_session_manager": {"FileSessionManager": strands_file_session_manager},
    },
)
