"""Administration above the manager: reindex, fsck, the store check, head history, bucket provisioning.

These are the operations a person runs (through the CLI or the library) rather than an agent: they scan a
whole prefix and repair it. They make every request through the manager's objects, index and store.
"""
