"""What a run leaves on disk: atomic, pickle-free files in a locked run directory.

Modules:
    files: atomic writes, flattened safetensors state, CSV rows.
    locking: one writer per run directory.
    rundir: the run directory -- its file names, reading and writing each, its lifecycle.
"""

__all__: list[str] = []
