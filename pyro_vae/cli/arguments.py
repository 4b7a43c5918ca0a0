"""The grammar of the ``pyro-vae`` command line: its parser and the checks of option values.

:func:`build_parser` makes the argparse parser of every subcommand (one ``--option`` per
:class:`~pyro_vae.config.Config` field for ``train``); the value checks turn an option's text
into what the Python API takes, or raise :class:`~pyro_vae.errors.InputError` with one line that
names the option and an example. :mod:`pyro_vae.cli.commands` runs the commands.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import os
from collections.abc import Sequence
from typing import Any, NoReturn

from pyro_vae.cli.top import COMMANDS, EXIT_INPUT_ERROR, top_parser
from pyro_vae.config import MAX_SEED, RESUMABLE_OPTIONS, Config
from pyro_vae.errors import InputError
from pyro_vae.hardware.devices import DEVICES, check_device_name
from pyro_vae.presets import load_config_file
from pyro_vae.registry import family
from pyro_vae.storage.document import read_document

__all__ = [
    "EXIT_INPUT_ERROR",
    "PROPOSALS",
    "build_parser",
    "chain_options",
    "check_values",
    "config_overrides",
    "count",
    "estimator_values",
    "integers",
    "new_run_config",
    "positive",
    "proposals",
    "seed",
    "unrecognized",
]


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    """One ``--option`` per :class:`Config` field, documented with its default.

    A setting that picks a part lists the registered names (with their summaries) of its family.
    """
    groups: dict[str, argparse._ArgumentGroup] = {}
    for f in dataclasses.fields(Config):
        group_name = f.metadata["group"]
        group = groups.get(group_name) or groups.setdefault(
            group_name, parser.add_argument_group(f"{group_name} settings")
        )
        default = f.default
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        flag = "--" + f.name.replace("_", "-")
        text = f.metadata["help"]
        if f.metadata.get("family"):
            entries = family(f.metadata["family"]).entries()
            text += ": " + "; ".join(f"{e.name} ({e.summary})" for e in entries)
        text += f" (default: {shown})" if default is not None else ""
        if isinstance(default, bool):
            group.add_argument(
                flag,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=text,
            )
        else:
            group.add_argument(
                flag,
                default=None,
                metavar=f.name.upper(),
                help=text,
            )


def config_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`Config` settings given on the command line (those left out are absent).

    Example:
        >>> args = build_parser().parse_args(["train", "--latent-dim", "4"])
        >>> config_overrides(args)
        {'latent_dim': '4'}
    """
    return {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(Config)
        if getattr(args, f.name) is not None
    }


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``pyro-vae`` and its subcommands.

    Its help lists the registered parts: within :func:`pyro_vae.registry.from_catalogue` it
    is built without importing torch (:mod:`pyro_vae.cli.launch`).

    Example:
        >>> build_parser().parse_args(["evaluate", "runs/digits"]).proposal
        'guide'
    """
    parser, sub = top_parser()

    p_train = sub.add_parser(
        "train",
        help=COMMANDS["train"],
        description="Train a VAE with SVI. Settings come from the defaults, then --config, then "
        "the options below.",
    )
    p_train.add_argument("--config", metavar="FILE.toml", help="settings file (name = value lines)")
    p_train.add_argument("--out", metavar="RUN_DIR", help="run directory (default: runs/DATASET)")
    p_train.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help=f"continue the run in RUN_DIR (only {RESUMABLE_OPTIONS} may change)",
    )
    p_train.add_argument(
        "--overwrite", action="store_true", help="replace an existing run in --out"
    )
    p_train.epilog = (
        "Setting names may be written with dashes or underscores, here (--latent-dim) and in "
        "the --config file (latent_dim = 2 or latent-dim = 2)."
    )
    p_train.add_argument("--quiet", action="store_true", help="print only the final summary")
    p_train.add_argument(
        "--no-plots",
        action="store_true",
        help="do not write the standard figures (curves, samples, recon, interp, latent, "
        "manifold) into the run directory at the end",
    )
    p_train.add_argument(
        "--tensorboard",
        action="store_true",
        help="log scalars every step and epoch, figures and the settings to TensorBoard in "
        'RUN_DIR/tensorboard (needs pip install "pyro-vae[tensorboard]"); a resumed run '
        "with a log goes on logging, and evaluate adds its estimates",
    )
    _add_config_options(p_train)

    p_eval = sub.add_parser(
        "evaluate",
        help=COMMANDS["evaluate"],
        description="Estimate log P(X) of every test point with K samples from the guide "
        "(importance sampling) and/or the prior (naive Monte Carlo); print the test NLL with its "
        "standard error, mean ESS, share of unreliable Pareto k-hat and the ELBO. Writes the "
        "summary and one row per point into the run directory.",
    )
    _add_estimator_options(p_eval)
    p_eval.add_argument(
        "--num-samples", metavar="K", default="5000", help="samples per datapoint (default: 5000)"
    )
    p_eval.add_argument(
        "--compile",
        default="auto",
        help="compute the importance weights and AIS's leapfrog steps with torch.compile: "
        "torch, off, or auto (torch where the work repays its compile time: from 5,000,000 "
        "weights, points x K, or 15,000,000 AIS gradients, points x chains x steps x "
        "(leapfrog + 1)) (default: auto)",
    )
    p_eval.add_argument(
        "--proposal",
        default="guide",
        help="guide (importance sampling), prior (naive Monte Carlo), ais (annealed importance "
        "sampling), both (guide and prior), all three, or guide-drawn (a discrete latent such "
        "as M2's class drawn from the guide, not summed); several separated by commas "
        "(default: guide)",
    )
    _add_ais_options(p_eval, "T", "intermediate distributions (default: 1000)")

    p_cmp = sub.add_parser(
        "compare-estimators",
        help=COMMANDS["compare-estimators"],
        description="Run the importance-sampling and the naive estimator for each K, and AIS "
        "for each schedule length if asked, and print their mean test log P(X) with standard "
        "errors (and the exact value for a linear-gaussian run). Writes the table into the run "
        "directory (or -o).",
    )
    _add_estimator_options(p_cmp)
    p_cmp.add_argument(
        "--ks",
        default="1,10,100,1000,5000",
        help="comma-separated sample counts K (default: 1,10,100,1000,5000)",
    )
    p_cmp.add_argument(
        "--proposal",
        default="both",
        help="guide, prior, ais, both (guide and prior) or all three (default: both)",
    )
    p_cmp.add_argument("-o", "--output", metavar="FILE.csv", help="CSV file (default: in RUN_DIR)")
    _add_ais_options(
        p_cmp,
        "T[,T...]",
        "comma-separated numbers of intermediate distributions, one row each (default: 1000)",
    )
    for p in (p_eval, p_cmp):
        p.add_argument(
            "--overwrite", action="store_true", help="replace an earlier result of this command"
        )

    p_bdmc = sub.add_parser(
        "bdmc",
        help=COMMANDS["bdmc"],
        description="Simulate (z, x) from the run's model, then run forward AIS (a stochastic "
        "lower bound of log P(x)) and reverse AIS from the true z (an upper bound) for each "
        "schedule length; print the bounds and their gap and write them into the run directory.",
    )
    p_bdmc.add_argument("run_dir", metavar="RUN_DIR")
    p_bdmc.add_argument("--num-points", default="100", help="simulated points (default: 100)")
    p_bdmc.add_argument(
        "--schedules", default="100,1000", help="comma-separated T (default: 100,1000)"
    )
    _add_chain_options(p_bdmc)
    p_bdmc.add_argument("--seed", default="0", help="random seed (default: 0)")
    p_bdmc.add_argument("--overwrite", action="store_true", help="replace an earlier table")

    p_sample = sub.add_parser("sample", help=COMMANDS["sample"])
    p_sample.add_argument("run_dir", metavar="RUN_DIR")
    p_sample.add_argument("-n", "--num", default="64", help="number of samples (default: 64)")
    p_sample.add_argument(
        "-o", "--output", metavar="FILE.png", help="PNG file (default: RUN_DIR/samples.png)"
    )
    p_sample.add_argument("--seed", default="0", help="random seed (default: 0)")

    p_export = sub.add_parser(
        "export",
        help=COMMANDS["export"],
        description="Copy a run's settings, training log, evaluation and figures, and the "
        "weights its evaluation uses, into a new folder that every command reading a run "
        "accepts (it cannot resume). With --ema the average of the weights is kept, halving "
        "the model file.",
    )
    p_export.add_argument("run_dir", metavar="RUN_DIR")
    p_export.add_argument("destination", metavar="DEST", help="a new (or empty) folder")

    p_presets = sub.add_parser("presets", help=COMMANDS["presets"])
    p_presets.add_argument(
        "name", nargs="?", metavar="NAME", help="print this preset's settings as a config file"
    )

    figure_kinds = family("figure kind")
    kinds = "; ".join(f"{e.name}: {e.summary}" for e in figure_kinds.entries())
    names = ", ".join(figure_kinds.names())
    p_plot = sub.add_parser(
        "plot",
        help=COMMANDS["plot"],
        description=f"Draw one figure of a trained run. Kinds: {kinds}.",
    )
    p_plot.add_argument("run_dir", metavar="RUN_DIR")
    p_plot.add_argument("--kind", required=True, help=f"one of {names}")
    p_plot.add_argument("-o", "--output", metavar="FILE.png", help="default: RUN_DIR/KIND.png")
    p_plot.add_argument("--seed", default="0", help="random seed (default: 0)")
    p_plot.add_argument("--dataset", help="draw test images of another data set of that size")
    p_plot.add_argument("--data-dir", help="where the run's data set lives now")
    p_plot.add_argument("--data-file", help="where the run's .npz file lives now")
    devices = ", ".join(DEVICES)
    for p in (p_train, p_eval, p_cmp, p_bdmc):
        p.add_argument(
            "--processes",
            metavar="N",
            help="run in N processes on this machine (torchrun's launcher, started for you; "
            "each process takes its share of the cores); results are those of one process",
        )
    for p in (p_train, p_eval, p_cmp, p_bdmc, p_sample, p_plot):
        p.add_argument(
            "--device",
            default="auto",
            help=f"where to compute: {devices} (default: auto, a CUDA GPU when torch sees one, "
            "else the CPU)",
        )
    for p in (p_eval, p_cmp, p_bdmc, p_sample, p_plot, p_export):
        p.add_argument(
            "--weights",
            default="auto",
            help="the model's weights: ema (their moving average, for a run trained with --ema), "
            "raw (as trained), or auto (ema where there is one) (default: auto)",
        )
    return parser


def _add_chain_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """The AIS chains' options, shared by evaluate, compare-estimators and bdmc."""
    parser.add_argument("--ais-chains", default="16", help="chains per point (default: 16)")
    parser.add_argument(
        "--leapfrog-steps", default="10", help="leapfrog steps per HMC transition (default: 10)"
    )
    parser.add_argument(
        "--ais-start", default="guide", help="start the chains from the guide or the prior"
    )
    parser.add_argument(
        "--ais-warmup",
        default="20",
        help="HMC transitions before the path in which the step size adapts fast; 0 skips them "
        "(default: 20)",
    )


