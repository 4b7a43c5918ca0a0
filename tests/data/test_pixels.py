"""uint8 pixels read as float rows: indexing like a tensor, subsets without copies, streaming."""

import numpy as np
import pytest
import torch
from PIL import Image

from pyro_vae import Config
from pyro_vae.data.batches import epoch_batches
from pyro_vae.data.pixels import PixelRows, in_memory, parts, take
from pyro_vae.data.splits import check_data, load_data
from pyro_vae.errors import InputError


def _pixels(n=7, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 3, 2, 2), dtype=np.uint8)


def _as_tensor(pixels):
    return torch.from_numpy(pixels.reshape(len(pixels), -1).astype(np.float32) / 255.0)


@pytest.mark.parametrize(
    "index",
    [
        3,
        -1,
        slice(None),
        slice(1, 6, 2),
        slice(-3, None),
        [4, 0, 4],
        np.array([6, 2]),
        torch.tensor([5, 1, 2]),
        torch.tensor([True, False, True, False, False, True, True]),
    ],
)
def test_indexing_reads_what_a_tensor_of_the_rows_gives_bit_for_bit(index):
    pixels = _pixels()
    rows, tensor = PixelRows(pixels), _as_tensor(pixels)
    assert torch.equal(rows[index], tensor[index])
    assert rows[index].dtype == torch.float32


def test_a_selection_indexes_the_same_pixels_without_copying_them():
    pixels = _pixels()
    tensor = _as_tensor(pixels)
    chosen = torch.tensor([6, 0, 3, 5])
    subset = PixelRows(pixels).select(chosen)
    assert subset.pixels is pixels and subset.shape == torch.Size((4, 12))
    assert torch.equal(subset[1:3], tensor[chosen][1:3])
    twice = subset.select(torch.tensor([3, 0]))  # a subset of a subset
    assert torch.equal(twice[:], tensor[torch.tensor([5, 6])])
    assert torch.equal(take(tensor, chosen), tensor[chosen])
    assert take(PixelRows(pixels), chosen).pixels is pixels


def test_chunks_cover_every_row_once_in_order():
    pixels = _pixels(n=10)
    rows = PixelRows(pixels)
    chunks = list(rows.chunks(4))
    assert [c.shape[0] for c in chunks] == [4, 4, 2]
    assert len(list(rows.chunks())) == 1  # by default 16 MiB at a time
    assert torch.equal(torch.cat(chunks), _as_tensor(pixels))
    assert torch.equal(torch.cat(list(parts(rows))), in_memory(rows))
    tensor = _as_tensor(pixels)
    assert next(parts(tensor)) is tensor and in_memory(tensor) is tensor


def test_only_uint8_pixels_are_taken():
    with pytest.raises(TypeError, match="uint8"):
        PixelRows(np.zeros((2, 3), np.float32))


def test_epoch_batches_from_pixels_equal_those_from_the_tensor():
    pixels = _pixels(n=23)
    for dequantize in (0, 8):
        kwargs = {"seed": 3, "epoch": 2, "binarize": False, "dequantize": dequantize}
        ours = list(epoch_batches(PixelRows(pixels), 5, **kwargs))
        theirs = list(epoch_batches(_as_tensor(pixels), 5, **kwargs))
        assert len(ours) == len(theirs) == 5
        assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True))


def test_checks_read_pixels_chunk_by_chunk_and_refuse_what_a_tensor_is_refused(monkeypatch):
    monkeypatch.setattr("pyro_vae.data.pixels._CHUNK_VALUES", 1200)  # 100 rows a chunk
    pixels = _pixels(n=5000)
    rows = PixelRows(pixels)
    check_data(rows, "discrete", binarize=False, what="x")  # 8-bit levels: fine
    for support, binarize, bits, message in (
        ("binary", False, 8, "other than 0 and 1"),
        ("discrete", False, 5, "off the 32 levels"),
    ):
        for data in (rows, _as_tensor(pixels)):
            with pytest.raises(InputError, match=message):
                check_data(data, support, binarize=binarize, what="x", bits=bits)
    binary = PixelRows(np.where(pixels > 127, 255, 0).astype(np.uint8))
    check_data(binary, "binary", binarize=False, what="x")


def test_a_folder_trains_from_its_memory_mapped_cache(tmp_path):
    pictures = np.random.default_rng(0).integers(0, 256, size=(30, 8, 8, 3), dtype=np.uint8)
    for i, picture in enumerate(pictures):
        Image.fromarray(picture).save(tmp_path / f"{i:02d}.png")
    config = Config(dataset="folder", data_dir=str(tmp_path), likelihood="dmol")
    splits = load_data(config, support="discrete")
    assert isinstance(splits.train, PixelRows)
    assert isinstance(splits.train.pixels, np.memmap)  # read from the disk, not copied
    assert splits.train.shape[0] + splits.validation.shape[0] + splits.test.shape[0] == 30
    assert splits.marginal_rows().shape == splits.train.shape
    every = torch.cat([splits.train[:], splits.validation, splits.test]).mul(255).round()
    read = {row.to(torch.uint8).numpy().tobytes() for row in every}
    assert read == {p.transpose(2, 0, 1).tobytes() for p in pictures}  # each once, exact
