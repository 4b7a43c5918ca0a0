"""The VAE: a prior, an encoder and a likelihood composed into a Pyro model and guide.

``vae.model(x)`` is the Pyro program for P(X|z)P(z) and ``vae.guide(x)`` the program for the
amortized Q(z|X). Both follow the project's site convention: a ``pyro.plate("data", B)`` around a
latent site ``"z"`` and (in the model) an observed site ``"x"``. Neither computes a loss: any Pyro
objective (``Trace_ELBO``, ``RenyiELBO``, ...) or tool (``Predictive``, the estimators in
:mod:`pyro_vae.estimate.importance`) takes them as they are.

:data:`MODELS` names the model families: ``vae`` composes the registered parts that a config
names (:func:`compose`); ``linear-gaussian`` lives in :mod:`pyro_vae.models.exact`.
:func:`build_vae` turns a :class:`~pyro_vae.Config` into the factories' keyword arguments
(:func:`part_arguments`), the only place that reads a config to build parts.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

import pyro
import torch
from torch import nn

from pyro_vae.config import MAX_WEIGHTS, Config
from pyro_vae.errors import InputError, setting
from pyro_vae.hardware.devices import device_of
from pyro_vae.parts.contracts import Encoder, Likelihood, Prior, check_part
from pyro_vae.parts.guides import GUIDES
from pyro_vae.parts.likelihoods import LIKELIHOODS
from pyro_vae.parts.networks import NetworkSpec
from pyro_vae.parts.priors import PRIORS
from pyro_vae.registry import Registry

__all__ = ["MODELS", "VAE", "build_vae", "check_settings_used", "compose", "part_arguments"]

_MEAN_DRAWS = 256


class VAE(nn.Module):
    """A variational autoencoder built from three swappable parts.

    Args:
        prior: module whose ``forward()`` returns P(z) (:class:`~pyro_vae.parts.contracts.Prior`).
        encoder: module whose ``forward(x)`` returns Q(z|x)
            (:class:`~pyro_vae.parts.contracts.Encoder`).
        likelihood: module whose ``forward(z)`` returns P(X|z) and ``mean(z)`` returns E[X|z]
            (:class:`~pyro_vae.parts.contracts.Likelihood`).
        name: the name under which ``pyro.module`` registers the parameters.

    Raises:
        TypeError: if a part is not a module with the methods its contract names.

    Example:
        >>> import torch
        >>> from pyro.infer import Trace_ELBO
        >>> vae = build_vae(Config(latent_dim=2, hidden_dims=(16,)), data_dim=64)
        >>> x = torch.bernoulli(torch.full((5, 64), 0.3))
        >>> loss = Trace_ELBO().loss(vae.model, vae.guide, x)  # -ELBO summed over the batch
        >>> vae.sample(4).shape
        torch.Size([4, 64])
    """

    #: the latent sites of model and guide (a KL weight scales their log-densities)
    latent_sites: tuple[str, ...] = ("z",)
    #: the name of the latents that :meth:`encode` returns, for the figures
    latent_name: str = "z"

    def __init__(
        self, prior: Prior, encoder: Encoder, likelihood: Likelihood, *, name: str = "vae"
    ) -> None:
        super().__init__()
        for role, part in (("prior", prior), ("encoder", encoder), ("likelihood", likelihood)):
            check_part(role, part)
        self.prior = prior
        self.encoder = encoder
        self.likelihood = likelihood
        self.name = name

    def model(
        self, x: torch.Tensor | None = None, *, batch_size: int | None = None
    ) -> torch.Tensor:
        """The generative model P(X|z)P(z) for a batch of flat data vectors.

        Args:
            x: observed data of shape ``[B, data_dim]``; ``None`` to sample X instead.
            batch_size: the number of datapoints to generate when ``x`` is ``None``.

        Returns:
            The value of site ``"x"`` (the data, or a sample when ``x`` is ``None``).
        """
        pyro.module(self.name, self)
        with self.data_plate(x, batch_size):
            z = pyro.sample("z", self.prior())
            return pyro.sample("x", self.likelihood(z), obs=x)

    def data_plate(self, x: torch.Tensor | None, batch_size: int | None = None) -> pyro.plate:
        """The ``data`` plate of the model, for ``x`` (or ``batch_size`` points to generate)."""
        size = x.shape[0] if x is not None else batch_size
        if size is None:
            raise ValueError("model() needs data x or a batch_size")
        device = x.device if x is not None else device_of(self)
        return pyro.plate("data", size, device=device)

    def guide(self, x: torch.Tensor) -> torch.Tensor:
        """The amortized approximate posterior Q(z|X) for a batch ``x`` of shape ``[B, data_dim]``.

        Returns:
            The sampled latent ``z`` of shape ``[B, latent_dim]``.
        """
        pyro.module(self.name, self)
        with pyro.plate("data", x.shape[0], device=x.device):
            return pyro.sample("z", self.encoder(x))

    def init_from_data(self, x: torch.Tensor) -> bool:
        """Start the likelihood at the pixel marginals of the training data ``x``, if it can.

        Training calls this once, before the first step (see
        :meth:`pyro_vae.parts.likelihoods.DecoderLikelihood.init_from_data` for why). A likelihood
        without the method is left as it is.

        Returns:
            Whether the likelihood was initialized.

        Example:
            >>> vae = build_vae(Config(latent_dim=2, hidden_dims=(8,)), data_dim=3)
            >>> vae.init_from_data(torch.tensor([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0]]))
            True
        """
        init = getattr(self.likelihood, "init_from_data", None)
        return bool(init(x)) if callable(init) else False

    @torch.no_grad()
    def sample(self, num: int) -> torch.Tensor:
        """Draw ``num`` latents from the prior and return the mean images E[X|z], ``[num, D]``."""
        z = self.prior().sample((num,))
        return self.likelihood.mean(z)

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The mean image E[X|z] of latents ``z`` of the space :meth:`encode` maps to."""
        return self.likelihood.mean(z)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decode the posterior mean of each input: E[X | z = E_Q[z|x]], same shape as ``x``."""
        return self.likelihood.mean(self.encode(x))

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The posterior means E_Q[z|x], shape ``[B, latent_dim]``.

        For a guide without a closed-form mean (a flow), the average of 256 draws. ``x`` is
        moved to the model's device; so is the result.
        """
        q = self.encoder(x.to(device_of(self)))
        try:
            return q.mean
        except NotImplementedError:
            return q.rsample((_MEAN_DRAWS,)).mean(0)


