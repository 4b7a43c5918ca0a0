"""Training M2 from a few labels: which labels are kept, the step's objective, the accuracy.

Every step of ``--model m2`` scores the epoch's minibatch of training images without their
labels (the class summed out by ``TraceEnum_ELBO``) and a minibatch drawn from the kept labelled
images with theirs, and adds the paper's classification term. Per training image, the objective
of Kingma et al. (2014) is

    J / N = (1/N) [sum_unlabelled U(x) + sum_labelled L(x, y)] + a E_labelled[-log q(y|x)],

with U(x) and L(x, y) the negative ELBOs of an image without and with its label, and
a = alpha / N (``classification_weight``, 0.1 in the paper): the loss minimized. A step
estimates it from its two minibatches; the unlabelled images are all the training images,
whether their labels are kept or not. The labelled minibatch and its binarization are drawn
from the step's own seed, so a resumed run takes the same steps, and under torchrun every
process scores its rows of both minibatches with noise drawn for the whole of each (the
gradients are those of one process).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from pyro.infer import TraceEnum_ELBO

from pyro_vae.config import Config
from pyro_vae.data.batches import dequantize_fixed
from pyro_vae.data.splits import DataSplits
from pyro_vae.errors import InputError, setting
from pyro_vae.hardware.parallel import Workers, noise_seed
from pyro_vae.models.m2 import SemiSupervisedVAE
from pyro_vae.models.vae import VAE

__all__ = [
    "LabelledGradients",
    "accuracies",
    "accuracy",
    "check_labels",
    "choose_labels",
    "labelled_gradients",
    "labelled_rows",
]

_LABELS = 5  # the key of the labels' choice beside the run's seed (training uses 1 to 4)


def check_labels(config: Config, splits: DataSplits) -> int | None:
    """The number of classes of a run of M2, once its labels are known to serve it.

    ``None`` for every other model.
    """
    if config.model != "m2":
        return None
    if splits.y_train is None or splits.num_classes is None:
        raise InputError(
            f"{setting('model', 'm2')} needs labels, and {config.dataset} has none: use digits, "
            "mnist, fashion-mnist or an npz file with y_train"
        )
    labelled = [y for y in (splits.y_train, splits.y_validation, splits.y_test) if y is not None]
    if any(bool((y < 0).any()) for y in labelled if y.numel()):
        raise InputError(
            f"the labels of {config.dataset} include negative values: number the classes "
            "0, 1, ..., C-1"
        )
    choose_labels(splits.y_train, config.labels, splits.num_classes, 0)  # enough of each?
    return splits.num_classes


def labelled_gradients(
    vae: VAE,
    programs: tuple[Callable[..., Any], Callable[..., Any]],
    config: Config,
    splits: DataSplits,
    parameters: list[torch.Tensor],
    workers: Workers,
) -> LabelledGradients | None:
    """M2's gradients over the labels the run keeps; ``None`` for a model without a class."""
    if not isinstance(vae, SemiSupervisedVAE) or splits.y_train is None:
        return None
    keep = labelled_rows(config, splits)
    return LabelledGradients(
        vae,
        *programs,
        (splits.train[keep], splits.y_train[keep]),
        num_train=splits.train.shape[0],
        batch_size=config.batch_size,
        weight=config.classification_weight,
        binarize=splits.binarize_train,
        dequantize=splits.dequantize_bits,
        parameters=parameters,
        workers=workers,
    )


def labelled_rows(config: Config, splits: DataSplits) -> torch.Tensor:
    """Indices of the training rows whose labels a run of M2 keeps (its ``--labels``, seeded).

    Example:
        >>> from pyro_vae.data.splits import load_data
        >>> config = Config(model="m2", labels=20)
        >>> rows = labelled_rows(config, load_data(config, "binary"))
        >>> rows.shape
        torch.Size([20])
    """
    if splits.y_train is None or splits.num_classes is None:
        raise InputError(f"{config.dataset} has no labels to keep")
    return choose_labels(
        splits.y_train, config.labels, splits.num_classes, noise_seed(config.seed, _LABELS)
    )


def accuracies(vae: VAE, *, splits: DataSplits, probe: torch.Tensor) -> dict[str, float]:
    """M2's accuracy of Q(y|x) on validation and the training probe (the first training rows).

    Empty for a model without a class.
    """
    if not isinstance(vae, SemiSupervisedVAE) or splits.y_train is None:
        return {}
    assert splits.y_validation is not None
    return {
        "val_accuracy": accuracy(vae, splits.validation, splits.y_validation),
        "train_accuracy": accuracy(vae, probe, splits.y_train[: probe.shape[0]]),
    }


def choose_labels(y: torch.Tensor, num: int, num_classes: int, seed: int) -> torch.Tensor:
    """Indices of ``num`` rows of ``y`` to keep labelled: balanced over the classes, seeded.

    Each class gets ``num // C`` rows, and the first ``num % C`` classes one more.

    Raises:
        InputError: when ``num`` exceeds the labelled rows, or a class has too few of them.

    Example:
        >>> y = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
        >>> picked = choose_labels(y, 4, 3, seed=0)
        >>> sorted(y[picked].tolist())
        [0, 0, 1, 2]
    """
    if num > y.shape[0]:
        raise InputError(
            f"{setting('labels', num)} asks for more labels than the {y.shape[0]} training "
            f"images have: pass at most {setting('labels', y.shape[0])}"
        )
    generator = torch.Generator().manual_seed(seed)
    picked = []
    for c in range(num_classes):
        rows = torch.nonzero(y == c).flatten()
        want = num // num_classes + (1 if c < num % num_classes else 0)
        if rows.numel() < want:
            raise InputError(
                f"class {c} has {rows.numel()} training images, fewer than the {want} that "
                f"{setting('labels', num)} keeps per class: pass fewer labels"
            )
        picked.append(rows[torch.randperm(rows.numel(), generator=generator)[:want]])
    return torch.cat(picked).sort().values


