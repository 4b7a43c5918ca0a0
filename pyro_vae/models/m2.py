"""The semi-supervised VAE M2 (Kingma, Rezende, Mohamed & Welling 2014): a class y beside z.

The model is P(y) P(z) P(X|y, z) with a uniform P(y) over C classes, a registered prior on z
and a registered likelihood whose decoder reads ``[z, onehot(y)]``. The guide is a classifier
Q(y|X) and Q(z|X, y), a registered guide family whose encoder reads ``[x, onehot(y)]``.

Where a label is known it is passed as ``y`` and observed (the guide then draws no ``y``);
where it is not, the guide marks ``y`` for parallel enumeration, so ``TraceEnum_ELBO`` sums the
ELBO over the classes exactly, weighted by Q(y|X), and the estimators of
:mod:`pyro_vae.estimate` sum log P(X) = log sum_y P(y) integral P(z) P(X|y, z) dz over them.
The ELBO alone does not train the classifier on labelled data (Q(y|X) does not enter it when y
is observed): :meth:`SemiSupervisedVAE.classification_loss` is the paper's extra term,
-log Q(y|x) on labelled points, weighted by the training loop.

Example:
    >>> import torch
    >>> from pyro.infer import TraceEnum_ELBO
    >>> m2 = build_m2(data_dim=16, latent_dim=2, num_classes=3, hidden_dims=(8,))
    >>> x = torch.bernoulli(torch.full((4, 16), 0.5))
    >>> elbo = TraceEnum_ELBO(max_plate_nesting=1, strict_enumeration_warning=False)
    >>> unlabelled = elbo.loss(m2.model, m2.guide, x)
    >>> labelled = elbo.loss(m2.model, m2.guide, x, torch.tensor([0, 1, 2, 0]))
    >>> m2.classify(x).shape
    torch.Size([4])
"""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
from torch import nn
from torch.nn import functional as F

from pyro_vae.errors import InputError, setting
from pyro_vae.hardware.devices import device_of
from pyro_vae.models.vae import MODELS, VAE
from pyro_vae.parts.contracts import Encoder, Likelihood, Prior
from pyro_vae.parts.guides import GUIDES
from pyro_vae.parts.likelihoods import LIKELIHOODS
from pyro_vae.parts.networks import MLP, NetworkSpec
from pyro_vae.parts.priors import PRIORS

__all__ = ["SemiSupervisedVAE", "build_m2", "m2", "with_class"]