def _add_ais_options(parser: argparse.ArgumentParser, metavar: str, steps_help: str) -> None:
    """The AIS group of evaluate and compare-estimators: ``--ais-steps`` and the chains."""
    group = parser.add_argument_group("annealed importance sampling (--proposal ais or all)")
    group.add_argument("--ais-steps", default="1000", metavar=metavar, help=steps_help)
    _add_chain_options(group)


def _add_estimator_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--dataset", help="evaluate on another data set of the same image size")
    parser.add_argument(
        "--data-dir", help="where the run's data set lives now (mnist, fashion-mnist)"
    )
    parser.add_argument("--data-file", help="where the run's .npz file lives now")
    parser.add_argument("--limit", metavar="N", help="evaluate the first N test points only")
    parser.add_argument("--seed", default="0", help="random seed (default: 0)")
    parser.add_argument(
        "--batch-size",
        metavar="B",
        default="100",
        help="test points per pass of AIS (importance sampling takes one per pass); memory "
        "grows with it, not with K (default: 100)",
    )
    parser.add_argument(
        "--float64", action="store_true", help="evaluate in double precision (slower)"
    )


def positive(value: str, name: str, example: int = 64) -> int:
    """The positive integer an option's text spells (``example``: what the error suggests).

    Raises:
        InputError: naming the option ``name`` and an example, if it is not one.

    Example:
        >>> positive("64", "--batch-size")
        64
    """
    return _at_least(1, value, name, "a positive integer", example)


