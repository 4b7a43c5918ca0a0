"""The ``pyro-vae`` command: a thin layer over the Python API.

Subcommands: ``train``, ``evaluate``, ``compare-estimators``, ``sample``, ``plot``. Settings
pass through :meth:`pyro_vae.Config.from_dict`, the same validation the Python API uses; any
:class:`~pyro_vae.errors.InputError` becomes one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import math
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from pyro_vae.config import RESUMABLE_OPTIONS, Config, load_config_file
from pyro_vae.errors import InputError, command_line
from pyro_vae.registry import family
from pyro_vae.rundir import figure_path, holds_run, load_run, read_config

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


def _config_overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(Config)
        if getattr(args, f.name) is not None
    }


def _build_parser() -> argparse.ArgumentParser:
    from pyro_vae._version import __version__

    parser = _Parser(prog="pyro-vae", description="Variational autoencoders as Pyro programs.")
    parser.add_argument("--version", action="version", version=f"pyro-vae {__version__}")
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
    _add_config_options(p_train)

    p_eval = sub.add_parser(
        "evaluate",
        help="estimate the test-set log P(X) of a trained run (importance sampling / naive)",
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
        "--proposal",
        default="guide",
        help="guide (importance sampling), prior (naive Monte Carlo), ais (annealed importance "
        "sampling), both (guide and prior) or all three (default: guide)",
    )
    ais = p_eval.add_argument_group("annealed importance sampling (--proposal ais or all)")
    ais.add_argument(
        "--ais-steps",
        default="1000",
        metavar="T",
        help="intermediate distributions (default: 1000)",
    )
    _add_chain_options(ais)

    p_cmp = sub.add_parser(
        "compare-estimators",
        help="both log P(X) estimators against K, as a table and a CSV",
        description="Run the importance-sampling and the naive estimator for each K and print "
        "their mean test log P(X) with standard errors (and the exact value for a "
        "linear-gaussian run). Writes the table into the run directory (or -o).",
    )
    _add_estimator_options(p_cmp)
    p_cmp.add_argument(
        "--ks",
        default="1,10,100,1000,5000",
        help="comma-separated sample counts K (default: 1,10,100,1000,5000)",
    )
    p_cmp.add_argument("--proposal", default="both", help="guide, prior or both (default: both)")
    p_cmp.add_argument("-o", "--output", metavar="FILE.csv", help="CSV file (default: in RUN_DIR)")
    for p in (p_eval, p_cmp):
        p.add_argument(
            "--overwrite", action="store_true", help="replace an earlier result of this command"
        )

    p_bdmc = sub.add_parser(
        "bdmc",
        help="bound log P(X) of simulated data from both sides with AIS (BDMC)",
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

    p_sample = sub.add_parser("sample", help="draw images from a trained model into a PNG grid")
    p_sample.add_argument("run_dir", metavar="RUN_DIR")
    p_sample.add_argument("-n", "--num", default="64", help="number of samples (default: 64)")
    p_sample.add_argument(
        "-o", "--output", metavar="FILE.png", help="PNG file (default: RUN_DIR/samples.png)"
    )
    p_sample.add_argument("--seed", default="0", help="random seed (default: 0)")

    from pyro_vae.plot_kinds import PLOT_KINDS

    kinds = "; ".join(f"{e.name}: {e.summary}" for e in PLOT_KINDS.entries())
    p_plot = sub.add_parser(
        "plot",
        help="draw one figure of a run into a PNG file",
        description=f"Draw one figure of a trained run. Kinds: {kinds}.",
    )
    p_plot.add_argument("run_dir", metavar="RUN_DIR")
    p_plot.add_argument("--kind", required=True, help=f"one of {', '.join(PLOT_KINDS.names())}")
    p_plot.add_argument("-o", "--output", metavar="FILE.png", help="default: RUN_DIR/KIND.png")
    p_plot.add_argument("--seed", default="0", help="random seed (default: 0)")
    p_plot.add_argument("--dataset", help="draw test images of another data set of that size")
    p_plot.add_argument("--data-dir", help="where the run's data set lives now")
    p_plot.add_argument("--data-file", help="where the run's .npz file lives now")
    return parser


def _add_chain_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """The AIS chains' options, shared by evaluate and bdmc."""
    parser.add_argument("--ais-chains", default="16", help="chains per point (default: 16)")
    parser.add_argument(
        "--leapfrog-steps", default="10", help="leapfrog steps per HMC transition (default: 10)"
    )
    parser.add_argument(
        "--ais-start", default="guide", help="start the chains from the guide or the prior"
    )


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
        help="test points per pass; memory grows with it, not with K (default: 100)",
    )
    parser.add_argument(
        "--float64", action="store_true", help="evaluate in double precision (slower)"
    )


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
    from pyro_vae.training import train

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
    args.run_dir_used = run_dir  # for the message after a Ctrl-C (see _interrupted)
    result = train(
        config,
        run_dir,
        resume=bool(args.resume),
        overwrite=args.overwrite,
        progress=None if not args.quiet else False,
        verbose=not args.quiet,
        figures=not args.no_plots,
    )
    if result.interrupted:
        return result.exit_status
    if args.quiet:
        print(f"test ELBO {result.test_elbo:.3f} nats per datapoint; run saved in {run_dir}")
    elif result.figures:
        print(f"figures: {', '.join(p.name for p in result.figures)}")
    return 0


