"""Run in a fresh interpreter: read a Claude Agent SDK transcript back through the SDK's store API, print JSON.

Usage: python claude_resume.py ENDPOINT_URL BUCKET PREFIX DIRECTORY SESSION_ID
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys

from claude_agent_sdk import get_session_messages_from_store, project_key_for_directory

from s3sessions import S3SessionManager
from s3sessions.integrations.claude_agent_sdk import ClaudeSessionStore


async def main() -> None:
    endpoint_url, bucket, prefix, directory, session_id = sys.argv[1:]
    async with S3SessionManager(bucket=bucket, prefix=prefix, endpoint_url=endpoint_url) as sessions:
        store = ClaudeSessionStore(sessions)
        entries = await store.load({"project_key": project_key_for_directory(directory), "session_id": session_id})
        messages = await get_session_messages_from_store(store, session_id, directory=directory)
        print(json.dumps({"entries": entries, "messages": [dataclasses.asdict(m) for m in messages]}))


if __name__ == "__main__":
    asyncio.run(main())