MODELS: Registry[Callable[..., VAE]] = Registry("model", "--model", defaults={"parts": {}})


@MODELS.register("vae", "the prior, guide and likelihood named by --prior, --guide, --likelihood")
def compose(*, prior: str, guide: str, likelihood: str, **sizes: Any) -> VAE:
    """The VAE of the registered parts named ``prior``, ``guide`` and ``likelihood``.

    Args:
        prior: a name in :data:`~pyro_vae.parts.priors.PRIORS`.
        guide: a name in :data:`~pyro_vae.parts.guides.GUIDES`.
        likelihood: a name in :data:`~pyro_vae.parts.likelihoods.LIKELIHOODS`.
        **sizes: what the parts' factories may take (``data_dim``, ``latent_dim``, ``network``,
            ``components``, ``layers``, ``sigma``); each takes the ones it names.

    Example:
        >>> vae = compose(prior="mixture", guide="diagonal", likelihood="bernoulli", data_dim=4,
        ...               latent_dim=2, components=3, network=NetworkSpec("mlp", (8,)))
        >>> vae.prior.logits.shape
        torch.Size([3])
    """
    encoder = GUIDES.build(guide, **sizes)
    return VAE(
        prior=PRIORS.build(prior, encoder=encoder, **sizes),
        encoder=encoder,
        likelihood=LIKELIHOODS.build(likelihood, **sizes),
    )


def part_arguments(
    config: Config,
    data_dim: int,
    num_classes: int | None = None,
    *,
    condition_dim: int = 0,
    channels: int = 1,
) -> dict[str, Any]:
    """The keyword arguments the model factories get for ``config``: names and sizes of parts.

    This is the one place where a :class:`Config` becomes factory arguments.

    Example:
        >>> sorted(part_arguments(Config(), data_dim=64))  # doctest: +NORMALIZE_WHITESPACE
        ['baseline_epochs', 'channels', 'components', 'condition_dim', 'data_bits', 'data_dim',
         'guide', 'latent_dim', 'layers', 'likelihood', 'lower_latent_dim', 'mixtures',
         'network', 'num_classes', 'prior', 'prior_network', 'sigma', 'upper_hidden_dims']
    """
    components = config.prior_components or PRIORS.trait(config.prior, "components")
    return {
        "prior": config.prior,
        "guide": config.guide,
        "likelihood": config.likelihood,
        "data_dim": data_dim,
        "latent_dim": config.latent_dim,
        "network": NetworkSpec(config.network, config.hidden_dims, config.activation, channels),
        "channels": channels,
        "components": components,
        "layers": config.flow_layers,
        "sigma": config.sigma,
        "lower_latent_dim": config.lower_latent_dim,
        "upper_hidden_dims": config.upper_hidden_dims,
        "num_classes": num_classes,
        "condition_dim": condition_dim,
        "prior_network": config.prior_network,
        "baseline_epochs": config.baseline_epochs,
        "mixtures": config.mixtures,
        "data_bits": config.data_bits,
    }