def _proposals(value: str, ais: bool = False) -> tuple[str, ...]:
    choices = {"guide": ("guide",), "prior": ("prior",), "both": ("guide", "prior")}
    if ais:
        choices.update({"ais": ("ais",), "all": ("guide", "prior", "ais")})
    if value not in choices:
        raise InputError(
            f"unknown proposal {value!r}: choose one of {', '.join(choices)} (option --proposal)"
        )
    return choices[value]


def _ais_start(value: str) -> str:
    if value not in ("guide", "prior"):
        raise InputError(f"unknown AIS start {value!r}: choose guide or prior (option --ais-start)")
    return value


def _chain_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "num_chains": _positive(args.ais_chains, "--ais-chains"),
        "leapfrog_steps": _positive(args.leapfrog_steps, "--leapfrog-steps"),
        "start": _ais_start(args.ais_start),
    }


def _ais_options(args: argparse.Namespace) -> dict[str, Any]:
    return {"num_steps": _positive(args.ais_steps, "--ais-steps"), **_chain_options(args)}


def _integer(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InputError(f"{name} must be an integer, got {value!r}: pass e.g. {name} 0") from None


def _estimator_options(args: argparse.Namespace) -> dict[str, Any]:
    """Check the options shared by evaluate and compare-estimators; load the run."""
    import torch

    options = {
        "proposals": _proposals(args.proposal, ais=args.command == "evaluate"),
        "seed": _integer(args.seed, "--seed"),
        "batch_size": _positive(args.batch_size, "--batch-size"),
        "dtype": torch.float64 if args.float64 else torch.float32,
        "progress": sys.stderr.isatty(),
        "limit": _positive(args.limit, "--limit") if args.limit is not None else None,
        "data": _data_options(args),
        "overwrite": args.overwrite,
    }
    options["run"] = load_run(Path(args.run_dir))
    return options


def _data_options(args: argparse.Namespace) -> dict[str, str]:
    return {k: getattr(args, k) for k in ("dataset", "data_dir", "data_file") if getattr(args, k)}


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def fmt(line: Sequence[str]) -> str:
        cells = [line[0].ljust(widths[0])]
        cells += [cell.rjust(w) for cell, w in zip(line[1:], widths[1:], strict=True)]
        return "  ".join(cells)

    return "\n".join(fmt(line) for line in [headers, *rows])


def _num(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}" if math.isfinite(value) else "-"


_PROPOSAL_LABEL = {"guide": "guide (importance sampling)", "prior": "prior (naive Monte Carlo)"}


def _label(name: str, summary: dict[str, Any]) -> str:
    if name != "ais":
        return _PROPOSAL_LABEL[name]
    return (
        f"AIS from the {summary['start']} (T = {summary['num_steps']}, "
        f"{summary['num_samples']} chains, acceptance {summary['acceptance']:.2f})"
    )


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from pyro_vae.evaluation import evaluate_run

    num_samples = _positive(args.num_samples, "--num-samples")
    ais = _ais_options(args)
    options = _estimator_options(args)
    result = evaluate_run(num_samples=num_samples, ais=ais, **options)
    evaluation, elbo = result.evaluation, result.elbo

    threshold = next(iter(evaluation.results.values())).khat_threshold
    rows = []
    for name, res in evaluation.results.items():
        summary = res.summary()
        rows.append(
            [
                _label(name, summary),
                _num(summary["nll"]),
                _num(summary["mc_standard_error"], 3)
                + (" !" if summary["reliable"] is False else ""),
                _num(summary["data_standard_error"], 2),
                _num(-summary["elbo"]),
                _num(summary["mean_ess"], 1),
                _num(100 * summary["bad_khat_share"], 1),
            ]
        )
    if evaluation.exact is not None:
        exact_nll = -float(evaluation.exact.mean())
        rows.append(["exact (closed form)", _num(exact_nll), "0", "-", "-", "-", "-"])
    print(
        f"test log P(X) of {args.run_dir}: {evaluation.num_points} points, "
        f"K = {num_samples} samples each (seed {options['seed']})"
        + (" for importance sampling" if "ais" in evaluation.results else "")
    )
    headers = ["proposal", "NLL", "MC se", "data se", "-ELBO", "mean ESS"]
    print(_table([*headers, f"% k-hat>{threshold:.2f}"], rows))
    print(
        f"single-sample test ELBO {elbo['elbo']:.3f} (reconstruction {elbo['reconstruction']:.3f}, "
        f"KL {elbo['kl']:.3f}); written to {result.path}"
    )
    for line in result.summary["warnings"]:
        print(f"warning: {line}")
    return 0


def _ks(value: str, option: str = "--ks") -> list[int]:
    try:
        ks = [int(k) for k in value.split(",")]
    except ValueError:
        ks = []
    if not ks or min(ks) < 1:
        raise InputError(
            f"{option} must be positive integers separated by commas, got {value!r}: "
            f"pass e.g. {option} 1,10,100,1000"
        )
    return sorted(set(ks))


def _cmd_compare(args: argparse.Namespace) -> int:
    from pyro_vae.evaluation import compare_run

    ks = _ks(args.ks)
    output = Path(args.output) if args.output else None
    if output is not None:
        _check_output(output, ".csv")
    options = _estimator_options(args)
    comparison = compare_run(ks=ks, output=output, **options)
    rows = comparison.rows
    exact = rows[0].get("exact_log_likelihood")
    table = [
        [
            str(r["num_samples"]),
            r["proposal"],
            _num(r["log_likelihood"]),
            _num(r["mc_standard_error"], 3) + ("" if r["reliable"] else " !"),
            _num(r["mean_ess"], 1),
            _num(100 * r["bad_khat_share"], 1),
            _num(r["log_likelihood"] - exact, 3) if exact is not None else "-",
        ]
        for r in rows
    ]
    print(f"mean test log P(X) of {args.run_dir} on {comparison.num_points} points against K")
    headers = ["K", "proposal", "log P(X)", "MC se", "mean ESS", "% bad k-hat", "- exact"]
    print(_table(headers, table))
    if exact is not None:
        print(f"exact mean log P(X) = {exact:.3f}")
    if not all(r["reliable"] for r in rows):
        print(
            "warning: in the rows marked !, over 5% of the points have k-hat above the threshold "
            "(or K is too small to fit one): their log P(X) may be too low and their MC se "
            "understates the error; pyro-vae evaluate says what to do for one K"
        )
    print(f"written to {comparison.path}")
    return 0


def _cmd_bdmc(args: argparse.Namespace) -> int:
    from pyro_vae.bdmc import bdmc_run

    options = {
        "num_points": _positive(args.num_points, "--num-points"),
        "schedules": _ks(args.schedules, "--schedules"),
        "seed": _integer(args.seed, "--seed"),
        "overwrite": args.overwrite,
        "progress": sys.stderr.isatty(),
        **_chain_options(args),
    }
    run = load_run(Path(args.run_dir))
    rows = bdmc_run(run, **options)
    table = [
        [
            str(r["num_steps"]),
            _num(r["lower"]),
            _num(r["upper"]),
            _num(r["gap"], 3),
            _num(r["seconds"], 1),
        ]
        for r in rows
    ]
    print(
        f"BDMC on {options['num_points']} points simulated from {args.run_dir} "
        f"({options['num_chains']} chains from the {options['start']})"
    )
    print(_table(["T", "lower (forward)", "upper (reverse)", "gap", "seconds"], table))
    print(f"written to {run.path}")
    return 0


def _check_output(output: Path, suffix: str) -> None:
    if output.suffix.lower() != suffix:
        raise InputError(f"output {output} must end in {suffix}: pass e.g. -o result{suffix}")
    if not output.parent.is_dir():
        raise InputError(f"folder {output.parent} does not exist: create it or choose another -o")


def _cmd_sample(args: argparse.Namespace) -> int:
    import torch

    from pyro_vae.plot_kinds import save_figure
    from pyro_vae.plots import samples_figure

    num = _positive(args.num, "-n")
    seed = _integer(args.seed, "--seed")
    output = Path(args.output) if args.output else None
    if output is not None:
        _check_output(output, ".png")
    run = load_run(Path(args.run_dir))
    if run.data.image_shape is None:
        raise InputError(f"the data of {args.run_dir} are not images: there is nothing to draw")
    output = output or figure_path(run.path, "samples")
    torch.manual_seed(seed)
    save_figure(samples_figure(run.vae, num, run.data.image_shape), output)
    print(f"wrote {num} samples to {output}")
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from pyro_vae.evaluation import run_test_data
    from pyro_vae.plot_kinds import PLOT_KINDS, FigureSource, draw_figure, save_figure

    kind = PLOT_KINDS.check(args.kind)
    seed = _integer(args.seed, "--seed")
    output = Path(args.output) if args.output else None
    if output is not None:
        _check_output(output, ".png")
    run = load_run(Path(args.run_dir))

    def load_test() -> Any:
        splits = run_test_data(run, **_data_options(args))
        return splits.test, splits.y_test

    figure = draw_figure(kind, FigureSource(run, load_test), seed)
    output = output or figure_path(run.path, kind)
    save_figure(figure, output)
    print(f"wrote the {kind} figure of {args.run_dir} to {output}")
    return 0


_COMMANDS = {
    "train": _cmd_train,
    "evaluate": _cmd_evaluate,
    "compare-estimators": _cmd_compare,
    "bdmc": _cmd_bdmc,
    "sample": _cmd_sample,
    "plot": _cmd_plot,
}


def _unrecognized(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> NoReturn:
    """Report unknown options against the subcommand's own options, with a close match."""
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``pyro-vae`` command line; return the exit status.

    Example:
        >>> main(["train", "--epochs", "0"])
        2
    """
    parser = _build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:
        _unrecognized(parser, argv)
    try:
        with command_line():
            return _COMMANDS[args.command](args)
    except InputError as exc:
        print(f"pyro-vae {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except FloatingPointError as exc:
        print(f"pyro-vae {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C outside a training loop (which saves and returns 130)
        print(f"pyro-vae {args.command}: {_interrupted(args)}", file=sys.stderr)
        return 128 + signal.SIGINT


def _interrupted(args: argparse.Namespace) -> str:
    """What a Ctrl-C outside a training loop leaves, and what to do next."""
    if args.command != "train":
        return "interrupted; files written so far are whole"
    run_dir = getattr(args, "run_dir_used", None)
    if run_dir is not None and holds_run(run_dir):
        return f"interrupted; the run in {run_dir} is saved: continue with --resume {run_dir}"
    return "interrupted before the run was saved: nothing to resume; start it again"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