def count(value: str, name: str) -> int:
    """The integer >= 0 an option's text spells.

    Raises:
        InputError: naming the option ``name`` and an example, if it is not one.

    Example:
        >>> count("0", "--ais-warmup")
        0
    """
    return _at_least(0, value, name, "an integer >= 0", 20)


def _at_least(least: int, value: str, name: str, kind: str, example: int) -> int:
    try:
        number = int(value)
    except ValueError:
        number = least - 1
    if number < least:
        raise InputError(f"{name} must be {kind}, got {value!r}: pass e.g. {name} {example}")
    return number


def seed(value: str, name: str = "--seed") -> int:
    """The seed an option's text spells: an integer from 0 to ``MAX_SEED`` (2**32 - 1).

    Example:
        >>> seed("42")
        42
    """
    try:
        number = int(value)
    except ValueError:
        number = -1
    if not 0 <= number <= MAX_SEED:
        raise InputError(
            f"{name} must be an integer from 0 to {MAX_SEED}, got {value!r}: pass e.g. {name} 0"
        )
    return number


def integers(value: str, option: str) -> list[int]:
    """Positive integers separated by commas, sorted without repeats.

    Example:
        >>> integers("100,10,100", "--ks")
        [10, 100]
    """
    try:
        numbers = [int(k) for k in value.split(",")]
    except ValueError:
        numbers = []
    if not numbers or min(numbers) < 1:
        raise InputError(
            f"{option} must be positive integers separated by commas, got {value!r}: "
            f"pass e.g. {option} 1,10,100,1000"
        )
    return sorted(set(numbers))


