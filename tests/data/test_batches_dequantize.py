"""Uniform dequantization: each pixel level spread over its own bin, reproducibly."""

import torch

from pyro_vae.data.batches import dequantize_fixed, epoch_batches


def test_each_level_lands_in_its_own_bin():
    levels = torch.arange(256.0).repeat(40, 1) / 255
    y = dequantize_fixed(levels, bits=8, seed=3)
    assert torch.equal(torch.floor(y * 256), levels * 255)  # level k in [k/256, (k+1)/256)
    assert torch.equal(y, dequantize_fixed(levels, bits=8, seed=3))
    assert not torch.equal(y, dequantize_fixed(levels, bits=8, seed=4))
    spread = (y * 256 - torch.floor(y * 256)).flatten()
    assert abs(float(spread.mean()) - 0.5) < 0.02  # uniform within the bin


def test_only_the_target_columns_are_dequantized():
    x = torch.tensor([[0.0, 1.0, 0.25, 0.75]])
    y = dequantize_fixed(x, bits=1, columns=2)
    assert torch.equal(y[:, 2:], x[:, 2:])


def test_training_batches_are_dequantized_afresh_each_epoch():
    x = torch.randint(0, 256, (20, 6)).float() / 255
    first = torch.cat(list(epoch_batches(x, 5, seed=0, epoch=0, binarize=False, dequantize=8)))
    second = torch.cat(list(epoch_batches(x, 5, seed=0, epoch=1, binarize=False, dequantize=8)))
    again = torch.cat(list(epoch_batches(x, 5, seed=0, epoch=0, binarize=False, dequantize=8)))
    assert torch.equal(first, again)
    assert sorted((torch.floor(first * 256)).flatten().tolist()) == sorted(
        (torch.floor(second * 256)).flatten().tolist()
    )
    assert not torch.equal(first.sort(0).values, second.sort(0).values)
