"""The ``pyro-vae`` command: a thin layer over the Python API.

Subcommands: ``train``, ``evaluate``, ``compare-estimators``, ``bdmc``, ``sample``, ``plot``,
``export`` and ``presets`` (their options: :mod:`pyro_vae.cli.arguments`). Settings pass through
:meth:`pyro_vae.Config.from_dict`, the same validation the Python API uses; any
:class:`~pyro_vae.errors.InputError` becomes one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pyro_vae.cli.arguments import (
    EXIT_INPUT_ERROR,
    build_parser,
    chain_options,
    check_values,
    config_overrides,
    estimator_values,
    integers,
    new_run_config,
    positive,
    seed,
    unrecognized,
)
from pyro_vae.cli.processes import run_processes, without_processes
from pyro_vae.cli.top import reports
from pyro_vae.errors import InputError, command_line
from pyro_vae.storage.lifecycle import holds_run
from pyro_vae.storage.rundir import figure_path, load_run, read_config

__all__ = ["EXIT_INPUT_ERROR", "main"]


def _cmd_train(args: argparse.Namespace) -> int:
    from pyro_vae.running.training import train

    config = new_run_config(args)
    if config is None:  # --resume
        overrides = config_overrides(args)
        stored, _ = read_config(Path(args.resume))
        config = stored.replace(**overrides) if overrides else None
        run_dir = Path(args.resume)
    else:
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
        device=args.device,
        tensorboard=args.tensorboard,
    )
    if result.interrupted or result.rank:  # rank 0 alone reports
        return result.exit_status
    if args.quiet:
        print(f"test ELBO {result.test_elbo:.3f} nats per datapoint; run saved in {run_dir}")
    elif result.figures:
        print(f"figures: {', '.join(p.name for p in result.figures)}")
    return 0


def _estimator_options(args: argparse.Namespace) -> dict[str, Any]:
    """Check the options shared by evaluate and compare-estimators; load the run."""
    import torch

    options = {
        **estimator_values(args),
        "dtype": torch.float64 if args.float64 else torch.float32,
        "progress": reports(),  # a bar on a terminal, else a line a minute
        "data": _data_options(args),
    }
    options["run"] = load_run(Path(args.run_dir), device=args.device, weights=args.weights)
    options["device"] = args.device
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


_PROPOSAL_LABEL = {
    "guide": "guide (importance sampling)",
    "guide-drawn": "guide, discrete latents drawn",
    "prior": "prior (naive Monte Carlo)",
}


def _label(name: str, summary: dict[str, Any]) -> str:
    if name != "ais":
        return _PROPOSAL_LABEL[name]
    return (
        f"AIS from the {summary['start']} (T = {summary['num_steps']}, "
        f"{summary['num_samples']} chains, acceptance {summary['acceptance']:.2f})"
    )


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from pyro_vae.running.evaluation import evaluate_run

    num_samples = positive(args.num_samples, "--num-samples")
    ais = {"num_steps": positive(args.ais_steps, "--ais-steps"), **chain_options(args)}
    options = _estimator_options(args)
    result = evaluate_run(num_samples=num_samples, ais=ais, compile=args.compile, **options)
    if not reports():
        return 0
    evaluation, elbo = result.evaluation, result.elbo

    threshold = next(iter(evaluation.results.values())).khat_threshold
    rows, nlls = [], []  # nlls: each row's NLL in nats, for bits per dimension
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
        nlls.append(summary["nll"])
    if evaluation.exact is not None:
        exact_nll = -float(evaluation.exact.mean())
        rows.append(["exact (closed form)", _num(exact_nll), "0", "-", "-", "-", "-"])
        nlls.append(exact_nll)
    baseline = result.summary.get("baseline")
    if baseline:  # a CVAE's deterministic baseline: no latent, so its value is exact
        nll, se = _num(baseline["nll"]), _num(baseline["data_standard_error"], 2)
        rows.append(["baseline network (exact)", nll, "0", se, "-", "-", "-"])
        nlls.append(baseline["nll"])
    headers = ["proposal", "NLL", "MC se", "data se", "-ELBO", "mean ESS"]
    bpd = result.summary.get("bits_per_dim")
    if bpd:  # discrete (or dequantized) pixels: the NLL in bits per dimension too
        per_nat = 1.0 / (bpd["dims"] * math.log(2))
        headers.insert(2, "bits/dim" + (" (bound)" if bpd.get("bound") else ""))
        for row, nll_nats in zip(rows, nlls, strict=True):
            row.insert(2, _num(nll_nats * per_nat + bpd.get("offset", 0.0), 4))
    condition = result.summary.get("condition")
    what = f"log P(Y|X) (condition {condition})" if condition else "log P(X)"
    print(
        f"test {what} of {args.run_dir}: {evaluation.num_points} points, "
        f"K = {num_samples} samples each (seed {options['seed']})"
        + (" for importance sampling" if "ais" in evaluation.results else "")
    )
    khat = f"% k-hat>{threshold:.2f}" if threshold > 0 else "% k-hat (K too small to fit)"
    print(_table([*headers, khat], rows))
    print(
        f"single-sample test ELBO {elbo['elbo']:.3f} (reconstruction {elbo['reconstruction']:.3f}, "
        f"KL {elbo['kl']:.3f})"
        + (f", {bpd['elbo']:.4f} bits/dim" if bpd else "")
        + f"; written to {result.path}"
    )
    classes = result.summary.get("classes")
    if classes:
        print(
            f"classes of {classes['num_labelled']} labelled test points: error of Q(y|x) "
            f"{100 * classes['classifier_error']:.2f} %, of the model's Bayes classifier "
            f"argmax_y P(y) P(x|y) {100 * classes['bayes_error']:.2f} %; "
            f"mean log P(x, y) {classes['log_p_x_y']:.3f}"
        )
    if result.kept:
        print(
            f"{result.path} keeps the earlier {', '.join(result.kept)} estimates of these points "
            "beside these"
        )
    for line in result.summary["warnings"]:
        print(f"warning: {line}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from pyro_vae.running.evaluation import compare_run

    ks = integers(args.ks, "--ks")
    ais = {"num_steps": integers(args.ais_steps, "--ais-steps"), **chain_options(args)}
    output = Path(args.output) if args.output else None
    if output is not None:
        _check_output(output, ".csv")
    options = _estimator_options(args)
    comparison = compare_run(ks=ks, ais=ais, output=output, **options)
    if not reports():
        return 0
    rows = comparison.rows
    exact = rows[0].get("exact_log_likelihood")
    table = [
        [
            str(r["num_samples"]) + (" chains" if r["proposal"] == "ais" else ""),
            r["proposal"],
            str(r["num_steps"]) if r["proposal"] == "ais" else "-",
            _num(r["log_likelihood"]),
            _num(r["mc_standard_error"], 3) + (" !" if r["reliable"] == 0 else ""),
            _num(r["mean_ess"], 1),
            _num(100 * r["bad_khat_share"], 1),
            _num(r["log_likelihood"] - exact, 3) if exact is not None else "-",
            _num(r["seconds"], 1),
        ]
        for r in rows
    ]
    print(f"mean test log P(X) of {args.run_dir} on {comparison.num_points} points against K")
    headers = ["K", "proposal", "T", "log P(X)", "MC se", "mean ESS", "% bad k-hat", "- exact"]
    if "bits_per_dim" in rows[0]:  # discrete pixels: the NLL in bits per dimension too
        headers.insert(4, "bits/dim")
        for line, r in zip(table, rows, strict=True):
            line.insert(4, _num(r["bits_per_dim"], 4))
    print(_table([*headers, "seconds"], table))
    if exact is not None:
        print(f"exact mean log P(X) = {exact:.3f}")
    if any(r["reliable"] == 0 for r in rows):
        print(
            "warning: in the rows marked !, over 5% of the points have k-hat above the threshold "
            "(or K is too small to fit one): their log P(X) may be too low and their MC se "
            "understates the error; pyro-vae evaluate says what to do for one K"
        )
    print(f"written to {comparison.path}")
    return 0


def _cmd_bdmc(args: argparse.Namespace) -> int:
    from pyro_vae.running.evaluation import bdmc_run

    options = {
        "num_points": positive(args.num_points, "--num-points"),
        "schedules": integers(args.schedules, "--schedules"),
        "seed": seed(args.seed),
        "overwrite": args.overwrite,
        "progress": reports(),  # a bar on a terminal, else a line a minute
        **chain_options(args),
    }
    run = load_run(Path(args.run_dir), device=args.device, weights=args.weights)
    rows = bdmc_run(run, device=args.device, **options)
    if not reports():
        return 0
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

    from pyro_vae.plots.figures import samples_figure
    from pyro_vae.plots.kinds import save_figure

    num = positive(args.num, "-n")
    random_seed = seed(args.seed)
    output = Path(args.output) if args.output else None
    if output is not None:
        _check_output(output, ".png")
    run = load_run(Path(args.run_dir), device=args.device, weights=args.weights)
    if run.data.image_shape is None:
        raise InputError(f"the data of {args.run_dir} are not images: there is nothing to draw")
    output = output or figure_path(run.path, "samples")
    torch.manual_seed(random_seed)
    save_figure(samples_figure(run.vae, num, run.data.image_shape), output)
    print(f"wrote {num} samples to {output}")
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from pyro_vae.plots.kinds import PLOT_KINDS, FigureSource, draw_figure, save_figure

    kind = PLOT_KINDS.check(args.kind)
    random_seed = seed(args.seed)
    output = Path(args.output) if args.output else None
    if output is not None:
        _check_output(output, ".png")
    run = load_run(Path(args.run_dir), device=args.device, weights=args.weights)

    def load_test() -> Any:
        splits = run.load_data(**_data_options(args))
        return splits.test, splits.y_test

    figure = draw_figure(kind, FigureSource(run, load_test), random_seed)
    output = output or figure_path(run.path, kind)
    save_figure(figure, output)
    print(f"wrote the {kind} figure of {args.run_dir} to {output}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from pyro_vae.storage.export import export_run

    done = export_run(args.run_dir, args.destination, weights=args.weights)
    print(
        f"exported {args.run_dir} to {done.path} ({done.weights} weights): "
        f"{', '.join(done.files)}; {done.size / 1e6:.1f} MB"
    )
    for left_out in done.left_out:
        print(f"  left out {left_out}")
    return 0


def _cmd_presets(args: argparse.Namespace) -> int:
    from pyro_vae.presets import PRESETS, preset_settings

    if args.name is None:
        for entry in PRESETS.entries():
            print(
                f"{entry.name:14} {entry.summary}\n{'':14} reproduces: {entry.traits['reproduces']}"
            )
        print("train one: pyro-vae train --preset NAME --data-dir DIR [options that override it]")
        return 0
    for key, value in preset_settings(args.name).items():  # TOML, as --config reads it
        text = json.dumps(list(value) if isinstance(value, tuple) else value)
        print(f"{key} = {text}")
    return 0


_COMMANDS = {
    "train": _cmd_train,
    "evaluate": _cmd_evaluate,
    "compare-estimators": _cmd_compare,
    "bdmc": _cmd_bdmc,
    "sample": _cmd_sample,
    "plot": _cmd_plot,
    "export": _cmd_export,
    "presets": _cmd_presets,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``pyro-vae`` command line; return the exit status.

    Example:
        >>> main(["train", "--epochs", "0"])
        2
    """
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:
        unrecognized(parser, argv)
    given = list(sys.argv[1:] if argv is None else argv)
    args.given = {a.split("=")[0] for a in given}
    try:
        with command_line():
            if getattr(args, "processes", None) is None:
                return _COMMANDS[args.command](args)
            check_values(args)  # before any process starts
            return run_processes(without_processes(given), int(args.processes))
    except InputError as exc:
        if reports():  # under torchrun, every process finds the same problem: rank 0 says it
            print(f"pyro-vae {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except FloatingPointError as exc:
        print(f"pyro-vae {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:  # Ctrl-C outside a training loop (which saves, returns 130)
        print(f"pyro-vae {args.command}: {str(exc) or _interrupted(args)}", file=sys.stderr)
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
