"""The data of a loaded run, read again: what ``train(...).data`` held, for ``load_run(...)``.

A run directory records the shape of its data (:class:`~pyro_vae.storage.datainfo.DataInfo`),
not the data. :meth:`pyro_vae.storage.rundir.Run.load_data` reads them again from where the run
was trained on them (or where they live now, or another data set of the same width) and checks
that they fit the run's model.
"""

from __future__ import annotations

from pyro_vae.config import Config
from pyro_vae.data.splits import DataSplits, load_data
from pyro_vae.errors import InputError, setting
from pyro_vae.models.vae import VAE
from pyro_vae.parts.contracts import support_of
from pyro_vae.storage.datainfo import DataInfo

__all__ = ["DATA_SETTINGS", "run_data"]

#: Settings of a run's data that may point elsewhere when it is read again.
DATA_SETTINGS = ("dataset", "data_dir", "data_file")


def run_data(config: Config, data: DataInfo, vae: VAE, **changes: str | None) -> DataSplits:
    """The data of a run: its own, or those ``changes`` point to (use ``run.load_data``).

    Args:
        config: the run's settings.
        data: what the run recorded of its data (their width, classes).
        vae: the run's model (its likelihood says what the data may hold).
        **changes: ``dataset``, ``data_dir`` or ``data_file`` to read other data (of the same
            width) or the run's data from where they live now; ``None`` values are ignored.

    Raises:
        InputError: if the data cannot be loaded or do not fit the model.
        TypeError: for a setting that is not one of :data:`DATA_SETTINGS`.

    Example:
        >>> run = pyro_vae.load_run("runs/digits")  # doctest: +SKIP
        >>> run_data(run.config, run.data, run.vae).test.shape  # doctest: +SKIP
        torch.Size([180, 64])
    """
    unknown = sorted(set(changes) - set(DATA_SETTINGS))
    if unknown:
        raise TypeError(f"unknown data settings {unknown}: choose from {DATA_SETTINGS}")
    given = {k: v for k, v in changes.items() if v}
    if "dataset" in given:  # another data set: the run's own folder or file does not apply
        given = {"data_dir": None, "data_file": None, **given}
    config = config.replace(**given) if given else config
    splits = load_data(config, support_of(vae.likelihood))
    if splits.data_dim != data.data_dim:
        raise InputError(
            f"the run's model takes {data.data_dim} values per datapoint but the data have "
            f"{splits.data_dim}: point {setting('data_dir')} or {setting('data_file')} at the data "
            "it was trained on"
        )
    known, named = data.num_classes, splits.num_classes
    if known is not None and named is not None and named != known:
        raise InputError(
            f"the run's model knows {known} classes but the labels of {config.dataset} name "
            f"{named}: evaluate it on data of its own classes"
        )
    return splits
