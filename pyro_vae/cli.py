"""The ``pyro-vae`` command: a thin layer over the Python API.

Subcommands: ``train``, ``evaluate``, ``sample``. Settings pass through
:meth:`pyro_vae.Config.from_dict`, the same validation the Python API uses; any
:class:`~pyro_vae.errors.InputError` becomes one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from pyro_vae.checkpoint import EVALUATION_FILE, atomic_write_text, load_run, read_config
from pyro_vae.config import Config, load_config_file
from pyro_vae.errors import InputError

__all__ = ["EXIT_INPUT_ERROR", "main"]

EXIT_INPUT_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line, with exit status 2.

    It takes no abbreviated options: ``--latent`` must not silently mean ``--latent-dim``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INPUT_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    """One ``--option`` per :class:`Config` field, documented with its default."""
    groups: dict[str, argparse._ArgumentGroup] = {}
    for f in dataclasses.fields(Config):
        group_name = f.metadata["group"]
        group = groups.get(group_name) or groups.setdefault(
            group_name, parser.add_argument_group(f"{group_name} settings")
        )
        default = f.default
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        flag = "--" + f.name.replace("_", "-")
        if isinstance(default, bool):
            group.add_argument(
                flag,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=f"{f.metadata['help']} (default: {shown})",
            )
        else:
            group.add_argument(
                flag,
                default=None,
                metavar=f.name.upper(),
                help=f"{f.metadata['help']} (default: {shown})",
            )


def _config_overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(Config)
        if getattr(args, f.name) is not None
    }


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pyro-vae", description="Variational autoencoders as Pyro programs.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p_train = sub.add_parser(
        "train",
        help="train a VAE and write a run directory",
        description="Train a VAE with SVI. Settings come from the defaults, then --config, then "
        "the options below.",
    )
    p_train.add_argument("--config", metavar="FILE.toml", help="settings file (name = value lines)")
    p_train.add_argument("--out", metavar="RUN_DIR", help="run directory (default: runs/DATASET)")
    p_train.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue the run in RUN_DIR (only --epochs/--early-stopping may change)",
    )
    p_train.add_argument(
        "--overwrite", action="store_true", help="replace an existing run in --out"
    )
    p_train.add_argument("--quiet", action="store_true", help="print only the final summary")
    _add_config_options(p_train)

    p_eval = sub.add_parser("evaluate", help="print the test-set ELBO of a trained run")
    p_eval.add_argument("run_dir", metavar="RUN_DIR")
    p_eval.add_argument("--dataset", help="evaluate on another data set of the same image size")
    p_eval.add_argument(
        "--data-dir", help="where the run's data set lives now (mnist, fashion-mnist)"
    )
    p_eval.add_argument("--data-file", help="where the run's .npz file lives now")
    p_eval.add_argument("--limit", metavar="N", help="evaluate the first N test points only")

    p_sample = sub.add_parser("sample", help="draw images from a trained model into a PNG grid")
    p_sample.add_argument("run_dir", metavar="RUN_DIR")
    p_sample.add_argument("-n", "--num", default="64", help="number of samples (default: 64)")
    p_sample.add_argument(
        "-o", "--output", default="samples.png", help="PNG file (default: samples.png)"
    )
    p_sample.add_argument("--seed", default="0", help="random seed (default: 0)")
    return parser


def _positive(value: str, name: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise InputError(f"{name} must be a positive integer, got {value!r}: pass e.g. {name} 64")
    return number


# ---------------------------------------------------------------------------------------------


def _cmd_train(args: argparse.Namespace) -> int:
    from pyro_vae.training import EXIT_INTERRUPTED, train

    overrides = _config_overrides(args)
    if args.resume:
        if args.config or args.overwrite or args.out:
            raise InputError(
                "--resume takes the settings and place of the run: drop --config, "
                "--out and --overwrite"
            )
        stored, _ = read_config(Path(args.resume))
        config = stored.replace(**overrides) if overrides else None
        run_dir = Path(args.resume)
    else:
        values = load_config_file(args.config) if args.config else {}
        config = Config.from_dict({**values, **overrides})
        run_dir = Path(args.out or f"runs/{config.dataset}")
    result = train(
        config,
        run_dir,
        resume=bool(args.resume),
        overwrite=args.overwrite,
        progress=None if not args.quiet else False,
        verbose=not args.quiet,
    )
    if result.interrupted:
        return EXIT_INTERRUPTED
    if args.quiet:
        print(f"test ELBO {result.test_elbo:.3f} nats per datapoint; run saved in {run_dir}")
    return 0


def _load_test_data(args: argparse.Namespace) -> Any:
    """Load a run and the test data it is evaluated on (its own, or those the options name)."""
    from pyro_vae.data import load_data

    run = load_run(Path(args.run_dir))
    changes = {
        k: getattr(args, k) for k in ("dataset", "data_dir", "data_file") if getattr(args, k)
    }
    config = run.config.replace(**changes) if changes else run.config
    splits = load_data(config, run.vae.likelihood.support)
    if splits.data_dim != run.data.data_dim:
        raise InputError(
            f"the run's model takes {run.data.data_dim} values per datapoint but the data have "
            f"{splits.data_dim}: point --data-dir/--data-file at the data it was trained on"
        )
    return run, splits


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import torch

    from pyro_vae.training import evaluate_elbo

    run, splits = _load_test_data(args)
    x = splits.test
    if args.limit is not None:
        x = x[: _positive(args.limit, "--limit")]
    torch.manual_seed(0)
    result = evaluate_elbo(run.vae, x)
    report = {
        "num_points": int(x.shape[0]),
        "test_elbo": result["elbo"],
        "test_reconstruction": result["reconstruction"],
        "test_kl": result["kl"],
    }
    atomic_write_text(run.path / EVALUATION_FILE, json.dumps(report, indent=2) + "\n")
    print(
        f"test ELBO {result['elbo']:.3f} nats per datapoint "
        f"(reconstruction {result['reconstruction']:.3f}, KL {result['kl']:.3f}) "
        f"on {x.shape[0]} test points"
    )
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    import torch

    from pyro_vae.checkpoint import atomic_write_bytes
    from pyro_vae.plots import samples_figure

    num = _positive(args.num, "-n")
    seed = int(args.seed) if args.seed.lstrip("-").isdigit() else None
    if seed is None:
        raise InputError(f"--seed must be an integer, got {args.seed!r}")
    output = Path(args.output)
    if output.suffix.lower() != ".png":
        raise InputError(f"output {output} must end in .png: pass e.g. -o samples.png")
    if not output.parent.is_dir():
        raise InputError(f"folder {output.parent} does not exist: create it or choose another -o")
    run = load_run(Path(args.run_dir))
    if run.data.image_shape is None:
        raise InputError(f"the data of {args.run_dir} are not images: there is nothing to draw")
    torch.manual_seed(seed)
    figure = samples_figure(run.vae, num, run.data.image_shape)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120)
    atomic_write_bytes(output, buffer.getvalue())
    print(f"wrote {num} samples to {output}")
    return 0


_COMMANDS = {"train": _cmd_train, "evaluate": _cmd_evaluate, "sample": _cmd_sample}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``pyro-vae`` command line; return the exit status.

    Example:
        >>> main(["train", "--epochs", "0"])
        2
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except InputError as exc:
        print(f"pyro-vae {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except FloatingPointError as exc:
        print(f"pyro-vae {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