def with_class(values: torch.Tensor, y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``[values, onehot(y)]`` along the last dimension, the two broadcast against each other.

    ``y`` may be labels ``[B]``, draws ``[K, B]`` or enumerated values ``[C, 1, 1]``.

    Example:
        >>> with_class(torch.zeros(2, 3), torch.tensor([1, 0]), 2).tolist()
        [[0.0, 0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 1.0, 0.0]]
        >>> with_class(torch.zeros(5, 2, 3), torch.arange(4).view(4, 1, 1), 4).shape
        torch.Size([4, 5, 2, 7])
    """
    onehot = F.one_hot(y, num_classes).to(values.dtype)
    shape = torch.broadcast_shapes(values.shape[:-1], onehot.shape[:-1])
    return torch.cat([values.expand(*shape, -1), onehot.expand(*shape, -1)], -1)


class SemiSupervisedVAE(VAE):
    """M2: P(y) P(z) P(X|y, z) with the guide Q(y|X) Q(z|X, y).

    A :class:`~pyro_vae.VAE` whose programs take the labels as a second argument:
    ``model(x, y)`` and ``guide(x, y)``, ``y`` a tensor of class indices or ``None``.

    Args:
        prior: P(z), a registered prior or any :class:`~pyro_vae.parts.contracts.Prior`.
        encoder: Q(z|X, y): an encoder of ``data_dim + num_classes`` inputs.
        likelihood: P(X|y, z): a likelihood of ``latent_dim + num_classes`` inputs.
        classifier: a network from ``data_dim`` inputs to ``num_classes`` logits, Q(y|X).
        num_classes: C.
        name: the name under which ``pyro.module`` registers the parameters.
    """

    def __init__(
        self,
        prior: Prior,
        encoder: Encoder,
        likelihood: Likelihood,
        classifier: nn.Module,
        num_classes: int,
        *,
        name: str = "m2",
    ) -> None:
        super().__init__(prior, encoder, likelihood, name=name)
        self.classifier = classifier
        self.num_classes = num_classes

    def class_prior(self) -> dist.Categorical:
        """P(y), uniform over the classes."""
        logits = torch.zeros(self.num_classes, device=device_of(self))
        return dist.Categorical(logits=logits)

    def model(
        self,
        x: torch.Tensor | None = None,
        y: torch.Tensor | None = None,
        *,
        batch_size: int | None = None,
    ) -> torch.Tensor:
        """P(y) P(z) P(X|y, z); ``y`` observed where given.

        Args:
            x: data ``[B, data_dim]``, or ``None`` to sample X.
            y: labels ``[B]`` (observed), or ``None``.
            batch_size: how many points to generate when ``x`` and ``y`` are ``None``.

        Returns:
            The value of site ``"x"``.
        """
        pyro.module(self.name, self)
        size = next((t.shape[0] for t in (x, y) if t is not None), batch_size)
        if size is None:
            raise ValueError("model() needs data x, labels y or a batch_size")
        with pyro.plate("data", size, device=device_of(self)):
            # marked for enumeration: where no guide draws y (naive Monte Carlo, AIS from the
            # prior) the estimators sum it out; under the guide, the guide's y is replayed
            y = pyro.sample("y", self.class_prior(), obs=y, infer={"enumerate": "parallel"})
            z = pyro.sample("z", self.prior())
            return pyro.sample("x", self.likelihood(with_class(z, y, self.num_classes)), obs=x)

    def guide(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Q(y|X) (enumerated where ``y`` is not given) and Q(z|X, y); returns z."""
        pyro.module(self.name, self)
        with pyro.plate("data", x.shape[0], device=x.device):
            if y is None:
                y = pyro.sample(
                    "y",
                    dist.Categorical(logits=self.classifier(x)),
                    infer={"enumerate": "parallel"},
                )
            return pyro.sample("z", self.encoder(with_class(x, y, self.num_classes)))

    def classification_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The summed -log Q(y|x) of labelled points (the paper's term, before its weight)."""
        return F.cross_entropy(self.classifier(x), y, reduction="sum")

    @torch.no_grad()
    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """argmax_y Q(y|x) per row of ``x``."""
        return self.classifier(x.to(device_of(self))).argmax(-1)

    @torch.no_grad()
    def sample(self, num: int, y: torch.Tensor | None = None) -> torch.Tensor:
        """Means E[X|y, z] of ``num`` draws of z (and of y where ``y`` is ``None``)."""
        if y is None:
            y = self.class_prior().sample((num,))
        return self.decode(self.prior().sample((num,)), y)

    @torch.no_grad()
    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """E[X|y, z]; ``y`` (class indices broadcast against z's rows) is needed."""
        if y is None:
            raise InputError(
                f"{setting('model', 'm2')} decodes a latent together with a class, which this "
                "use does not give: draw its samples, recon or curves figures"
            )
        return self.likelihood.mean(with_class(z, y, self.num_classes))

    @torch.no_grad()
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The mean of Q(z|x, y), with y the class Q(y|x) finds most likely where not given."""
        x = x.to(device_of(self))
        if y is None:
            y = self.classify(x)
        return super().encode(with_class(x, y.to(x.device), self.num_classes))

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """E[X|y, z] at the mean of Q(z|x, y) for the class Q(y|x) finds most likely."""
        y = self.classify(x)
        return self.decode(self.encode(x, y), y)


def build_m2(
    *,
    data_dim: int,
    latent_dim: int,
    num_classes: int,
    prior: str = "standard-normal",
    guide: str = "diagonal",
    likelihood: str = "bernoulli",
    hidden_dims: tuple[int, ...] = (500,),
    activation: str = "softplus",
    **sizes: object,
) -> SemiSupervisedVAE:
    """M2 from registered parts (multilayer perceptrons; the class is an extra input).

    ``sizes`` are the parts' further keyword arguments (``sigma``, ``layers``, ...), as
    :func:`pyro_vae.models.vae.compose` passes them.

    Example:
        >>> m2 = build_m2(data_dim=64, latent_dim=4, num_classes=10, hidden_dims=(32,))
        >>> m2.sample(3, torch.tensor([0, 1, 2])).shape
        torch.Size([3, 64])
    """
    network = NetworkSpec("mlp", tuple(hidden_dims), activation)
    part_prior = PRIORS.build(prior, latent_dim=latent_dim, **sizes)
    encoder = GUIDES.build(
        guide, data_dim=data_dim + num_classes, latent_dim=latent_dim, network=network, **sizes
    )
    decoder = LIKELIHOODS.build(
        likelihood,
        latent_dim=latent_dim + num_classes,
        data_dim=data_dim,
        network=network,
        **sizes,
    )
    classifier = MLP(data_dim, tuple(hidden_dims), num_classes, activation=activation)
    return SemiSupervisedVAE(part_prior, encoder, decoder, classifier, num_classes)


@MODELS.register(
    "m2",
    "the semi-supervised VAE of Kingma et al. 2014: a class beside z, observed for --labels "
    "training images and summed out for the rest",
)
def m2(
    *,
    prior: str,
    guide: str,
    likelihood: str,
    data_dim: int,
    latent_dim: int,
    network: NetworkSpec,
    num_classes: int | None,
    **sizes: object,
) -> SemiSupervisedVAE:
    """The model of ``--model m2`` for ``num_classes`` classes (from the data's labels).

    Example:
        >>> model = m2(prior="standard-normal", guide="diagonal", likelihood="bernoulli",
        ...            data_dim=8, latent_dim=2, network=NetworkSpec("mlp", (4,)), num_classes=3)
        >>> model.num_classes
        3
    """
    if not num_classes:
        raise InputError(
            f"{setting('model', 'm2')} needs a data set with labels: use digits, mnist, "
            "fashion-mnist or an npz file with y_train"
        )
    sizes = {k: v for k, v in sizes.items() if k not in ("components",)}
    return build_m2(
        data_dim=data_dim,
        latent_dim=latent_dim,
        num_classes=num_classes,
        prior=prior,
        guide=guide,
        likelihood=likelihood,
        hidden_dims=network.hidden_dims,
        activation=network.activation,
        **sizes,
    )