PROPOSALS = {
    "guide": ("guide",),
    "guide-drawn": ("guide-drawn",),
    "prior": ("prior",),
    "ais": ("ais",),
    "both": ("guide", "prior"),
    "all": ("guide", "prior", "ais"),
}


def proposals(value: str) -> tuple[str, ...]:
    """The estimators ``--proposal`` names (several separated by commas).

    guide, guide-drawn (discrete latents drawn, not summed), prior, ais, both (guide and
    prior) or all (guide, prior and ais).

    Example:
        >>> proposals("all")
        ('guide', 'prior', 'ais')
        >>> proposals("guide,guide-drawn,prior")
        ('guide', 'guide-drawn', 'prior')
    """
    chosen: list[str] = []
    for name in value.split(","):
        if name not in PROPOSALS:
            raise InputError(
                f"unknown proposal {name!r}: choose one of {', '.join(PROPOSALS)}, or several "
                "separated by commas (option --proposal)"
            )
        chosen += [p for p in PROPOSALS[name] if p not in chosen]
    return tuple(chosen)


def chain_options(args: argparse.Namespace) -> dict[str, Any]:
    """The AIS chain options, checked: chains, leapfrog steps, start and warm-up.

    Example:
        >>> args = argparse.Namespace(
        ...     ais_chains="8", leapfrog_steps="10", ais_start="prior", ais_warmup="0"
        ... )
        >>> chain_options(args)
        {'num_chains': 8, 'leapfrog_steps': 10, 'start': 'prior', 'warmup_steps': 0}
    """
    if args.ais_start not in ("guide", "prior"):
        raise InputError(
            f"unknown AIS start {args.ais_start!r}: choose guide or prior (option --ais-start)"
        )
    return {
        "num_chains": positive(args.ais_chains, "--ais-chains"),
        "leapfrog_steps": positive(args.leapfrog_steps, "--leapfrog-steps"),
        "start": args.ais_start,
        "warmup_steps": count(args.ais_warmup, "--ais-warmup"),
    }


def new_run_config(args: argparse.Namespace) -> Config | None:
    """The settings of ``train``: from the defaults, ``--config`` and the options, checked.

    ``None`` for ``--resume`` (the run's own settings, read by the command), after checking that
    nothing contradicts it.

    Example:
        >>> args = build_parser().parse_args(["train", "--latent-dim", "4"])
        >>> new_run_config(args).latent_dim
        4
    """
    if args.resume:
        if args.config or args.overwrite or args.out:
            raise InputError(
                "--resume takes the settings and place of the run: drop --config, "
                "--out and --overwrite"
            )
        return None
    values = load_config_file(args.config) if args.config else {}
    return Config.from_dict({**values, **config_overrides(args)})


