"""Every setting of a training run, in one validated record.

A :class:`Config` is what a run directory's ``config.json`` holds. It is built from keyword
arguments (Python), a TOML file and command-line overrides (CLI) through the same function,
:meth:`Config.from_dict`, which checks names, types and ranges and raises :class:`InputError`
naming the problem and the fix. A setting that picks a part names its family (``family=`` in
:func:`_setting`); the name is checked against that family's registry
(:func:`pyro_vae.registry.family`), and what the settings allow together (JIT, components) is
asked of the parts' traits. This module imports no part module: parts depend on it, not back.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import itertools
import math
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pyro_vae.condition import CONDITION_KINDS, Condition
from pyro_vae.errors import InputError, setting, spell, where
from pyro_vae.presets import apply_preset
from pyro_vae.registry import family

__all__ = [
    "COMPILE_MODES",
    "CONDITION_KINDS",
    "MAX_WEIGHTS",
    "RESUMABLE",
    "RESUMABLE_OPTIONS",
    "Condition",
    "Config",
]

#: The most weights between the latent and hidden layers of one network (about 1 GiB): larger
#: is a typo or a hostile config.json, refused before anything is allocated.
MAX_WEIGHTS = 250_000_000

#: The largest seed: the random generators behind torch, numpy and Pyro take 32-bit seeds.
MAX_SEED = 2**32 - 1

#: The settings that only some data sets read (their ``reads`` trait), and their unset values.
_DATASET_SETTINGS = {
    "data_dir": None,
    "data_file": None,
    "channels": 0,
    "image_size": 0,
    "skip_bad_images": False,
}

#: How the training step may be compiled (``Config.compile``).
COMPILE_MODES = ("auto", "torch", "jit", "off")
#: The values of the ``jit`` setting of runs saved before ``compile`` replaced it.
_LEGACY_JIT = {"on": "jit", "true": "jit", "off": "off", "false": "off", "auto": "auto"}

#: The settings a resumed run may change: when and how it stops, not what it trains.
RESUMABLE = ("epochs", "early_stopping", "time_budget", "on_nonfinite", "compile")
#: The same as command-line options, for messages: ``--epochs, ... and --compile``.
RESUMABLE_OPTIONS = (
    ", ".join(f"--{name.replace('_', '-')}" for name in RESUMABLE[:-1])
    + f" and --{RESUMABLE[-1].replace('_', '-')}"
)


def _setting(default: Any, help: str, group: str, family: str | None = None) -> Any:
    """A dataclass field whose help text and option group feed ``pyro-vae train --help``.

    ``family`` names the registry whose entries the setting picks (``"prior"``, ...).
    """
    return field(default=default, metadata={"help": help, "group": group, "family": family})


@dataclass(frozen=True)
class Config:
    """The settings of one training run; every field has a default.

    Example:
        >>> cfg = Config(epochs=3, latent_dim=2)
        >>> cfg.replace(epochs=5).epochs
        5
        >>> Config.from_dict({"epochs": 0})
        Traceback (most recent call last):
        ...
        pyro_vae.errors.InputError: epochs must be a positive integer, got 0: pass e.g. epochs=50
    """

    preset: str | None = _setting(
        None,
        "a documented configuration (pyro-vae presets lists them): its settings, under those "
        "given beside it",
        "data",
        family="preset",
    )
    # data
    dataset: str = _setting("digits", "data set", "data", family="dataset")
    data_dir: str | None = _setting(
        None,
        "folder with the four IDX files of mnist or fashion-mnist, gzipped or not, flat or in "
        "torchvision's layout; no network needed",
        "data",
    )
    data_file: str | None = _setting(
        None, "the .npz file for --dataset npz (arrays x_train, optional x_test, y_*)", "data"
    )
    binarize: str = _setting(
        "auto",
        "auto (dynamic for Bernoulli, none otherwise), dynamic (fresh 0/1 draws each epoch), none",
        "data",
    )
    channels: int = _setting(
        0, "colour channels of --dataset folder: 1 (grey) or 3 (RGB); 0: what the files are", "data"
    )
    image_size: int = _setting(
        0,
        "side of the square images of --dataset folder (the shorter side resized, the centre "
        "cropped); 0: the files' own size",
        "data",
    )
    skip_bad_images: bool = _setting(
        False,
        "leave out the files of --dataset folder that cannot be read as images (counted)",
        "data",
    )
    dequantize: str = _setting(
        "auto",
        "uniform dequantization of 2**--data-bits-level pixels for a continuous likelihood, so "
        "that its NLL bounds the discrete images' in bits per dimension: on, off, or auto (on "
        "when the data lie on the levels and are not binarized)",
        "data",
    )
    data_bits: int = _setting(
        8,
        "depth of the pixels that --likelihood discretized-logistic and dmol model: 2**bits "
        "levels, k / (2**bits - 1) in [0, 1] (8 for ordinary images)",
        "data",
    )
    validation_fraction: float = _setting(
        0.1, "share of the training images held out for validation", "data"
    )
    # model
    model: str = _setting("vae", "model family", "model", family="model")
    prior: str = _setting("standard-normal", "prior P(z)", "model", family="prior")
    prior_components: int | None = _setting(
        None, "components of a mixture prior (default: the prior's own)", "model"
    )
    flow_layers: int = _setting(2, "autoregressive transforms of a flow prior or guide", "model")
    guide: str = _setting("diagonal", "guide family Q(z|X)", "model", family="guide")
    likelihood: str = _setting("bernoulli", "likelihood P(X|z)", "model", family="likelihood")
    sigma: float = _setting(
        0.1, "sigma of the gaussian likelihood (the start value when it is learned)", "model"
    )
    mixtures: int = _setting(
        10, "components per pixel of --likelihood dmol (PixelCNN++ uses 5 to 10)", "model"
    )
    network: str = _setting("mlp", "encoder/decoder network body", "model", family="network")
    latent_dim: int = _setting(50, "dimension of z", "model")
    hidden_dims: tuple[int, ...] = _setting(
        (200, 200),
        "hidden layer widths, comma separated (encoder; reversed for the decoder)",
        "model",
    )
    activation: str = _setting("tanh", "hidden activation", "model", family="activation")
    lower_latent_dim: int = _setting(
        100, "dimension of the first stochastic layer z1 of --model hierarchical", "model"
    )
    upper_hidden_dims: tuple[int, ...] = _setting(
        (100, 100),
        "hidden widths of the networks between z1 and z2 of --model hierarchical",
        "model",
    )
    labels: int = _setting(
        0,
        "training labels that --model m2 keeps (balanced over the classes, chosen by --seed); "
        "the other training images are used without theirs",
        "model",
    )
    condition: str = _setting(
        "none",
        "what --model cvae is given: quadrants:K (K = 1, 2, 3 quadrants of each image), label "
        "(the class) or arrays (c_train and c_test of an npz file)",
        "model",
    )
    prior_network: str = _setting(
        "diagonal",
        "family of the prior network P(z|X) of --model cvae (a guide family of --guide), or "
        "none for the unconditional --prior",
        "model",
    )
    baseline_epochs: int = _setting(
        0,
        "epochs of the deterministic baseline network P(Y|X) that --model cvae trains first "
        "(keeping its best validation epoch), then holds fixed and feeds to its prior network, "
        "as Pyro's CVAE tutorial does; 0: none",
        "model",
    )
    classification_weight: float = _setting(
        0.1,
        "weight of the classification term of --model m2, as a share of the training set "
        "(the paper's alpha = 0.1 N)",
        "objective",
    )
    # objective
    objective: str = _setting("elbo", "training objective", "objective", family="objective")
    num_particles: int = _setting(1, "samples of z per datapoint in the objective (k)", "objective")
    beta: float = _setting(1.0, "weight of the KL term (beta-VAE), > 0", "objective")
    warmup_epochs: float = _setting(
        0.0, "epochs of linear KL warm-up from 0 to beta (0: off)", "objective"
    )
    compile: str = _setting(
        "auto",
        "how the training step is compiled: torch (torch.compile), jit (Pyro's JIT, which torch "
        "deprecates), off, or auto (torch for runs long enough to repay its compile time: "
        "20,000 steps, 5,000 where Pyro's JIT cannot compile the run; else jit; else off)",
        "objective",
    )
    # optimisation
    epochs: int = _setting(50, "training epochs", "training")
    batch_size: int = _setting(100, "minibatch size", "training")
    learning_rate: float = _setting(1e-3, "Adam learning rate", "training")
    lr_decay: float = _setting(1.0, "learning rate factor applied after every epoch", "training")
    ema: float = _setting(
        0.0,
        "decay of a moving average of the weights kept beside them (e.g. 0.999), which "
        "validation, evaluation, sampling and figures then use (--weights raw: the trained "
        "ones); 0: off",
        "training",
    )
    early_stopping: int = _setting(
        0, "stop after this many epochs without a better validation ELBO (0: off)", "training"
    )
    time_budget: float = _setting(
        0.0,
        "stop after the epoch in which training has used this many seconds (0: off)",
        "training",
    )
    on_nonfinite: str = _setting(
        "stop",
        "a non-finite loss or gradient: stop (keep the last checkpoint) or skip the batch",
        "training",
    )
    seed: int = _setting(0, "random seed (training, splits, binarization)", "training")

    # ----------------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Config:
        """Build a config from plain values (TOML, JSON or CLI), checking names, types and ranges.

        Args:
            values: setting name -> value; missing names take their defaults. Dashes in names
                are accepted in place of underscores.

        Returns:
            The validated config.

        Raises:
            InputError: for an unknown name, a value of the wrong type or out of range.

        Example:
            >>> Config.from_dict({"hidden-dims": [64, 64], "epochs": 2}).hidden_dims
            (64, 64)
        """
        known = {f.name: f for f in dataclasses.fields(cls)}
        hints = typing.get_type_hints(cls)
        kwargs: dict[str, Any] = {}
        if values.get("preset") is not None:  # the preset's settings, under the given ones
            values = apply_preset(str(values["preset"]), values)
        for raw_name, value in values.items():
            name = str(raw_name).replace("-", "_")
            if name not in known and name != "jit":
                close = difflib.get_close_matches(name, known, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise InputError(
                    f"unknown setting {raw_name!r}{hint}: valid settings are {', '.join(known)}"
                )
            if name == "jit":  # the setting of runs saved before compile replaced it
                name, value = "compile", _LEGACY_JIT.get(str(value).lower(), value)
            kwargs[name] = _coerce(name, value, hints[name])
        model = kwargs.get("model", known["model"].default)
        if model in family("model"):  # a model that fixes some parts implies them
            for setting, value in family("model").trait(model, "parts").items():
                kwargs.setdefault(setting, value)
        config = cls(**kwargs)
        config.validate()
        return config

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON-ready values (tuples become lists)."""
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
        }

    def replace(self, **changes: Any) -> Config:
        """A copy with some settings changed, validated like :meth:`from_dict`."""
        return Config.from_dict({**self.to_dict(), **changes})

    def validate(self) -> None:
        """Check ranges and combinations; raise :class:`InputError` naming the fix."""
        _positive_int("epochs", self.epochs, 50)
        if not 0 <= self.seed <= MAX_SEED:
            raise InputError(
                f"seed must be an integer from 0 to {MAX_SEED}, got {self.seed}: pass e.g. "
                f"{setting('seed', 0)}"
            )
        _positive_int("batch_size", self.batch_size, 100)
        _positive_int("latent_dim", self.latent_dim, 50, upper=65_536)
        _positive_int("num_particles", self.num_particles, 1, upper=100_000)
        for width in self.hidden_dims:
            _positive_int("hidden_dims", width, 200, upper=65_536)
        _positive_int("lower_latent_dim", self.lower_latent_dim, 100, upper=65_536)
        for width in self.upper_hidden_dims:
            _positive_int("upper_hidden_dims", width, 100, upper=65_536)
        if len(self.hidden_dims) > 32:
            raise InputError(
                f"hidden_dims has {len(self.hidden_dims)} layers, more than 32: pass fewer, "
                f"e.g. {_hidden_example()}"
            )
        widths = (self.latent_dim, *self.hidden_dims)
        weights = sum(a * b for a, b in itertools.pairwise(widths))
        if weights > MAX_WEIGHTS:
            raise InputError(
                f"hidden_dims {','.join(map(str, self.hidden_dims))} with latent_dim "
                f"{self.latent_dim} need {weights / 1e6:.0f} million weights per network, more "
                f"than {MAX_WEIGHTS // 10**6} million: pass smaller widths, e.g. "
                f"{_hidden_example()}"
            )
        if self.prior_components is not None:
            # the prior's density is computed against every component: memory grows with
            # batch x components x latent_dim (100,000 components took 14 GB at the defaults)
            _positive_int("prior_components", self.prior_components, 10, upper=10_000)
        _positive_int("flow_layers", self.flow_layers, 2, upper=64)
        _positive_int("mixtures", self.mixtures, 10, upper=256)
        _positive_int("data_bits", self.data_bits, 8, upper=16)
        if self.dequantize not in ("auto", "on", "off"):
            raise InputError(
                f"unknown dequantize mode {self.dequantize!r}: choose auto, on or off "
                f"({where('dequantize')})"
            )
        if self.channels not in (0, 1, 3):
            raise InputError(
                f"channels must be 1 (grey) or 3 (RGB), got {self.channels}: pass "
                f"{setting('channels', 3)}, or leave it out to take the files' own"
            )
        if self.image_size and not 4 <= self.image_size <= 1024:
            raise InputError(
                f"image_size must lie between 4 and 1024 pixels, got {self.image_size}: pass "
                f"e.g. {setting('image_size', 32)}"
            )
        _positive_float("learning_rate", self.learning_rate, 1e-3)
        _positive_float("sigma", self.sigma, 0.1)
        _positive_float("lr_decay", self.lr_decay, 1.0)
        if self.lr_decay > 1.0:  # a growing rate diverges: almost surely a typo for 1 / value
            raise InputError(
                f"lr_decay {self.lr_decay:g} would multiply the learning rate every epoch: pass "
                f"a factor of at most 1, e.g. {setting('lr_decay', 0.995)}"
            )
        if not 0.0 <= self.ema < 1.0:
            raise InputError(
                f"ema is a decay in [0, 1), got {self.ema}: pass e.g. {setting('ema', 0.999)}"
            )
        if not self.beta > 0:
            raise InputError(f"beta must be > 0, got {self.beta}: pass e.g. {setting('beta', 1.0)}")
        if self.warmup_epochs < 0 or not math.isfinite(self.warmup_epochs):
            raise InputError(
                f"warmup_epochs must be >= 0, got {self.warmup_epochs}: "
                f"pass e.g. {setting('warmup_epochs', 10)}"
            )
        if self.time_budget < 0:
            raise InputError(
                f"time_budget must be >= 0 seconds, got {self.time_budget}: pass 0 to turn it "
                f"off or e.g. {setting('time_budget', 600)}"
            )
        if self.early_stopping < 0:
            raise InputError(
                f"early_stopping must be >= 0, got {self.early_stopping}: "
                f"pass 0 to turn it off or e.g. {setting('early_stopping', 5)}"
            )
        if not 0.0 < self.validation_fraction < 1.0:
            raise InputError(
                f"validation_fraction must lie strictly between 0 and 1, got "
                f"{self.validation_fraction}: pass e.g. {setting('validation_fraction', 0.1)}"
            )
        if self.on_nonfinite not in ("stop", "skip"):
            raise InputError(
                f"unknown on_nonfinite mode {self.on_nonfinite!r}: choose stop or skip "
                f"({where('on_nonfinite')})"
            )
        if self.binarize not in ("auto", "dynamic", "none"):
            raise InputError(
                f"unknown binarize mode {self.binarize!r}: choose one of auto, dynamic, none "
                f"({where('binarize')})"
            )
        self._check_names()
        if self.compile not in COMPILE_MODES:
            raise InputError(
                f"unknown compile mode {self.compile!r}: choose {', '.join(COMPILE_MODES)} "
                f"({where('compile')})"
            )
        if self.model == "hierarchical" and self.objective == "analytic-kl":
            raise InputError(
                f"{setting('objective', 'analytic-kl')} needs a mean-field guide, and the guide "
                f"of {setting('model', 'hierarchical')} draws z2 given z1: use "
                f"{setting('objective', 'elbo')} or {setting('objective', 'iwae')}"
            )
        self._check_m2()
        self._check_cvae()
        if self.compile == "jit" and self.warmup_epochs > 0:
            raise InputError(
                f"{setting('compile', 'jit')} cannot follow a changing KL weight: pass "
                f"{setting('compile', 'torch')} or {setting('warmup_epochs', 0)}"
            )

    def _check_cvae(self) -> None:
        """The settings of the conditional VAE, and ``condition`` for it alone."""
        kind = Condition.parse(self.condition).kind
        if self.baseline_epochs < 0:
            raise InputError(
                f"baseline_epochs must be >= 0, got {self.baseline_epochs}: pass e.g. "
                f"{setting('baseline_epochs', 30)}"
            )
        if self.model != "cvae":
            if kind != "none" or self.baseline_epochs:
                what = "baseline_epochs" if kind == "none" else "condition"
                raise InputError(
                    f"{setting(what, getattr(self, what))} is for the conditional VAE: pass "
                    f"{setting('model', 'cvae')}, or leave {setting(what)} out"
                )
            return
        if kind == "none":
            raise InputError(
                f"{setting('model', 'cvae')} needs something to condition on: pass e.g. "
                f"{setting('condition', 'quadrants:2')} or {setting('condition', 'label')}"
            )
        if self.network != "mlp":
            raise InputError(
                f"{setting('model', 'cvae')} feeds the condition to its networks as extra "
                f"inputs, which a convolutional body cannot take: pass {setting('network', 'mlp')}"
            )
        if self.prior_network != "none" and self.prior_network not in family("guide").names():
            raise InputError(
                f"unknown prior network {self.prior_network!r}: choose none or one of "
                f"{', '.join(family('guide').names())} ({where('prior_network')})"
            )
        if self.baseline_epochs and self.prior_network == "none":
            raise InputError(
                f"the baseline feeds the prior network, and {setting('prior_network', 'none')} "
                f"has none: pass {setting('prior_network', 'diagonal')} or "
                f"{setting('baseline_epochs', 0)}"
            )

    def _check_m2(self) -> None:
        """The settings of the semi-supervised model, and ``labels`` for it alone."""
        if self.labels < 0:
            raise InputError(
                f"labels must be >= 0, got {self.labels}: pass e.g. {setting('labels', 100)}"
            )
        if not self.classification_weight >= 0 or not math.isfinite(self.classification_weight):
            raise InputError(
                f"classification_weight must be >= 0, got {self.classification_weight}: pass "
                f"e.g. {setting('classification_weight', 0.1)}"
            )
        if self.model != "m2":
            if self.labels:
                raise InputError(
                    f"{setting('labels', self.labels)} is for the semi-supervised model: pass "
                    f"{setting('model', 'm2')}, or leave {setting('labels')} out"
                )
            return
        if self.labels == 0:
            raise InputError(
                f"{setting('model', 'm2')} learns from some labels: pass how many to keep, "
                f"e.g. {setting('labels', 100)}"
            )
        if self.network != "mlp":
            raise InputError(
                f"{setting('model', 'm2')} feeds the class to its networks as extra inputs, "
                f"which a convolutional body cannot take: pass {setting('network', 'mlp')}"
            )
        if self.objective != "elbo" or self.compile in ("jit", "torch"):
            raise InputError(
                f"{setting('model', 'm2')} trains with TraceEnum_ELBO, summing the class of "
                f"unlabelled images: pass {setting('objective', 'elbo')} and "
                f"{setting('compile', 'auto')}"
            )
        if self.prior == "vamp":
            raise InputError(
                f"the VampPrior encodes pseudo-images with the guide, which in "
                f"{setting('model', 'm2')} also reads a class: pass another "
                f"{setting('prior')}, e.g. {setting('prior', 'standard-normal')}"
            )

    @property
    def jit_allowed(self) -> bool:
        """Whether Pyro's JIT can compile this run (parts' trait ``jit``, fixed KL weight).

        Example:
            >>> Config().jit_allowed, Config(prior="vamp").jit_allowed
            (True, False)
        """
        import torch

        return (
            family("objective").trait(self.objective, "jit")
            and self.warmup_epochs == 0
            and self.model != "m2"  # TraceEnum_ELBO, which the JIT path does not take
            and not self._parts_without_jit()
            and hasattr(torch.jit, "trace")  # deprecated in torch 2.x: off once it is gone
        )

    def _selections(self) -> Iterator[tuple[str, str, str]]:
        """(setting, family, chosen name) for every setting that picks a registered part."""
        for f in dataclasses.fields(self):
            if f.metadata.get("family") and getattr(self, f.name) is not None:
                yield f.name, f.metadata["family"], getattr(self, f.name)

    def _parts_without_jit(self) -> list[str]:
        """The options naming parts that Pyro's JIT cannot compile, e.g. ``--prior vamp``."""
        return [
            setting(name_of_setting, name)
            for name_of_setting, kind, name in self._selections()
            if kind in ("prior", "guide", "likelihood", "network")
            and not family(kind).trait(name, "jit")
        ]

    def _check_names(self) -> None:
        for _, kind, name in self._selections():
            family(kind).check(name)
        fixed_parts = family("model").trait(self.model, "parts")
        for name, value in fixed_parts.items():
            if getattr(self, name) != value:
                fixed = " and ".join(setting(k, v) for k, v in fixed_parts.items())
                raise InputError(
                    f"{setting('model', self.model)} fixes {fixed}: drop {setting(name)} or "
                    f"pass {setting(name, value)}"
                )
        datasets = family("dataset")
        for name, unset in _DATASET_SETTINGS.items():
            if getattr(self, name) != unset and name not in datasets.trait(self.dataset, "reads"):
                users = ", ".join(e.name for e in datasets.entries() if name in e.traits["reads"])
                raise InputError(
                    f"{setting(name)} applies to {setting('dataset')} {users}, not "
                    f"{self.dataset}: drop it or choose one of those data sets"
                )
        priors = family("prior")
        if self.prior_components is not None and priors.trait(self.prior, "components") is None:
            mixtures = ", ".join(e.name for e in priors.entries() if e.traits["components"])
            raise InputError(
                f"{setting('prior_components')} applies to a prior with components "
                f"({mixtures}), not {self.prior}: drop it or choose one of those priors"
            )
        unsupported = self._parts_without_jit()
        if self.compile == "jit" and unsupported:
            raise InputError(
                f"Pyro's JIT cannot compile {unsupported[0]}: pass "
                f"{setting('compile', 'torch')} or {setting('compile', 'auto')}"
            )
        if self.compile == "jit" and not family("objective").trait(self.objective, "jit"):
            raise InputError(
                f"Pyro has no JIT version of the {self.objective} objective: pass "
                f"{setting('compile', 'torch')} or {setting('compile', 'auto')}"
            )


