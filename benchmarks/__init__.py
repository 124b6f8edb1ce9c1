"""Benchmarks: S3 requests, bytes, round trips and CPU per session operation, against the alternatives.

Run ``python -m benchmarks.run`` (see benchmarks/README.md).
"""
