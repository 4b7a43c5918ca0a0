import math

import pytest

from pyro_vae import train
from pyro_vae.running.outcome import divergence


@pytest.mark.parametrize(
    ("last", "warned"),
    [(-95.0, False), (-300.0, False), (-400.0, True), (math.nan, True), (-math.inf, True)],
)
def test_a_validation_elbo_that_ends_far_below_its_start_is_a_divergence(last, warned):
    metrics = [{"epoch": 1, "val_elbo": -190.0}, {"epoch": 2, "val_elbo": last}]
    assert bool(divergence(metrics)) == warned
    assert divergence(metrics[:1]) == ""


def test_a_diverging_run_says_so_at_its_end(tmp_path, tiny, capsys):
    result = train(tiny.replace(epochs=4, learning_rate=3.0), tmp_path / "run", verbose=True)
    assert len(result.warnings) == 1 and "training diverged" in result.warnings[0]
    assert "warning: the validation ELBO fell from" in capsys.readouterr().err
    calm = train(tiny.replace(epochs=2), tmp_path / "calm")
    assert calm.warnings == []
