"""What a run leaves on disk: atomic, pickle-free files in a locked run directory.

Modules:
    files: atomic writes, flattened safetensors state, CSV rows.
    locking: one writer per run directory.
    rundir: the run directory -- its file names, reading and writing each.
    lifecycle: creating, refusing, clearing and locking a run directory.
    export: a compact copy of a run to share (one set of weights, no training state).
    datainfo: the shape of a run's data, and the description of a user's own model.
    rundata: a loaded run's data, read again (``Run.load_data``).
    document: a run's config.json -- its name, format and reading (no torch).
"""

__all__: list[str] = []
