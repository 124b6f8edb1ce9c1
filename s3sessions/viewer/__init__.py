"""A local, read-only web viewer of sessions: ``s3sessions view`` (the ``view`` extra).

The pieces, bottom up: `messages` reads every supported message shape as blocks, and `markup` and `render`
turn them into escaped HTML.
"""

from __future__ import annotations
