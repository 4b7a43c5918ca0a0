"""Image folders: layouts, colour, sizes, labels, the cache, and every bad folder refused."""

import numpy as np
import pytest
import torch
from PIL import Image

import pyro_vae.data.folders as folders
from pyro_vae import Config
from pyro_vae.data.folders import read_folder
from pyro_vae.data.splits import load_data
from pyro_vae.errors import InputError


def _save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _grey(n, side=8, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, side, side), dtype=np.uint8)


def test_a_flat_grey_folder_is_read_pixel_for_pixel(tmp_path):
    pictures = _grey(10)
    for i, picture in enumerate(pictures):
        _save(tmp_path / f"{i:02d}.png", picture)
    images = read_folder(tmp_path, test_share=0.3, seed=1)
    assert images.image_shape == (1, 8, 8) and images.y_train is None
    assert len(images.x_train) == 7 and len(images.x_test) == 3
    every = np.concatenate([images.x_train, images.x_test])[:, 0]
    originals = {p.tobytes() for p in pictures}
    assert {p.tobytes() for p in every} == originals  # decoded exactly, none lost or repeated


def test_class_folders_give_labels_and_test_gives_the_split(tmp_path):
    rng = np.random.default_rng(0)
    for split, count in (("", 4), ("test", 2)):
        for name, colour in (("cats", 0), ("dogs", 2)):
            for i in range(count):
                picture = rng.integers(0, 50, size=(6, 6, 3), dtype=np.uint8)
                picture[..., colour] = 255  # red cats, blue dogs
                _save(tmp_path / split / name / f"{i}.png", picture)
    images = read_folder(tmp_path)
    assert images.classes == ("cats", "dogs") and images.image_shape == (3, 6, 6)
    assert images.y_train.tolist() == [0] * 4 + [1] * 4 and images.y_test.tolist() == [0, 0, 1, 1]
    for x, y in ((images.x_train, images.y_train), (images.x_test, images.y_test)):
        channel = np.where(y == 0, 0, 2)
        assert np.all(x[np.arange(len(x)), channel] == 255)


def test_sizes_are_taken_from_the_files_or_made_one_by_resizing_and_cropping(tmp_path):
    _save(tmp_path / "wide.png", np.zeros((10, 20), np.uint8))
    _save(tmp_path / "square.png", np.full((12, 12), 200, np.uint8))
    _save(tmp_path / "other.jpg", np.full((16, 16), 90, np.uint8))
    with pytest.raises(InputError, match="not all one square size.*image_size"):
        read_folder(tmp_path)
    images = read_folder(tmp_path, image_size=8, test_share=0.34)
    assert images.x_train.shape[1:] == (1, 8, 8)


def test_mixed_channels_are_refused_unless_one_is_chosen(tmp_path):
    _save(tmp_path / "grey.png", np.zeros((4, 4), np.uint8))
    _save(tmp_path / "colour.png", np.zeros((4, 4, 3), np.uint8))
    _save(tmp_path / "more.png", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(InputError, match="mixes 1 greyscale and 2 colour"):
        read_folder(tmp_path)
    assert read_folder(tmp_path, channels=3).image_shape == (3, 4, 4)
    assert read_folder(tmp_path, channels=1).image_shape == (1, 4, 4)


def test_a_corrupt_file_is_named_and_counted_or_skipped(tmp_path):
    for i, picture in enumerate(_grey(6)):
        _save(tmp_path / f"{i}.png", picture)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(InputError, match=r"1 of the 7 files .* \(e\.g\. broken\.png\).*skip"):
        read_folder(tmp_path)
    images = read_folder(tmp_path, skip_bad=True)
    assert images.skipped == ("broken.png",)
    assert len(images.x_train) + len(images.x_test) == 6


@pytest.mark.parametrize(
    ("files", "message"),
    [({}, "it is empty"), ({"notes.txt": b"hello", "data.csv": b"1,2"}, "found 2 other files")],
)
def test_a_folder_without_images_is_one_clear_error(tmp_path, files, message):
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    with pytest.raises(InputError, match=f"no images in .*{message}"):
        read_folder(tmp_path)


def test_images_beside_class_folders_are_refused(tmp_path):
    _save(tmp_path / "cats" / "a.png", np.zeros((4, 4), np.uint8))
    _save(tmp_path / "stray.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(InputError, match="move each image into its class's folder"):
        read_folder(tmp_path)


def test_a_folder_is_decoded_once_and_again_when_it_changes(tmp_path, monkeypatch):
    pictures = _grey(5)
    for i, picture in enumerate(pictures):
        _save(tmp_path / f"{i}.png", picture)
    first = read_folder(tmp_path)
    real = folders._decode_all

    def refuse(*args, **kwargs):
        raise AssertionError("decoded twice")

    monkeypatch.setattr(folders, "_decode_all", refuse)
    again = read_folder(tmp_path)
    assert again.cache == first.cache
    assert np.array_equal(again.x_train, first.x_train)
    _save(tmp_path / "0.png", 255 - pictures[0])  # a changed file: a new key, decoded afresh
    monkeypatch.setattr(folders, "_decode_all", real)
    changed = read_folder(tmp_path)
    assert changed.cache != first.cache


def test_headers_are_not_read_when_channels_and_size_are_given(tmp_path, monkeypatch):
    for i, picture in enumerate(_grey(6)):
        _save(tmp_path / f"{i}.png", picture)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    probed = read_folder(tmp_path, skip_bad=True)
    monkeypatch.setattr(folders, "_probe", lambda *a: pytest.fail("headers were read"))
    given = read_folder(tmp_path, channels=1, image_size=8, skip_bad=True)
    assert given.cache == probed.cache and given.skipped == probed.skipped == ("broken.png",)
    assert np.array_equal(given.x_train, probed.x_train)
    with pytest.raises(InputError, match="1 of the 7 files"):  # still found when decoded
        read_folder(tmp_path, channels=1, image_size=8)


def test_the_folder_data_set_serves_eight_bit_rows_with_its_shape_and_labels(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        for i in range(10):
            _save(tmp_path / name / f"{i}.png", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    config = Config(dataset="folder", data_dir=str(tmp_path), likelihood="dmol")
    splits = load_data(config, "discrete")
    assert splits.image_shape == (3, 8, 8) and splits.train.shape[1] == 192
    train = splits.train[:]
    assert torch.equal(train * 255, (train * 255).round())
    assert splits.num_classes == 2 and not splits.binarize_train


def test_folder_settings_on_another_data_set_are_refused():
    with pytest.raises(InputError, match="image_size applies to dataset folder"):
        Config(dataset="digits", image_size=32).validate()
