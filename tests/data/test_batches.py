"""Seeded epochs of minibatches and binarization."""

import pytest
import torch

from pyro_vae.data.batches import binarize_fixed, epoch_batches


def test_epoch_can_restart_mid_way():
    x = torch.rand(23, 5)
    full = list(epoch_batches(x, 4, seed=3, epoch=2, binarize=True))
    tail = list(epoch_batches(x, 4, seed=3, epoch=2, binarize=True, start_step=4))
    assert len(full) == 6 and all(torch.equal(a, b) for a, b in zip(full[4:], tail, strict=True))
    assert torch.equal(
        torch.cat([b for b in epoch_batches(x, 4, seed=3, epoch=2, binarize=False)]).sort(0).values,
        x.sort(0).values,
    )


def test_fixed_binarization_has_the_right_mean():
    x = torch.full((200, 100), 0.3)
    assert float(binarize_fixed(x).mean()) == pytest.approx(0.3, abs=4 * (0.21 / 20000) ** 0.5)
