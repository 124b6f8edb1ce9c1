"""A fixed ``User-Agent`` for the S3 clients this package creates: built once, not on every request.

botocore 1.40 rebuilds its User-Agent twice per request (client, OS, language and per-request feature metadata,
each component sanitised character by character): 0.35-0.8 ms of the 2.9-4.2 ms of client CPU of a small GET
on the benchmark machine (bare GETs through the benchmark proxy). Given ``user_agent`` in the client's config,
botocore sends that string as it is (plus any ``user_agent_extra``), so we give it one that names this library
and the SDK below it, built once per client. What is lost is botocore's per-request feature codes
(``m/...``), which only AWS's SDK telemetry reads.

The caller's choices win: a ``user_agent``, ``user_agent_extra`` or ``user_agent_appid`` in ``client_config``,
an app id configured for the session (``AWS_SDK_UA_APP_ID``, ``sdk_ua_app_id``), or a session the caller passes
in all leave botocore's own User-Agent in place.
"""

from __future__ import annotations

import functools
import platform
from collections.abc import Mapping
from typing import Any

_CALLER_KEYS = ("user_agent", "user_agent_extra", "user_agent_appid")
DISTRIBUTION = "s3-agent-sessions"
"""The name this package is installed under (pyproject.toml), whose version the User-Agent carries."""


def fixed_user_agent(sdk_versions: Mapping[str, str]) -> str:
    """``s3sessions/<version> <sdk>/<version>... Python/<version>``: what botocore would lead with, fixed."""
    parts = [f"s3sessions/{_package_version()}"]
    parts += [f"{name}/{version}" for name, version in sdk_versions.items()]
    parts.append(f"Python/{platform.python_version()}")
    return " ".join(parts)


def keeps_botocores_user_agent(client_config: Mapping[str, Any], session: Any) -> bool:
    """True when the caller configured a User-Agent or an app id, in the client config or for the session."""
    if any(client_config.get(key) is not None for key in _CALLER_KEYS):
        return True
    get_config_variable = getattr(getattr(session, "_session", None), "get_config_variable", None)
    if get_config_variable is None:
        return True  # not a botocore session we know: leave it as it is
    try:
        return get_config_variable("user_agent_appid") is not None
    except Exception:  # a botocore without the variable: nothing configured
        return False


@functools.cache
def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"
