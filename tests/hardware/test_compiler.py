import pytest
import torch

from pyro_vae.hardware.compiler import CaptureError, capture, compile_failure


def test_capture_records_the_tensor_work_and_leaves_the_random_stream_alone():
    torch.manual_seed(1)
    before = torch.get_rng_state()
    graph = capture(lambda x: (x + torch.randn(3)).sum(), torch.zeros(3))
    assert torch.equal(torch.get_rng_state(), before)
    torch.manual_seed(2)
    a = graph(torch.ones(3))
    torch.manual_seed(2)
    assert torch.equal(a, (torch.ones(3) + torch.randn(3)).sum())


def test_a_value_read_in_python_cannot_be_captured():
    def reads(x):
        return x * 2 if bool(x.sum() > 0) else x

    with pytest.raises(CaptureError, match="RuntimeError"):
        capture(reads, torch.ones(3))


def test_a_failure_is_one_short_line():
    assert compile_failure(ValueError("a\nb")) == "ValueError: a"
    assert len(compile_failure(ValueError("x" * 500))) == 160
    assert compile_failure(KeyError()) == "KeyError"
