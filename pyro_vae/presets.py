"""Settings from outside the command line: a TOML (or JSON) file, and named presets.

A *preset* is every setting of one documented configuration -- a row of the tables in
BENCHMARKS.md -- under one name: ``pyro-vae train --preset mnist-best --data-dir DIR`` trains
the model of that row, and ``pyro-vae presets`` lists them with what they reproduce. The bench
scripts that measure the rows train them from these same entries. Options given beside a
preset override it (a config file overrides it too, and the command line both), and
``config.json`` records the preset's name and the settings that overrode it.

Each preset trains with a time budget, as its row was measured (seconds on 2 CPU cores), and
reads the data from ``--data-dir``: the data set itself cannot come with the package.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pyro_vae.errors import InputError, spell
from pyro_vae.registry import Registry

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["PRESETS", "apply_preset", "load_config_file", "preset_settings"]

#: name -> the settings of a documented configuration; trait ``reproduces``: where its number is.
PRESETS: Registry[Mapping[str, Any]] = Registry("preset", "--preset", defaults={"reproduces": ""})

_MNIST = {"dataset": "mnist", "epochs": 100_000}
_VAMP = {"prior": "vamp", "prior_components": 500, "lr_decay": 0.995}
_LIKELIHOOD_TABLE = "BENCHMARKS.md, MNIST test NLL (bench/mnist_nll.py), row "
_ROWS: dict[str, tuple[str, dict[str, Any]]] = {
    "mnist-vae": ("the default VAE, k = 1, 10 minutes", {"objective": "elbo"}),
    "mnist-iwae5": (
        "IWAE, k = 5, 10 minutes",
        {"objective": "iwae", "num_particles": 5},
    ),
    "mnist-iwae50": (
        "IWAE, k = 50, 10 minutes",
        {"objective": "iwae", "num_particles": 50},
    ),
    "mnist-best": (
        "IWAE k = 5, a 500-component VampPrior, a decaying learning rate, EMA 0.999, 2 hours",
        {"objective": "iwae", "num_particles": 5, **_VAMP, "ema": 0.999, "time_budget": 7200.0},
    ),
    "mnist-hvae": (
        "two stochastic layers, k = 1, 10 minutes",
        {"model": "hierarchical", "objective": "elbo"},
    ),
    "mnist-hiwae5": (
        "two stochastic layers, IWAE k = 5, 10 minutes",
        {"model": "hierarchical", "objective": "iwae", "num_particles": 5},
    ),
    "mnist-hbest": (
        "two stochastic layers, IWAE k = 5, VampPrior, decaying learning rate, 2 hours",
        {"model": "hierarchical", "objective": "iwae", "num_particles": 5, **_VAMP}
        | {"time_budget": 7200.0},
    ),
}
for _name, (_summary, _values) in _ROWS.items():
    PRESETS.register(_name, _summary, reproduces=_LIKELIHOOD_TABLE + _name[len("mnist-") :])(
        MappingProxyType({**_MNIST, "time_budget": 600.0, **_values})
    )

#: M2 of Kingma et al. (2014): one 500-unit softplus layer, 50-d z (bench/mnist_m2.py)
_M2 = {"model": "m2", "latent_dim": 50, "hidden_dims": (500,), "activation": "softplus"}
PRESETS.register(
    "mnist-m2-100",
    "semi-supervised M2 from 100 labels, 10 minutes",
    reproduces="BENCHMARKS.md, semi-supervised M2 (bench/mnist_m2.py), row of 100 labels",
)(MappingProxyType({**_MNIST, **_M2, "learning_rate": 3e-4, "labels": 100, "time_budget": 600.0}))

#: Pyro's CVAE tutorial: 500-500 relu networks, 200-d z (bench/mnist_cvae.py)
_CVAE = {"model": "cvae", "latent_dim": 200, "hidden_dims": (500, 500), "activation": "relu"}
for _quadrants in (1, 2, 3):
    PRESETS.register(
        f"mnist-cvae-q{_quadrants}",
        f"conditional VAE completing MNIST from {_quadrants} given quadrant(s), 15 minutes",
        reproduces=f"BENCHMARKS.md, conditional VAE (bench/mnist_cvae.py), {_quadrants} given",
    )(
        MappingProxyType(
            {**_MNIST, **_CVAE, "condition": f"quadrants:{_quadrants}", "time_budget": 900.0}
        )
    )

#: a conv network with a discretized logistic mixture on 8-bit pixels (bench/mnist_8bit.py)
PRESETS.register(
    "mnist-8bit",
    "8-bit MNIST in bits per dimension: conv networks, 5-component dmol, 90 minutes",
    reproduces="BENCHMARKS.md, 8-bit MNIST (bench/mnist_8bit.py)",
)(
    MappingProxyType(
        {
            **_MNIST,
            "likelihood": "dmol",
            "mixtures": 5,
            "network": "conv",
            "hidden_dims": (512,),
            "activation": "relu",
            "latent_dim": 32,
            "binarize": "none",
            "time_budget": 5400.0,
        }
    )
)


def preset_settings(name: str) -> dict[str, Any]:
    """The settings of the preset ``name`` (a copy).

    Raises:
        InputError: for an unknown name, listing the presets.

    Example:
        >>> preset_settings("mnist-iwae5")["num_particles"]
        5
    """
    return dict(PRESETS.get(name))


def apply_preset(name: str | None, values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` over the settings of the preset ``name`` (``None``: ``values`` alone).

    Example:
        >>> apply_preset("mnist-vae", {"time_budget": 60})["time_budget"]
        60
    """
    if name is None:
        return dict(values)
    return {**preset_settings(name), **{k.replace("-", "_"): v for k, v in values.items()}}


def load_config_file(path: str | Path) -> dict[str, Any]:
    r"""Read settings from a TOML (or JSON) file, unchecked: pass them to :meth:`Config.from_dict`.

    Args:
        path: a ``.toml`` file of ``name = value`` lines, or a run directory's ``config.json``.

    Returns:
        The settings as a dict.

    Raises:
        InputError: if the file is missing or not valid TOML/JSON.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "run.toml")
        >>> _ = open(p, "w").write("epochs = 3\nhidden_dims = [64, 64]\n")
        >>> load_config_file(p)["hidden_dims"]
        [64, 64]
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"config file {path} does not exist: check the path" + spell(" given to --config", "")
        )
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"config file {path} is not valid: {first_line}; fix the file") from None
    if not isinstance(data, dict):
        raise InputError(f"config file {path} must hold name = value settings; fix the file")
    return data