class LabelledGradients:
    """Gradients of M2's objective on a step's unlabelled and labelled minibatches.

    It stands in for :class:`pyro_vae.running.objectives.Gradients` in the training loop: the
    same ``compile`` and call, returning this process's share of the minibatch's loss.

    Args:
        vae: the model.
        model: its model program as the ELBO sees it (KL-scaled, taking ``rows=``).
        guide: its guide program, likewise.
        labelled: the kept images ``[N_l, D]`` and their labels ``[N_l]``.
        num_train: N, the training images.
        batch_size: rows of the labelled minibatch (at most ``N_l``).
        weight: the classification weight a (``classification_weight``).
        binarize: whether labelled images are binarized afresh at every step.
        dequantize: the bits of pixels dequantized afresh at every step (0: not dequantized).
        parameters: the parameters whose gradients are set.
        workers: this process's place among the processes.
    """

    def __init__(
        self,
        vae: SemiSupervisedVAE,
        model: Callable[..., Any],
        guide: Callable[..., Any],
        labelled: tuple[torch.Tensor, torch.Tensor],
        *,
        num_train: int,
        batch_size: int,
        weight: float,
        binarize: bool,
        dequantize: int = 0,
        parameters: list[torch.Tensor],
        workers: Workers,
    ) -> None:
        self.vae, self.model, self.guide = vae, model, guide
        self.x_labelled, self.y_labelled = labelled
        self.num_train, self.weight, self.binarize = num_train, weight, binarize
        self.dequantize = dequantize
        self.batch_size = min(batch_size, self.x_labelled.shape[0])
        self.parameters, self.workers = parameters, workers
        self.device = parameters[0].device if parameters else torch.device("cpu")
        self.elbo = TraceEnum_ELBO(max_plate_nesting=1, strict_enumeration_warning=False)

    def compile(self, batch: torch.Tensor, sizes: Iterable[int]) -> None:
        """Nothing to compile: M2 trains without Pyro's JIT."""

    def __call__(self, batch: torch.Tensor, seed: int) -> float:
        """Set this process's gradients of the step's loss; return its share of the loss."""
        for param in self.parameters:
            param.grad = None
        total, start, end = batch.shape[0], *self.workers.bounds(batch.shape[0])
        x_l, y_l = self._labelled_batch(seed)
        l_start, l_end = self.workers.bounds(x_l.shape[0])
        loss = torch.zeros((), device=self.device)
        if end > start:
            torch.manual_seed(seed)
            local = batch[start:end].to(self.device)
            loss = loss + self.elbo.differentiable_loss(
                self.model, self.guide, local, rows=(total, start)
            )
        if l_end > l_start:
            torch.manual_seed(noise_seed(seed, 1))
            x, y = x_l[l_start:l_end].to(self.device), y_l[l_start:l_end].to(self.device)
            elbo = self.elbo.differentiable_loss(
                self.model, self.guide, x, y, rows=(x_l.shape[0], l_start)
            )
            share = total / x_l.shape[0]  # from a mean over the labelled rows to the batch's
            labelled_share = self.x_labelled.shape[0] / self.num_train
            loss = loss + share * (
                labelled_share * elbo + self.weight * self.vae.classification_loss(x, y)
            )
        if end == start and l_end == l_start:
            return 0.0
        loss.backward()
        return float(loss.detach())

    def _labelled_batch(self, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The step's labelled rows (with replacement) and their binarization, from its seed."""
        generator = torch.Generator().manual_seed(noise_seed(seed, 2))
        rows = torch.randint(self.x_labelled.shape[0], (self.batch_size,), generator=generator)
        x = self.x_labelled[rows]
        if self.binarize:
            x = torch.bernoulli(x, generator=generator)
        elif self.dequantize:
            x = dequantize_fixed(x, self.dequantize, noise_seed(seed, 3))
        return x, self.y_labelled[rows]


@torch.no_grad()
def accuracy(
    vae: SemiSupervisedVAE, x: torch.Tensor, y: torch.Tensor, *, batch: int = 1000
) -> float:
    """The share of rows whose class Q(y|x) finds most likely is their label.

    Example:
        >>> from pyro_vae.models.m2 import build_m2
        >>> m2 = build_m2(data_dim=4, latent_dim=2, num_classes=3, hidden_dims=(8,))
        >>> 0.0 <= accuracy(m2, torch.rand(10, 4), torch.zeros(10).long()) <= 1.0
        True
    """
    right = sum(
        int((vae.classify(x[i : i + batch]).cpu() == y[i : i + batch]).sum())
        for i in range(0, x.shape[0], batch)
    )
    return right / max(1, x.shape[0])
