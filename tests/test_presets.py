import json

import pytest

from pyro_vae import Config, InputError
from pyro_vae.cli.commands import main
from pyro_vae.presets import PRESETS, apply_preset, load_config_file, preset_settings


@pytest.mark.parametrize("name", PRESETS.names())
def test_every_preset_is_a_valid_configuration_that_says_what_it_reproduces(name):
    config = Config.from_dict({"preset": name, "data_dir": "mnist"})
    assert config.preset == name and config.dataset == "mnist" and config.time_budget > 0
    for key, value in preset_settings(name).items():
        assert getattr(config, key) == value, key
    assert "BENCHMARKS.md" in PRESETS.trait(name, "reproduces")


def test_settings_given_beside_a_preset_override_it():
    config = Config.from_dict({"preset": "mnist-best", "time-budget": 60, "prior_components": 50})
    assert (config.time_budget, config.prior_components) == (60.0, 50)
    assert config.prior == "vamp" and config.num_particles == 5  # the rest is the preset's
    assert apply_preset(None, {"epochs": 2}) == {"epochs": 2}
    with pytest.raises(InputError, match="unknown preset 'mnist-vea'.*choose one of mnist-vae"):
        Config.from_dict({"preset": "mnist-vea"})


def test_train_with_a_preset_records_it_and_the_options_that_override_it(idx_dir, tmp_path):
    run = tmp_path / "r"
    small = ["--latent-dim", "2", "--hidden-dims", "16", "--epochs", "1", "--time-budget", "0"]
    argv = ["train", "--preset", "mnist-iwae5", "--data-dir", str(idx_dir), "--out", str(run)]
    assert main([*argv, *small, "--quiet", "--no-plots"]) == 0
    settings = json.loads((run / "config.json").read_text())["settings"]
    assert settings["preset"] == "mnist-iwae5" and settings["dataset"] == "mnist"
    assert settings["objective"] == "iwae" and settings["num_particles"] == 5  # the preset's
    assert settings["hidden_dims"] == [16] and settings["time_budget"] == 0  # the options'
    assert main(["train", "--resume", str(run), "--epochs", "2", "--quiet", "--no-plots"]) == 0


def test_a_config_file_may_name_a_preset_and_the_command_line_overrides_both(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('preset = "mnist-hvae"\nlatent_dim = 7\n')
    from pyro_vae.cli.arguments import build_parser, config_overrides

    args = build_parser().parse_args(["train", "--config", str(path), "--latent-dim", "3"])
    values = {**load_config_file(path), **config_overrides(args)}
    config = Config.from_dict(values)
    assert config.model == "hierarchical" and config.latent_dim == 3


def test_the_presets_command_lists_them_and_prints_one_as_a_config_file(capsys, tmp_path):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    for name in PRESETS.names():
        assert name in out
    assert main(["presets", "mnist-m2-100"]) == 0
    (tmp_path / "m2.toml").write_text(capsys.readouterr().out)
    printed = load_config_file(tmp_path / "m2.toml")
    expected = preset_settings("mnist-m2-100")
    assert printed == {k: list(v) if isinstance(v, tuple) else v for k, v in expected.items()}
    assert main(["presets", "m2"]) == 2
