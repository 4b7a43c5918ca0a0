"""Where tensors live and how processes share the work; used by every layer above.

Modules:
    devices: ``--device`` resolved and checked once; the device a module's tensors are on.
    parallel: processes under torchrun: shards of the data, sums across ranks, and random
        streams keyed by datapoint so results do not depend on how the work is split.
"""

__all__: list[str] = []
