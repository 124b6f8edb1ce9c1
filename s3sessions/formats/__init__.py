"""The stored formats, as pure code: JSON values, zstd frames, records, keys, index listings, segment planning.

Nothing in this package performs I/O or imports the AWS SDK; everything above it (storage, engine, manager)
reads and writes bytes through it. Format 1 objects (heads, segments, the sharded index of the first release)
stay readable; every object written now is format 2 (see ``docs/design.md``).
"""
