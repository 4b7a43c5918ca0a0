import json

import pytest
import torch
from safetensors.torch import load_file

from pyro_vae import Config, InputError, build_vae, load_run, train
from pyro_vae.cli.commands import main
from pyro_vae.running.averaging import WeightAverage


def test_the_average_follows_the_ema_rule_step_by_step():
    torch.manual_seed(0)
    vae = build_vae(Config(latent_dim=2, hidden_dims=(4,)), data_dim=3)
    average = WeightAverage(vae, 0.9)
    expected = None
    for _ in range(4):
        with torch.no_grad():
            for p in vae.parameters():
                p.add_(torch.randn_like(p))
        average.update(vae)
        now = {k: v.clone() for k, v in vae.state_dict().items()}
        expected = now if expected is None else {k: 0.9 * expected[k] + 0.1 * now[k] for k in now}
    for name, value in average.module.state_dict().items():
        torch.testing.assert_close(value, expected[name])


def test_a_run_with_an_average_resumes_to_the_same_weights_and_average(tmp_path, tiny):
    config = tiny.replace(epochs=2, ema=0.95)
    whole = train(config, tmp_path / "whole")
    train(config.replace(epochs=1), tmp_path / "split")
    train(config, tmp_path / "split", resume=True)
    one, two = (load_file(tmp_path / n / "model.safetensors") for n in ("whole", "split"))
    assert one.keys() == two.keys() and any(k.startswith("ema.") for k in one)
    for name in one:
        torch.testing.assert_close(one[name], two[name], rtol=0, atol=1e-6)
    split = load_run(tmp_path / "split")
    assert split.weights == "ema"
    for name, value in whole.vae.state_dict().items():  # train returns the average
        torch.testing.assert_close(split.vae.state_dict()[name], value, rtol=0, atol=1e-6)


def test_validation_and_evaluation_use_the_average_unless_asked_for_the_raw_weights(tmp_path, tiny):
    run = tmp_path / "r"
    result = train(tiny.replace(epochs=2, ema=0.9), run)
    averaged, raw = load_run(run), load_run(run, weights="raw")
    assert (averaged.weights, raw.weights) == ("ema", "raw")
    assert not torch.equal(averaged.vae.state_dict()["encoder.net.0.weight"],
                           raw.vae.state_dict()["encoder.net.0.weight"])  # fmt: skip
    from pyro_vae.estimate.dataset import evaluate_elbo
    from pyro_vae.hardware.parallel import noise_seed

    seed = noise_seed(tiny.seed, 4)  # the test ELBO's stream (trainer._TEST)
    test = evaluate_elbo(averaged.vae, result.data.test, seed=seed)
    assert test["elbo"] == pytest.approx(result.test_elbo, rel=1e-6)
    argv = ["evaluate", str(run), "--num-samples", "10", "--limit", "5", "--overwrite"]
    for weights in ("auto", "raw"):
        assert main([*argv, "--weights", weights]) == 0
        report = json.loads((run / "evaluation.json").read_text())
        assert report["weights"] == ("ema" if weights == "auto" else "raw")


def test_asking_for_an_average_a_run_did_not_keep_is_one_clear_error(tmp_path, tiny):
    run = tmp_path / "r"
    train(tiny.replace(epochs=1), run)
    assert load_run(run).weights == "raw"
    with pytest.raises(InputError, match="no average of its weights"):
        load_run(run, weights="ema")
    with pytest.raises(InputError, match="choose auto, ema or raw"):
        train(tiny.replace(epochs=1, ema=0.5), tmp_path / "e")
        load_run(tmp_path / "e", weights="best")
    with pytest.raises(InputError, match=r"ema is a decay in \[0, 1\)"):
        Config(ema=1.0).validate()