#: The settings that only some parts read, and the factory argument each becomes
#: (:func:`part_arguments`).
_PART_SETTINGS = {
    "flow_layers": "layers",
    "sigma": "sigma",
    "mixtures": "mixtures",
    "lower_latent_dim": "lower_latent_dim",
    "upper_hidden_dims": "upper_hidden_dims",
}


def _reads(factory: Callable[..., Any], argument: str) -> bool:
    """Whether ``factory`` names ``argument`` (a ``**sizes`` passed on to parts does not count)."""
    parameter = inspect.signature(factory).parameters.get(argument)
    return parameter is not None and parameter.kind is not inspect.Parameter.VAR_KEYWORD


def check_settings_used(config: Config) -> None:
    """Refuse a setting changed from its default that none of the run's parts reads.

    ``--flow-layers 8`` with a standard-normal prior and a diagonal guide would be ignored
    silently; it is refused, naming the parts that read it.

    Example:
        >>> check_settings_used(Config(flow_layers=8))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        pyro_vae.errors.InputError: flow_layers=8 is read by none of this run's parts ...
    """
    chosen = {
        "prior": (PRIORS, config.prior),
        "guide": (GUIDES, config.guide),
        "likelihood": (LIKELIHOODS, config.likelihood),
        "model": (MODELS, config.model),
    }
    defaults = {f.name: f.default for f in dataclasses.fields(Config)}
    for name, argument in _PART_SETTINGS.items():
        value = getattr(config, name)
        if value == defaults[name]:
            continue
        if any(_reads(table.get(part), argument) for table, part in chosen.values()):
            continue
        readers = [
            f"{kind} {entry.name}"
            for kind, (table, _) in chosen.items()
            for entry in table.entries()
            if _reads(entry.factory, argument)
        ]
        shown = value if not isinstance(value, tuple) else ",".join(map(str, value))
        raise InputError(
            f"{setting(name, shown)} is read by none of this run's parts ("
            f"{', '.join(f'{kind} {part}' for kind, (_, part) in chosen.items())}): leave it "
            f"out, or choose a part that reads it ({', '.join(readers)})"
        )


def build_vae(
    config: Config,
    data_dim: int,
    num_classes: int | None = None,
    *,
    condition_dim: int = 0,
    channels: int = 1,
) -> VAE:
    """Build the model that ``config`` describes, for flat data vectors of width ``data_dim``.

    Args:
        config: the model family (``config.model``), the names of its parts and their sizes.
        data_dim: number of values per datapoint (pixels; target and condition for ``cvae``).
        num_classes: how many classes the labels name, for a model with a class (``m2``).
        condition_dim: the width of the condition ending each row, for ``cvae``.
        channels: the colour channels of image data (3 for RGB), for the convolutional
            networks and ``dmol``.

    Returns:
        A freshly initialized :class:`VAE` (or subclass, e.g. the linear-Gaussian model).

    Example:
        >>> vae = build_vae(Config(), data_dim=784)  # 784-200-200-50 tanh MLPs both ways
        >>> sum(p.numel() for p in vae.parameters())
        425284
    """
    first = config.hidden_dims[0] if config.hidden_dims else config.latent_dim
    if data_dim * first > MAX_WEIGHTS:
        raise InputError(
            f"{data_dim} values per datapoint into a first layer of {first} units need "
            f"{data_dim * first / 1e6:.0f} million weights, more than {MAX_WEIGHTS // 10**6} "
            f"million: pass smaller {setting('hidden_dims')} or smaller data"
        )
    arguments = part_arguments(
        config, data_dim, num_classes, condition_dim=condition_dim, channels=channels
    )
    return MODELS.build(config.model, **arguments)
