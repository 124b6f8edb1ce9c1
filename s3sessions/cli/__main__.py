"""``python -m s3sessions.cli``: the same as the ``s3sessions`` console script."""

from . import main

main()
