"""Session semantics on the storage seam (layer 3): object I/O, pure head builders, the commit engine, the index.

- `objects`: reading and writing a session's objects, with the head cache (and its message snapshots).
- `heads`: pure ``(base head, request) -> new head`` builders, one per protocol.
- `commit`: the one conditional-write loop: settle every 412 / 409 / lost answer by write id, retry bounded.
- `manifest` and `probe`: a prefix's shared settings, and the probe of the store's conditional-write dialect.
- `index`: index format 2 (the LIST is the index).
- `saving`, `editing`, `deleting`, `reading`: the protocols of DESIGN.md, built from the pieces above.
"""