def estimator_values(args: argparse.Namespace) -> dict[str, Any]:
    """The options that ``evaluate`` and ``compare-estimators`` share, checked.

    Proposals, seed, batch size, limit and ``--overwrite``; an AIS option given (``args.given``)
    without AIS among the proposals is refused, as it would be ignored.

    Example:
        >>> args = build_parser().parse_args(["evaluate", "runs/x", "--limit", "10"])
        >>> args.given = {"--limit"}
        >>> estimator_values(args)["limit"]
        10
    """
    chosen = proposals(args.proposal)
    unused = sorted(a for a in args.given if a.startswith(("--ais-", "--leapfrog")))
    if unused and "ais" not in chosen:
        raise InputError(
            f"{unused[0]} is for AIS: add --proposal ais (or all), or leave {unused[0]} out"
        )
    return {
        "proposals": chosen,
        "seed": seed(args.seed),
        "batch_size": positive(args.batch_size, "--batch-size"),
        "limit": positive(args.limit, "--limit") if args.limit is not None else None,
        "overwrite": args.overwrite,
    }


def check_values(args: argparse.Namespace) -> None:
    """Check what the options' text alone can tell, before anything is read or computed.

    The same checks, in the same functions, as the commands make (a device name, settings,
    counts, seeds, proposals, a figure kind, that the run directory is one); what needs the
    run's files or the machine is left to the command. Needs no torch within
    :func:`pyro_vae.registry.from_catalogue`.

    Raises:
        InputError: the first problem, in one line naming the option.

    Example:
        >>> args = build_parser().parse_args(["sample", "runs/x", "-n", "0"])
        >>> check_values(args)
        Traceback (most recent call last):
        ...
        pyro_vae.errors.InputError: -n must be a positive integer, got '0': pass e.g. -n 64
    """
    if getattr(args, "processes", None) is not None:
        positive(args.processes, "--processes", example=2)
        if "RANK" in os.environ:
            raise InputError("--processes starts processes itself: leave it out under torchrun")
    if getattr(args, "device", None) is not None:
        check_device_name(args.device)
    command = args.command
    if command == "train":
        new_run_config(args)
    elif command in ("evaluate", "compare-estimators"):
        if command == "evaluate":
            positive(args.num_samples, "--num-samples")
            positive(args.ais_steps, "--ais-steps")
        else:
            integers(args.ks, "--ks")
            integers(args.ais_steps, "--ais-steps")
        chain_options(args)
        estimator_values(args)
    elif command == "bdmc":
        positive(args.num_points, "--num-points")
        integers(args.schedules, "--schedules")
        seed(args.seed)
        chain_options(args)
    elif command == "sample":
        positive(args.num, "-n")
        seed(args.seed)
    elif command == "plot":
        family("figure kind").check(args.kind)
        seed(args.seed)
    run_dir = args.resume if command == "train" else getattr(args, "run_dir", None)
    if run_dir is not None:  # the run must be there before anything is imported to read it
        read_document(run_dir)


def unrecognized(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> NoReturn:
    """Report unknown options against the subcommand's own options, with a close match.

    Example:
        >>> unrecognized(build_parser(), ["train", "--latent"])  # doctest: +SKIP
        pyro-vae train: error: unrecognized arguments: --latent; did you mean --latent-dim? ...
    """
    args, extras = parser.parse_known_args(argv)
    sub = _subparser(parser, args.command)
    known = [o for action in sub._actions for o in action.option_strings if o.startswith("--")]
    hints = []
    for extra in extras:
        name = extra.split("=", 1)[0].replace("_", "-")
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.75) if name[:1] == "-" else []
        hints += close
    did_you_mean = f"; did you mean {', '.join(hints)}?" if hints else ""
    sub.error(f"unrecognized arguments: {' '.join(extras)}{did_you_mean}")


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[command]
    raise LookupError(command)  # pragma: no cover - the parser always has subcommands
