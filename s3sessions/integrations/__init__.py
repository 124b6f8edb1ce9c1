"""Drop-in session stores for agent frameworks, each an optional extra.

- `s3sessions.integrations.strands`: a Strands ``SessionManager`` (``pip install 's3sessions[strands]'``).
- `s3sessions.integrations.openai_agents`: an OpenAI Agents SDK ``Session`` (``s3sessions[openai-agents]``).
- `s3sessions.integrations.claude_agent_sdk`: a Claude Agent SDK ``SessionStore`` (``s3sessions[claude-agent-sdk]``).
- `s3sessions.integrations.strands_migrate`: converts sessions written by Strands' own ``S3SessionManager``.

Nothing here is imported by ``import s3sessions``; each module imports its framework only when used.
"""
