"""Run in a fresh interpreter: resume a Strands agent from s3sessions and print its history as JSON.

Usage: python strands_resume.py ENDPOINT_URL BUCKET PREFIX SESSION_ID [AGENT_ID]
"""

from __future__ import annotations

import json
import sys

from _support import strands_model, strands_tools, to_json
from strands import Agent

from s3sessions.integrations.strands import StrandsSessionManager


def main() -> None:
    endpoint_url, bucket, prefix, session_id, *rest = sys.argv[1:]
    agent_id = rest[0] if rest else None
    with StrandsSessionManager(session_id, bucket=bucket, prefix=prefix, endpoint_url=endpoint_url) as sessions:
        agent = Agent(
            model=strands_model([]),
            tools=strands_tools(),
            session_manager=sessions,
            callback_handler=None,
            **({"agent_id": agent_id} if agent_id else {}),
        )
        print(json.dumps({"messages": to_json(agent.messages), "state": agent.state.get()}))


if __name__ == "__main__":
    main()