# ---------------------------------------------------------------------------------------------
def _hidden_example() -> str:
    return spell("--hidden-dims 200,200", "hidden_dims=(200, 200)")


def _coerce(name: str, value: Any, hint: Any) -> Any:
    """Convert ``value`` to the type ``hint`` of setting ``name``, or raise InputError."""
    option = setting(name)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _coerce(name, value, args[0])
    if origin is tuple:
        if isinstance(value, str) and len(value.split()) > 1 and "," not in value:
            raise InputError(
                f"{name} must be integers separated by commas, got {value!r}: pass e.g. "
                f"{_hidden_example()}"
            )
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not items:
            raise InputError(
                f"{name} must be a list of integers, got {value!r}: pass e.g. {_hidden_example()}"
            )
        return tuple(_coerce(name, item, int) for item in items)
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise InputError(f"{name} must be true or false, got {value!r}: fix {option}")
    if hint is int:
        if isinstance(value, str):
            value = value.strip()
            try:
                return int(value)
            except ValueError:
                pass
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise InputError(f"{name} must be an integer, got {value!r}: fix {option}")
    if hint is float:
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = float(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = float(value)
            if not math.isfinite(value):
                raise InputError(f"{name} must be a finite number, got {value!r}: fix {option}")
            return value
        raise InputError(f"{name} must be a number, got {value!r}: fix {option}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise InputError(f"{name} must be a string, got {value!r}: fix {option}")
    raise TypeError(f"unsupported setting type {hint!r}")  # a bug in Config, not user input


def _positive_int(name: str, value: int, example: int, upper: int | None = None) -> None:
    if value < 1:
        raise InputError(
            f"{name} must be a positive integer, got {value}: pass e.g. {setting(name, example)}"
        )
    if upper is not None and value > upper:
        raise InputError(f"{name} = {value} is too large (at most {upper}): lower {setting(name)}")


def _positive_float(name: str, value: float, example: float) -> None:
    if not value > 0:
        raise InputError(
            f"{name} must be positive, got {value}: pass e.g. {setting(name, example)}"
        )
