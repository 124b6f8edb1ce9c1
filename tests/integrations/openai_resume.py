"""Run in a fresh interpreter: read an OpenAI Agents SDK session from s3sessions, run one more turn, print JSON.

Usage: python openai_resume.py ENDPOINT_URL BUCKET PREFIX SESSION_ID
"""

from __future__ import annotations

import asyncio
import json
import sys

from _support import openai_model
from agents import Agent, Runner, set_tracing_disabled

from s3sessions import S3SessionManager
from s3sessions.integrations.openai_agents import OpenAIAgentsSession


async def main() -> None:
    set_tracing_disabled(True)
    endpoint_url, bucket, prefix, session_id = sys.argv[1:]
    async with S3SessionManager(bucket=bucket, prefix=prefix, endpoint_url=endpoint_url) as sessions:
        session = OpenAIAgentsSession(session_id, sessions)
        history = await session.get_items()
        model = openai_model(["You asked about Paris and Rome."])
        result = await Runner.run(Agent(name="guide", model=model), "What did I ask about?", session=session)
        print(json.dumps({"history": history, "model_input": model.inputs[0], "output": result.final_output}))


if __name__ == "__main__":
    asyncio.run(main())
