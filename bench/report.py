"""Render BENCHMARKS.md, and the README's results blocks, from ``bench/results/*.json``.

Usage:
    python bench/report.py          # rewrites BENCHMARKS.md and README.md's results blocks

Nothing here measures anything: each section reads the file its benchmark wrote, with the
command, machine and date of that run.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def _threads(n: int) -> str:
    return f"{n} torch thread{'s' if n != 1 else ''}"


def _machine(record: dict[str, Any]) -> str:
    m = record["machine"]
    threads = _threads(m["torch_threads"])
    commit = f", pyro_vae at commit {m['commit']}" if m.get("commit") else ""
    return (
        f"Measured on {m['date']}: {m['cpu']}, {m['cores']} cores ({threads}), "
        f"Python {m['python']}, torch {m['torch']}, pyro-ppl {m['pyro']}{commit}.\n\n"
        f"Command: `{record['command']}`"
    )


def _table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _profile(r: dict[str, Any]) -> str:
    if "profile" not in r:
        return ""
    rows = [[f"`{p['op']}`", f"{100 * p['share']:.1f}", str(p["calls"])] for p in r["profile"]]
    table = _table(["operator", "% of operator time", "calls"], rows)
    return (
        "Where the time goes inside `log_likelihood` (torch.profiler, guide proposal, one pass "
        "of 100 images with K = 1000): `addmm` and `tanh` are the decoder's own work; "
        "`softplus` is the Bernoulli log-density, one transcendental function per pixel and "
        "sample, which no amount of batching removes; the rest is sampling, the guide's and "
        "prior's log-densities and the streaming sums.\n\n"
        f"{table}\n\n"
    )


def _eval_speed(r: dict[str, Any]) -> str:
    g = r["gflops"]
    s = r["seconds_median"]
    speed = _table(
        ["pass", "median seconds", "decoder GFLOP/s", "ratio to bare"],
        [
            [
                "bare decoder forward, same chunk shapes",
                f"{s['bare']:.2f}",
                f"{g['bare']:.1f}",
                "1",
            ],
            [
                "`log_likelihood`, guide proposal",
                f"{s['guide']:.2f}",
                f"{g['guide']:.1f}",
                f"**{r['ratio_guide']:.2f}**",
            ],
            [
                "`log_likelihood`, prior proposal",
                f"{s['prior']:.2f}",
                f"{g['prior']:.1f}",
                f"**{r['ratio_prior']:.2f}**",
            ],
        ],
    )
    memory = _table(
        ["test points N", "K", "peak RSS (MiB)", "growth during the evaluation (MiB)"],
        [
            [
                str(m["num_points"]),
                str(m["num_samples"]),
                f"{m['peak_mib']:.0f}",
                f"{m['growth_mib']:.0f}",
            ]
            for m in r["memory"]
        ],
    )
    compiled = ""
    if "compiled" in r:
        c = r["compiled"]
        compiled = (
            "Importance sampling with its weights compiled by `torch.compile` "
            "(`evaluate --compile torch`, and `auto` from 5,000,000 weights: "
            "`pyro_vae/estimate/compiled_weights.py`) against the same estimator uncompiled, on "
            "the same points and seeds, alternating; medians of the rounds. *One point per "
            "pass* is how `evaluate` draws (every point from its own stream, all its K samples "
            "at once); compile seconds with an empty inductor cache. **Target: at least 1.3x "
            f"faster: {c['per_point']['speedup']:.2f}x one point per pass, "
            f"{c['batched']['speedup']:.2f}x {r['batch_size']} per pass.**\n\n"
            + _table(
                [
                    "points per pass",
                    "points",
                    "seconds, uncompiled",
                    "seconds, compiled",
                    "speed-up (median)",
                    "range over rounds",
                    "compile s (graphs)",
                    "estimates differ by at most (nats)",
                ],
                [
                    [
                        str(row["points_per_pass"]),
                        str(row["points"]),
                        f"{row['seconds_eager']:.2f}",
                        f"{row['seconds_compiled']:.2f}",
                        f"**{row['speedup']:.2f}**",
                        f"{row['speedup_min']:.2f} - {row['speedup_max']:.2f}",
                        f"{row['compile_seconds']:.0f} ({row['graphs']})",
                        f"{row['max_abs_difference_nats']:.1e}",
                    ]
                    for row in (c["per_point"], c["batched"])
                ],
            )
            + "\n\nThe compiled graph runs the decoder's last layer, the Bernoulli "
            "log-density and the sum over pixels as fused loops, and Pyro traces the programs "
            "once per chunk shape instead of once per chunk.\n\n"
        )
    return (
        "## Evaluation speed (`bench/eval_speed.py`)\n\n"
        "Decoder GFLOP/s achieved inside `log_likelihood` (decoder FLOPs of all N x K samples "
        "divided by the whole estimator's time) against a bare forward pass of the same decoder "
        "on the same chunk shapes, alternated in one process; medians of "
        f"{r['rounds']} rounds. Default 784-200-200-50 architecture, N = {r['num_points']} "
        f"points, K = {r['num_samples']}, {r['batch_size']} points per pass "
        f"({r['decoder_gflop']:.0f} decoder GFLOP per pass). Target: ratio at least 0.7.\n\n"
        f"{speed}\n\n{compiled}{_profile(r)}Peak memory of one evaluation in a fresh process "
        f"(it must not grow with K or N):\n\n{memory}\n\n{_machine(r)}\n"
    )


def _estimator_gap(r: dict[str, Any]) -> str:
    ev = r["evaluation"]
    rows = []
    labels = {"guide": "guide (importance sampling)", "prior": "prior (naive Monte Carlo)"}
    for name, p in ev["proposals"].items():
        rows.append(
            [
                labels[name],
                f"{p['nll']:.2f}",
                f"{p['mc_standard_error']:.3f}",
                f"{p['data_standard_error']:.2f}",
                f"{-p['elbo']:.2f}",
                f"{p['mean_ess']:.1f}",
                f"{100 * p['bad_khat_share']:.1f}",
            ]
        )
    table = _table(
        [
            "proposal",
            "test NLL (nats)",
            "MC se",
            "data se",
            "-ELBO",
            "mean ESS",
            f"% k-hat > {ev['proposals']['guide']['khat_threshold']:.2f}",
        ],
        rows,
    )
    return (
        "## Naive Monte Carlo against importance sampling on MNIST "
        "(`bench/mnist_estimator_gap.py`)\n\n"
        "A VAE trained with the default settings (50 epochs), evaluated on all "
        f"{ev['num_points']} test images with K = "
        f"{ev['num_samples']} samples per image by `{r['evaluate_command']}`. The naive "
        f"estimator's test log-likelihood is **{r['gap_nats']:.1f} nats** below the "
        "importance-sampling one: the prior almost never proposes a z that explains the image.\n\n"
        f"{table}\n\n"
        "MC se: Monte Carlo standard error of the mean (delta method per image); data se: "
        "spread over test images. The naive estimator's standard error is itself unreliable "
        "(ESS about 1, k-hat above the threshold): its small value measures nothing. Where "
        "the guide's k-hat is above the threshold too, the importance-sampling estimate has not "
        "converged either; since it is a lower bound in expectation, the true NLL can only be "
        "lower. For the estimator's speed see the evaluation speed section.\n\n"
        f"{_machine(r)}\n"
    )


def _components(r: dict[str, Any]) -> str:
    rows = []
    for row in r["rows"]:
        prior = row["prior"] + (
            f" ({row['prior_components']} pseudo-inputs)" if row["prior_components"] else ""
        )
        rows.append(
            [
                prior,
                row["guide"],
                str(row["epochs"]),
                f"{row['training_seconds']:.0f}",
                f"**{row['nll']:.2f}**",
                f"{row['mc_standard_error']:.3f}",
                f"{row['data_standard_error']:.2f}",
                f"{row['gain_vs_baseline']:+.2f} ± {row['gain_standard_error']:.2f}",
                f"{-row['elbo']:.2f}",
                f"{row['mean_ess']:.1f}",
                f"{100 * row['bad_khat_share']:.1f}",
            ]
        )
    table = _table(
        [
            "prior",
            "guide",
            "epochs",
            "training s",
            "test NLL",
            "MC se",
            "data se",
            "log P(X) gain vs first row (paired)",
            "-ELBO",
            "mean ESS",
            "% bad k-hat",
        ],
        rows,
    )
    return (
        "## Priors and guides at equal training time on MNIST (`bench/mnist_components.py`)\n\n"
        f"Each model trained for a budget of {r['time_budget']:.0f} s (training stops after the "
        "epoch in which the budget runs out), "
        + (
            f"with a linear KL warm-up over the first {r['warmup_epochs']:g} epochs and "
            if r["warmup_epochs"]
            else "without KL warm-up, with "
        )
        + "the default architecture and settings otherwise; test NLL by "
        f"importance sampling with K = {r['num_samples']} on the first {r['num_points']} test "
        "images (the same for every row). The gain column is the mean per-image difference in "
        "log P(X) to the first row, with its standard error over images. At this budget no "
        "model has converged: the epochs column shows what each part costs per step (the "
        "VampPrior encodes every pseudo-input at every step, the IAF adds its autoregressive "
        "networks), and rank at equal time can differ from rank at convergence.\n\n"
        f"{table}\n\n{_machine(r)}\n"
    )


_OBJECTIVE_NAMES = {
    "elbo": "Trace_ELBO",
    "analytic-kl": "TraceMeanField_ELBO",
    "iwae": "IWAE (RenyiELBO, alpha = 0)",
}


def _profile_line(entries: list[dict[str, Any]]) -> str:
    return ", ".join(f"`{e['op']}` {100 * e['share']:.0f}%" for e in entries[:5])


def _speed_row(row: dict[str, Any]) -> str:
    name = _OBJECTIVE_NAMES.get(row["objective"], row["objective"])
    return name + (", VampPrior" if row.get("prior", "standard-normal") == "vamp" else "")


def _train_speed(r: dict[str, Any]) -> str:
    rows = [
        [
            _speed_row(row),
            str(row["num_particles"]),
            f"{row['ms_per_step_torch']:.2f}",
            f"{row['ms_per_step_jit']:.2f}" if "ms_per_step_jit" in row else "-",
            f"{row['ms_per_step_ours']:.2f}",
            f"{row['ms_per_step_svi']:.2f}",
            f"{row['ms_per_step_bare']:.2f}",
            f"{row['ms_per_step_bare_compiled']:.2f}",
            f"**{row['ratio_torch']:.2f}**",
            f"{row['ratio_torch_min']:.2f} - {row['ratio_torch_max']:.2f}",
            f"**{row['ratio_torch_to_compiled_bare']:.2f}**",
            f"{row['ratio_jit']:.2f}" if "ratio_jit" in row else "-",
            f"{row['ratio']:.2f}",
            f"{row['ratio_svi']:.2f}",
            f"{row['compile_seconds_torch']:.0f} / {row['compile_seconds_bare']:.0f}",
            f"{row['relative_difference_of_objective']:.0e}",
        ]
        for row in r["rows"]
    ]
    table = _table(
        [
            "objective",
            "k",
            "ms per step: ours, torch.compile",
            "ours, Pyro's JIT",
            "ours, traced",
            "plain SVI",
            "bare PyTorch",
            "bare, torch.compile",
            "torch.compile / bare (median)",
            "range over rounds",
            "torch.compile / bare compiled",
            "JIT / bare",
            "traced / bare",
            "plain SVI / bare",
            "compile s, ours / bare",
            "objective values differ by",
        ],
        rows,
    )
    profiles = "\n".join(
        f"- {_speed_row(row)}: ours "
        f"{_profile_line(row['profile_ours'])}; bare {_profile_line(row['profile_bare'])}"
        for row in r["rows"]
        if "profile_ours" in row
    )
    parts = [row for row in r["rows"] if "python_profile_ours" in row]
    python = ""
    if parts:
        names = list(parts[0]["python_profile_ours"])
        python = _table(
            ["part of our step (cProfile, cumulative)"] + [_speed_row(row) for row in parts],
            [
                [name.replace("  of which", "… of which")]
                + [f"{100 * row['python_profile_ours'][name]:.0f}%" for row in parts]
                for name in names
            ],
        )
    first = r["rows"][0]
    others = [row for row in r["rows"][1:] if row["objective"] == "iwae" or row.get("prior")]
    beside = "; ".join(
        f"{_speed_row(row)} {row['ratio_torch']:.2f} against {row['ratio']:.2f} traced "
        f"({'met' if row['ratio_torch'] <= row['ratio'] else 'not met'})"
        for row in others
        if row["objective"] == "iwae" or row.get("prior") == "vamp"
    )
    verdicts = (
        f"**Targets for the default (Trace_ELBO): torch.compile / bare eager at most 0.85: "
        f"{first['ratio_torch']:.2f}, {'met' if first['ratio_torch'] <= 0.85 else 'not met'}; "
        f"torch.compile / bare compiled at most 1.05: {first['ratio_torch_to_compiled_bare']:.2f}"
        f", {'met' if first['ratio_torch_to_compiled_bare'] <= 1.05 else 'not met'}.** "
        f"IWAE and the VampPrior, torch.compile / bare against traced / bare: {beside}. "
        f"Compiling the default step took {first['compile_seconds_torch']:.0f} s with an empty "
        "inductor cache (two graphs in a training run: the full batch and the epoch's last, "
        "shorter one; inductor's cache makes later runs of the same shapes start faster)."
    )
    compiled = ""
    if "parts_jit" in first:
        ours, bare = first["parts_jit"], first["parts_bare"]
        compiled = (
            "The default step with Pyro's JIT beside the bare one, part by part "
            "(milliseconds per step under cProfile, which slows both a little; medians of 9 "
            "alternating rounds):\n\n"
            + _table(
                ["part", "ours, Pyro's JIT", "bare PyTorch", "difference"],
                [
                    [
                        part,
                        f"{ours[part]:.2f}",
                        f"{bare[part]:.2f}",
                        f"{ours[part] - bare[part]:+.2f}",
                    ]
                    for part in ours
                ]
                + [
                    [
                        "whole step",
                        f"{sum(ours.values()):.2f}",
                        f"{sum(bare.values()):.2f}",
                        f"{sum(ours.values()) - sum(bare.values()):+.2f}",
                    ]
                ],
            )
            + "\n\n"
        )
        excess = {part: ours[part] - bare[part] for part in ours}
        largest = max(excess, key=excess.__getitem__)
        compiled += (
            f"The largest part of the JIT step's excess over the bare one is the "
            f"{largest} ({excess[largest]:+.2f} ms per step). The compiled forward and backward "
            "run the graph Pyro's JIT recorded from model and guide, with Pyro looking up every "
            "parameter in its param store and entering its handlers on every call.\n\n"
        )
    adam = ""
    if "adam_ms_per_step" in r:
        times = r["adam_ms_per_step"]
        adam = (
            "Both sides step with torch's fused Adam (`objectives.make_optimizer`): on the "
            f"default model's parameters it takes {times['fused']:.2f} ms per step against "
            f"{times['default']:.2f} ms for torch's default Adam (measured in the same run), "
            "time that the trainer saves on every step. "
        )
    return (
        "## Training speed against bare PyTorch (`bench/train_speed.py`)\n\n"
        f"One step of the default model (784-200-200-50 tanh MLPs, Bernoulli pixels, Adam, "
        f"batch {r['batch_size']}) as `pyro_vae.train` takes it (loss and gradients of the "
        "objective, the check for non-finite values, one fused `torch.optim.Adam` over all "
        "parameters) in its three forms -- *torch.compile* (`--compile torch`, and `auto` for "
        "runs long enough to repay the compile time: model and guide captured once per batch "
        "shape through "
        "Pyro's own traces and compiled by inductor, `pyro_vae/running/compiled.py`), *Pyro's "
        "JIT* (`--compile jit`, and `auto` for shorter runs where Pyro has a JIT objective; "
        "`torch.jit.trace`, which torch deprecates) and *traced* (Pyro's tracing of model and "
        "guide at every step, `--compile off`) -- the textbook `SVI.step` with "
        "`pyro.optim.Adam`, and a hand-written PyTorch step on copies of the same networks "
        "computing the same objective, eager and compiled with `torch.compile` the same way "
        "(checked on the same weights and noise: last column). Alternating in one process, "
        f"{r['steps']} steps per side and round, {r['rounds']} rounds.\n\n"
        f"{verdicts}\n\n"
        f"{table}\n\n"
        "Reading: inductor fuses what eager PyTorch runs operator by operator -- the tanh and "
        "softplus chains, the Bernoulli log-density over every pixel, the Gaussian "
        "log-densities and the sums, in the backward pass too -- so a compiled step, ours or the "
        "bare one, beats the eager hand-written loop; ours runs the same graph as the bare "
        "compiled step up to the bookkeeping Pyro's traces add (the KL weight as an input, the "
        "plate's scale) and the non-finite check. Pyro's JIT replays a recorded graph without "
        "fusing it, and the traced step pays Pyro's Python work at every step. The bare "
        "VampPrior step writes the mixture the direct way (every z against every pseudo-input, "
        "a [batch, 500, 50] tensor); ours computes it with matrix products "
        "(`DiagonalGaussianMixture`), hence its ratios below 1 in every form. On this machine "
        "the rounds spread widely (the range column): compare the medians.\n\n"
        f"{compiled}"
        "Where the traced step's time goes, by Python-level part:\n\n"
        f"{python}\n\n"
        "and by operator (share of operator self time under `torch.profiler`):\n\n"
        f"{profiles}\n\n"
        "The operators are the same on both sides; what separates the traced step from the bare "
        "one is the Python work of tracing model and guide (the messenger stack, `pyro.module` "
        "registering every parameter in both programs, the traces' log-density bookkeeping). "
        "Both compiled forms draw the same noise as the traced step and agree with it to float "
        "rounding (`tests/running/test_training.py`, `tests/running/test_compiled.py`). "
        "The check for non-finite loss and gradients (one sum per gradient tensor, so that a "
        "NaN never reaches Adam) reads every gradient once per step. "
        f"{adam}"
        "Pyro's optimizer wrapper (one Adam per parameter tensor) was the other cost; the "
        "training loop does not use it (compare the plain SVI column).\n\n"
        f"{_machine(r)}\n"
    )


_ROW_NAMES = {"vae": ("VAE", "Trace_ELBO"), "iwae5": ("IWAE", "RenyiELBO, alpha = 0")}
_ROW_NAMES["iwae50"] = _ROW_NAMES["iwae5"]


def _row_name(row: dict[str, Any]) -> tuple[str, str]:
    if row["row"] in _ROW_NAMES:
        return _ROW_NAMES[row["row"]]
    settings = row.get("settings", {})
    parts = ["IWAE" if row["objective"] == "iwae" else "VAE"]
    if settings.get("model") == "hierarchical":
        parts[0] += ", two stochastic layers"
    if settings.get("prior") == "vamp":
        parts.append(f"VampPrior ({settings.get('prior_components', 500)})")
    if settings.get("lr_decay", 1.0) != 1.0:
        parts.append(f"lr x {settings['lr_decay']} per epoch")
    if settings.get("ema") is not None:
        parts.append(f"averaged weights (EMA {settings['ema']})")
    objective = _ROW_NAMES["iwae5"][1] if row["objective"] == "iwae" else "Trace_ELBO"
    return ", ".join(parts), objective


def _is_long(row: dict[str, Any]) -> bool:
    """Whether the row is one of mnist_nll's ``--best-budget`` rows (``best``, ``hbest``)."""
    return row["row"].endswith("best")


def _long_rows_note(rows: list[dict[str, Any]]) -> str:
    """What each long row reached against its target, and which rows were still improving."""
    reached = []
    for row in filter(_is_long, rows):
        line = (
            f"`{row['row']}` reached {row['nll']:.2f} nats after {row['epochs']} epochs "
            f"({row['training_seconds']:.0f} s of training on {_threads(row['train_threads'])})"
        )
        target = row.get("target_nll")
        if target is not None:
            gap = row["nll"] - target
            line += (
                f": it meets its target of {target:.1f} nats"
                if gap <= 0
                else f": it misses its target of {target:.1f} nats by {gap:.2f} nats"
            )
        reached.append(line)
    if not reached:
        return ""
    changes = ", ".join(
        f"`{row['row']}` {row['val_elbo_gain_last_tenth']:+.2f}"
        for row in rows
        if "val_elbo_gain_last_tenth" in row
    )
    return (
        "\n\n" + "; ".join(reached) + ". "
        "Change of the single-sample validation ELBO over the last tenth of each run's epochs "
        f"(nats; positive means still improving when the budget ran out): {changes}."
    )


def _row_commands(rows: list[dict[str, Any]]) -> str:
    """The command that made each row: rows with the same options share one."""
    grouped: dict[str, list[str]] = {}
    for row in rows:
        flag = "--best-budget" if _is_long(row) else "--budget"
        options = f"{flag} {row['time_budget']:.0f} --train-threads {row['train_threads']}"
        grouped.setdefault(options, []).append(row["row"])
    return "; ".join(
        "`python bench/mnist_nll.py --data-dir ../shared/data/mnist "
        f"--rows {','.join(names)} {options}`"
        for options, names in grouped.items()
    )


def _mnist_nll(r: dict[str, Any]) -> str:
    rows = []
    for row in r["rows"]:
        model, objective = _row_name(row)
        published = row.get("published_nll")
        rows.append(
            [
                f"`{row['row']}`",
                model,
                objective,
                str(row["num_particles"]),
                f"{row['time_budget']:.0f}",
                str(row["train_threads"]),
                str(row["epochs"]),
                f"**{row['nll']:.2f}**",
                f"{row['mc_standard_error']:.3f}",
                f"{row['data_standard_error']:.2f}",
                f"{-row['elbo']:.2f}",
                f"{100 * row['bad_khat_share']:.1f}",
                f"{published:.2f} (3,280 epochs)" if published is not None else "-",
                row.get("trained_at_commit") or "-",
            ]
        )
    table = _table(
        [
            "row",
            "model",
            "objective",
            "k",
            "training budget (s)",
            "torch threads",
            "epochs",
            "test NLL",
            "MC se",
            "data se",
            "-ELBO (K = 1)",
            "% k-hat > 0.7",
            "Burda et al. 2015",
            "trained at commit",
        ],
        rows,
    )
    m = r["machine"]
    return (
        "## MNIST test NLL, Burda et al. protocol (`bench/mnist_nll.py`)\n\n"
        "Dynamically binarized MNIST, tanh MLPs (one stochastic layer: 784-200-200-50; two "
        "stochastic layers: 784-200-200-100 for z1, then 100-100-50 for z2), Bernoulli pixels, "
        "Adam with learning rate 1e-3, trained for the stated wall-clock budget on this 2-core "
        f"CPU; test NLL by importance sampling with K = {r['num_samples']} on all "
        f"{r['num_points']} test images (`pyro-vae evaluate RUN_DIR --num-samples 5000`). The "
        "published values come from 3,280 epochs with a decaying learning-rate schedule. The "
        "command keeps its runs in `runs/mnist-nll/` and reuses those that finished their "
        "budget, so rows can come from different calls and commits (- in the last column: not "
        "recorded, trained before rows recorded theirs)."
        f"{_long_rows_note(r['rows'])}\n\n"
        f"{table}\n\n"
        f"Each row's command: {_row_commands(r['rows'])}. The latest call was "
        f"`{r['command']}`, on {m['date']}: {m['cpu']}, {m['cores']} cores, Python "
        f"{m['python']}, torch {m['torch']}, pyro-ppl {m['pyro']}, pyro_vae at commit "
        f"{m['commit']}.\n"
    )


def _epoch_time(r: dict[str, Any]) -> str:
    s = {(c["model"], c["flush"]): c["median"] for c in r["seconds"]}
    h = r["held"]
    ratio = r["trained_over_fresh"]
    if abs(ratio - 1) < 0.1:
        verdict = (
            "A trained epoch costs what a fresh one does, so the slowdown during training was "
            "the host's, not the run's"
        )
    else:
        verdict = f"A trained epoch costs {ratio:.2f} times a fresh one"
    return (
        f"## Epoch time of a trained model against a fresh one (`bench/epoch_time.py`)\n\n"
        f"While it trained, `{r['run']}` took {r['first_ten_median']:.1f} s per epoch (median "
        f"of its first ten) and {r['last_ten_median']:.1f} s (last ten of "
        f"{r['epochs_trained']}). Now, alternating in one process ({r['rounds']} rounds, "
        f"medians): one more epoch of the trained run takes {s['trained', False]:.1f} s, the "
        f"first epoch of a fresh model with the same settings {s['fresh', False]:.1f} s "
        f"(trained / fresh = {ratio:.2f}). {verdict}. With subnormal floats flushed to zero the "
        f"epochs take {s['trained', True]:.1f} s (trained) and {s['fresh', True]:.1f} s (fresh): "
        f"speedups {r['flush_speedup_trained']:.2f} and {r['flush_speedup_fresh']:.2f}. The "
        f"trained run holds {h['moment_subnormal']:,} subnormal values among its "
        f"{h['moment_values']:,} Adam moments, and {h['logits_below']:,} of its decoder's "
        f"{h['logits']:,} logits on {h['images']:,} test images fall below -87.3 (where "
        "the sigmoid is subnormal).\n\n"
        f"{_machine(r)}\n"
    )


def _se_calibration(r: dict[str, Any]) -> str:
    def pct(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.1f}%"

    rows = [
        [
            str(row["num_samples"]),
            f"{row['guide_scale']:g}",
            f"{row['mean_khat']:.2f}",
            pct(row["coverage"]),
            pct(row["flagged_share"]),
            "yes" if row["mean_reliable"] else "no",
            pct(row["coverage_reliable"]),
            pct(row["coverage_flagged"]),
            f"{row['mean_bias']:+.4f}",
        ]
        for row in r["rows"]
    ]
    headers = [
        "K",
        "guide sd / posterior sd",
        "mean k-hat",
        "coverage",
        "flagged",
        "mean reliable",
        "coverage, reliable",
        "coverage, flagged",
        "mean error (nats)",
    ]
    n = r["rows"][0]["estimates"]
    return (
        "## Do the standard errors cover? (`bench/se_calibration.py`)\n\n"
        "Importance sampling on the linear-Gaussian model, whose log P(X) is exact, with the exact "
        "posterior as proposal after its standard deviations are scaled: above 1 the weights have "
        f"light tails, below 1 heavy ones. {n} estimates per row (fresh samples each); an "
        "estimate covers when it lies within 1.96 reported standard errors of the exact value "
        f"(nominal {100 * r['nominal']:.0f}%). 'Flagged' estimates have k-hat above the "
        "threshold and are reported with an unreliable standard error (`se_reliable` = 0).\n\n"
        f"{_table(headers, rows)}\n\n"
        "Reading: where the data-set flag says the mean is reliable, the intervals cover at "
        "about the nominal rate. Where many points are flagged, the delta-method error is too "
        "small and the intervals cover far less often; there, the points whose k-hat came out "
        "below the threshold are the ones whose samples missed the heavy tail, and they cover "
        "least of all. A per-point flag is necessary, not sufficient: heed the data-set flag "
        "(and the warning `pyro-vae evaluate` prints with it).\n\n"
        f"{_machine(r)}\n"
    )


def _ais_speed(r: dict[str, Any]) -> str:
    t = r["seconds_per_step"]
    spread = ", ".join(f"{v:.2f}" for v in r["ratios_per_round"])
    return (
        "## AIS inner loop against hand-written PyTorch (`bench/ais_speed.py`)\n\n"
        f"One AIS step (an HMC transition with {r['leapfrog_steps']} leapfrog steps) from the "
        f"guide of the default MNIST-sized model, {r['images']} images x {r['chains']} chains"
        f"{_tuning(r)}: "
        f"{1e3 * t['ours']:.1f} ms with `pyro_vae.estimate.ais` against "
        f"{1e3 * t['bare']:.1f} ms for the same algorithm written out with torch calls on the same "
        "parts (medians of alternating runs in one process): ratio hand-written / ours = "
        f"{r['ratio_bare_over_ours']:.2f} "
        f"(per round: {spread}; target at least 0.8). For a VAE's own model and guide the "
        "estimator calls the prior and the decoder directly, so a leapfrog step costs one "
        "decoder forward and backward; other Pyro programs are traced at every step.\n\n"
        f"{_ais_compiled(r)}"
        f"{_machine(r)}\n"
    )


def _ais_compiled(r: dict[str, Any]) -> str:
    if "speedup_compiled" not in r:
        return ""
    spread = ", ".join(f"{v:.2f}" for v in r["speedups_compiled_per_round"])
    return (
        "With the leapfrog steps' potential and gradient compiled by `torch.compile` "
        "(`pyro_vae/estimate/compiled_potential.py`, what `evaluate --compile torch` runs): "
        f"{1e3 * r['seconds_per_step']['compiled']:.1f} ms per AIS step, "
        f"{r['speedup_compiled']:.2f}x faster than uncompiled (per round: {spread}) and "
        f"hand-written / compiled = {r['ratio_bare_over_compiled']:.2f}; compiled once in "
        f"{r['compile_seconds']:.0f} s; the estimates of the same noise differ by at most "
        f"{r['max_estimate_difference_compiled']:.0e} nats. The decoder's matrix products, "
        "which a compiler leaves to the same BLAS, are most of a step.\n\n"
    )


def ais_speed_summary(r: dict[str, Any]) -> str:
    """The README's line on compiled AIS (from ais_speed.json)."""
    return (
        f"AIS with `--compile torch`: **{r['speedup_compiled']:.2f}x** faster per step than "
        f"uncompiled ({r['images']} images x {r['chains']} chains, {r['leapfrog_steps']} "
        f"leapfrog steps; {r['compile_seconds']:.0f} s to compile)."
    )


def _sources(r: dict[str, Any]) -> str:
    """Where the importance-sampling and naive estimates of an AIS comparison come from."""
    names = {"guide": "importance sampling", "prior": "naive Monte Carlo"}
    sources = r.get("estimates_from", {"guide": "evaluate", "prior": "evaluate"})
    stored = [names[p] for p in names if sources.get(p) == "evaluate"]
    computed = [names[p] for p in names if sources.get(p) != "evaluate"]
    parts = []
    if stored:
        parts.append(
            f"{' and '.join(stored)} {'are' if len(stored) > 1 else 'is'} the per-image "
            "estimates of the run's `pyro-vae evaluate` (the seconds are theirs on all test "
            "images)"
        )
    if computed:
        parts.append(f"{' and '.join(computed)} computed by the script on the same images")
    return "; ".join(parts)


def _tuning(r: dict[str, Any]) -> str:
    tuning = r.get("tuning_chains", 0)
    return f" ({tuning} of them tuning chains)" if tuning else ""


def _signed(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:+.{digits}f}"


def _mnist_ais(r: dict[str, Any]) -> str:
    k = r["importance_sampling_k"]
    estimators = [
        [f"naive Monte Carlo (prior), K = {k}", f"{r['naive_nll']:.2f}"]
        + ["-"] * 5
        + [_seconds(r["naive_seconds_per_image"])],
        [f"importance sampling (guide), K = {k}", f"{r['is_nll']:.2f}"]
        + ["0"]
        + ["-"] * 4
        + [_seconds(r["is_seconds_per_image"])],
    ]
    estimators += [
        [
            f"AIS from the guide, T = {a['num_steps']:,}",
            f"{a['ais_nll']:.2f}",
            f"{a['difference_mean']:+.3f} ± {a['difference_se']:.3f}",
            f"{a['difference_sd']:.3f}",
            _signed(a["difference_mean_khat_above_0.7"]),
            _signed(a["difference_mean_khat_below_0.7"]),
            f"{a['correlation_with_khat']:.2f}",
            _seconds(a["seconds_per_image"]),
        ]
        for a in r["ais"]
    ]
    bdmc = [
        [
            f"{b['num_steps']:,}",
            f"{b['lower']:.2f}",
            f"{b['upper']:.2f}",
            f"{b['gap']:.3f}",
            f"{b['gap_sd']:.3f}",
            f"{b['gap_max']:.3f}",
            _seconds(b["seconds_per_image"]),
        ]
        for b in r["bdmc"]
    ]
    headers = [
        "estimator",
        "NLL",
        "- IS per image: mean ± s.e.",
        "sd",
        "mean, k-hat > 0.7",
        "mean, k-hat <= 0.7",
        "corr. with k-hat",
        "s / image",
    ]
    bdmc_headers = ["T", "lower (forward)", "upper (reverse)", "gap", "sd", "max", "s / point"]
    model = r.get("model", "The default MNIST model of the estimator-gap section")
    tuning = r.get("tuning_chains", 0)
    tuned = (
        f" (plus {tuning} tuning chains per image that adapt its step size)"
        if tuning
        else " (each chain adapting its own step size)"
    )
    longest = max(r["bdmc"], key=lambda b: b["num_steps"], default=None)
    target = "The target, a mean gap below 1 nat at T = 10,000, "
    if longest is None:
        target += "was not measured for this model (no BDMC run).\n\n"
    elif longest["num_steps"] < 10_000:
        target += (
            "was not measured for this model: this run's `--bdmc-steps` stop at "
            f"T = {longest['num_steps']:,}.\n\n"
        )
    else:
        verdict = "met" if longest["gap"] < 1 else "missed"
        target += f"is {verdict} ({longest['gap']:.3f} nats).\n\n"
    commits = r.get("computed_at_commits")
    provenance = (
        f"\n\nThe cached batches were computed at commit{'s' if len(commits) > 1 else ''} "
        f"{', '.join(commits)}."
        if commits
        else ""
    )
    return (
        f"## AIS and BDMC on MNIST, {r.get('label', 'default')} model (`bench/mnist_ais.py`)\n\n"
        f"{model}, its first {r['points']} test "
        f"images (guide k-hat above 0.7 for {100 * r['khat_above_0.7']:.0f}% of them, mean "
        f"{r['mean_khat']:.2f}): {_sources(r)}; AIS starts from the guide with "
        f"{r['chains']} chains{tuned} and "
        f"{r['leapfrog_steps']} leapfrog steps per transition. Differences are AIS - importance "
        "sampling per image, in nats: positive where AIS finds more probability.\n\n"
        f"{_table(headers, estimators)}\n\n"
        f"BDMC on {r['bdmc_points']} points simulated from the same model (forward AIS from the "
        "guide, a stochastic lower bound; reverse AIS from the latents that generated them, a "
        "stochastic upper bound), mean over the points:\n\n"
        f"{_table(bdmc_headers, bdmc)}\n\n{target}{_machine(r)}{provenance}\n"
    )


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def mnist_ais_summary(r: dict[str, Any]) -> str:
    """The README's sentence on AIS and BDMC on MNIST."""
    longest = max(r["ais"], key=lambda a: a["num_steps"])
    closed = max(r["bdmc"], key=lambda b: b["num_steps"])
    return (
        f"On the first {r['points']} MNIST test images of the default model, AIS with "
        f"T = {longest['num_steps']:,} gives a test NLL of {longest['ais_nll']:.2f} nats, "
        f"{abs(longest['difference_mean']):.2f} nats "
        f"{'below' if longest['difference_mean'] > 0 else 'above'} importance sampling with "
        f"K = {r['importance_sampling_k']} ({r['is_nll']:.2f}; naive Monte Carlo: "
        f"{r['naive_nll']:.2f}), and on {r['bdmc_points']} points simulated from the model the "
        f"BDMC bounds close to within {closed['gap']:.3f} nats of each other at "
        f"T = {closed['num_steps']:,}."
    )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def mnist_m2_summary(r: dict[str, Any]) -> str:
    """The README's sentence on M2 on MNIST: each row's errors, and its NLL beside the VAE's."""
    parts = []
    for row in r["rows"]:
        paper = row.get("paper") or {}
        beside = f" (the paper's M2: {paper['m2']:.2f} %" if paper else " ("
        alone = row.get("labels_alone_error")
        beside += f"; the labels alone: {_pct(alone)} %)" if alone is not None else ")"
        error, where = row.get("test_error"), "the 10,000 test images"
        if error is None:
            error, where = row["classifier_error"], f"the first {row['num_points']} test images"
        parts.append(
            f"with {row['labels']} labels and {row['training_seconds'] / 60:.0f} minutes of "
            f"training, Q(y\\|x) errs on {_pct(error)} % of {where}{beside}; its test NLL with "
            f"the class summed out is {row['nll']['guide']:.2f} nats"
        )
    text = "On MNIST, " + "; ".join(parts)
    if r.get("baseline"):
        b = r["baseline"]
        text += (
            f", against {b['nll']['guide']:.2f} for an unsupervised VAE of the same networks "
            f"trained as long (first {b['num_points']} test images, K = {b['num_samples']})"
        )
    return text + "."


def _readme_figures(r: dict[str, Any]) -> str:
    commands = "\n".join(r["commands"])
    return (
        "## The README's figures (`bench/readme_figures.py`)\n\n"
        f"{', '.join(r['figures'])} in `bench/figures/`, drawn by:\n\n"
        f"```\n{commands}\n```\n\n{_machine(r)}\n"
    )


def _scaling(r: dict[str, Any]) -> str:
    rows = [
        [
            row["configuration"],
            str(row["processes"]),
            str(row["threads_per_process"]),
            row["device"],
            f"{row['steps_per_second']:.1f}",
            f"{row['train_speedup']:.2f}",
            f"{row['eval_images_per_second']:.1f}",
            f"{row['eval_speedup']:.2f}",
            f"{row['val_elbo']:.3f}",
        ]
        for row in r["rows"]
    ]
    headers = [
        "configuration",
        "processes",
        "threads each",
        "device",
        "training steps/s",
        "x",
        "evaluation images/s",
        "x",
        "validation ELBO",
    ]
    cpu = {row["processes"]: row for row in r["rows"] if row["device"] == "cpu"}
    notes = []
    most = cpu[max(cpu)] if len(cpu) > 1 else None  # the CPU row with the most processes
    if most and most["train_speedup"] < 1:
        notes.append(
            "On this CPU several processes train more slowly than one process with all the "
            "threads: each process pays the per-step Python and Pyro overhead in full and the "
            "gradients are exchanged at every step, while one process spreads its matrix "
            "products over the threads."
        )
    if most and most["eval_speedup"] > 1:
        notes.append("Evaluation, which exchanges nothing until its end, gains from the processes.")
    if not any(row["device"].startswith("cuda") for row in r["rows"]):
        notes.append("No GPU was present on the machine that measured this table.")
    note = f"{' '.join(notes)}\n\n" if notes else ""
    return (
        "## One process or several (`bench/scaling.py`)\n\n"
        f"The default model on {r['dataset']}, trained for {r['epochs']} epochs from the same "
        "seed in each configuration (speed: the epochs after the first), then importance "
        f"sampling with K = {r['num_samples']} on the first {r['images']} test images; "
        "several processes run under torchrun. The validation ELBO is the same in every "
        "configuration on one kind of device (the run does not depend on the number of "
        "processes).\n\n"
        f"{_table(headers, rows)}\n\n{note}{_machine(r)}\n"
    )


def _nll_cell(row: dict[str, Any], proposal: str) -> str:
    if proposal not in row["nll"]:
        return "-"
    return f"{row['nll'][proposal]:.2f} ± {row['mc_se'][proposal]:.2f}"


def _m2_cells(row: dict[str, Any], weight: str) -> list[str]:
    paper = row.get("paper") or {}
    return [
        str(row["labels"]),
        weight,
        str(row["epochs"]),
        f"{row['training_seconds']:.0f}",
        f"**{_pct(row.get('test_error'))}**",
        _pct(row.get("labels_alone_error")),
        _pct(row["classifier_error"]),
        _pct(row["bayes_error"]) if "bayes_error" in row and "prior" in row["nll"] else "-",
        f"{paper['m2']:.2f}" if paper else "-",
        f"{paper['m1_m2']:.2f}" if paper else "-",
        _nll_cell(row, "guide"),
        _nll_cell(row, "guide-drawn"),
        _nll_cell(row, "prior"),
        f"{-row['log_p_x_y']:.2f}" if "log_p_x_y" in row else "-",
    ]


def _m2(r: dict[str, Any]) -> str:
    rows = [_m2_cells(row, f"{row.get('classification_weight', 0.1):g}") for row in r["rows"]]
    rows += [_m2_cells(row, f"{row['classification_weight']:g}") for row in r.get("weights", [])]
    if r.get("baseline"):
        b = r["baseline"]
        rows.append(
            ["unsupervised VAE", "-", str(b["epochs"]), f"{b['training_seconds']:.0f}"]
            + ["-"] * 6
            + [_nll_cell(b, "guide"), "-", _nll_cell(b, "prior"), "-"]
        )
    headers = ["labels", "weight a", "epochs", "training s", "error of Q(y\\|x) %"]
    headers += ["labels alone %", f"Q(y\\|x), first {r['limit']} %", "Bayes classifier %"]
    headers += ["paper M2 %", "paper M1+M2 %", "NLL, class summed", "NLL, class drawn"]
    headers += ["NLL, naive MC (class summed)", "-log P(x, y)"]
    seeds = ""
    if r.get("seeds"):
        errors = [s.get("test_error", s["classifier_error"]) for s in r["seeds"]]
        mean = sum(errors) / len(errors)
        spread = (sum((e - mean) ** 2 for e in errors) / max(1, len(errors) - 1)) ** 0.5
        seeds = (
            f"With 100 labels, seeds {', '.join(str(s['seed']) for s in r['seeds'])} trained "
            f"for {r['seed_budget']:.0f} s each: error of Q(y\\|x) "
            f"{', '.join(_pct(e) for e in errors)} % (mean {_pct(mean)}, standard deviation "
            f"{_pct(spread)}).\n\n"
        )
    arch = r["architecture"]
    reading = _m2_reading(r)
    return (
        "## Semi-supervised M2 on MNIST (`bench/mnist_m2.py`)\n\n"
        f"`--model m2` with {arch['latent_dim']}-d z, hidden layers "
        f"{','.join(map(str, arch['hidden_dims']))} ({arch['activation']}), Adam at "
        f"{arch['learning_rate']:g}, trained for at most {r['time_budget']:.0f} s per row. "
        "The weight a is the classification weight per training image (the paper's 0.1, "
        'alpha = 0.1 N). The error of Q(y\\|x) is on all 10,000 test images; "labels '
        "alone\" is the same classifier network trained on the row's labelled images only "
        "(cross-entropy, the same optimizer). The Bayes classifier argmax_y P(y) P(x\\|y), "
        f"-log P(x, y) and the NLL (nats, ± Monte Carlo standard error) are on the first "
        f"{r['limit']} test images with K = {r['num_samples']}. The paper's columns are "
        "Kingma et al. (2014), table 1. The unsupervised VAE has the same networks and "
        "training time.\n\n"
        f"{_table(headers, rows)}\n\n{seeds}{reading}{_machine(r)}\n"
    )


def _m2_reading(r: dict[str, Any]) -> str:
    """What the table says of M2 against the labels alone, and of the weight, in words."""
    rows = [
        row
        for row in [*r["rows"], *r.get("weights", [])]
        if row.get("test_error") is not None and row.get("labels_alone_error") is not None
    ]
    if not rows:
        return ""

    def compared(row: dict[str, Any]) -> str:
        m2, alone = row["test_error"], row["labels_alone_error"]
        side = "above" if m2 > alone else "below"
        return (
            f"{row['labels']} labels, a = {row.get('classification_weight', 0.1):g}: "
            f"{_pct(m2)} % ({_pct(abs(m2 - alone))} points {side} the labels alone)"
        )

    return (
        "The error of Q(y\\|x) against the same network trained on the labels alone: "
        + "; ".join(compared(row) for row in rows)
        + ". In the paper's objective, J + alpha E[-log Q(y\\|x)], every training image's "
        "unlabelled term enters with weight 1 and the labels' classification term with "
        "a = alpha / N per training image; the unlabelled term also trains Q(y\\|x), towards "
        "the class whose decoder explains an image best, whichever its label."
        + (
            " The rows with another weight show how the balance moves the error within the "
            "same time."
            if r.get("weights")
            else ""
        )
        + "\n\n"
    )


def _cvae_cells(row: dict[str, Any]) -> list[str]:
    baseline, tutorial = row["baseline"], row["tutorial"]
    gap = row["nll"]["prior"] - row["nll"]["guide"]
    kl = row.get("kl")
    return [
        str(row["quadrants"]),
        str(row["epochs"]),
        f"{row['training_seconds']:.0f}",
        f"**{row['nll']['guide']:.2f} ± {row['mc_se']['guide']:.3f}**",
        f"{row['nll']['prior']:.2f} ± {row['mc_se']['prior']:.3f}",
        f"{gap:.2f}",
        f"{row['negative_elbo']:.2f}",
        "-" if kl is None else f"{kl:.2f}",
        f"{row['mean_ess']['guide']:.0f} / {row['mean_ess']['prior']:.1f}",
        f"{_pct(row['bad_khat_share']['guide'])} / {_pct(row['bad_khat_share']['prior'])}",
        f"{baseline['nll']:.2f}",
        f"{tutorial['cvae']:.1f}",
        f"{tutorial['baseline']:.1f}",
    ]


def _cvae_reading(r: dict[str, Any]) -> str:
    """The gap between the two estimators per number of given quadrants, and why, in words."""
    rows = sorted(r["rows"], key=lambda row: row["quadrants"])
    if len(rows) < 2 or any(row.get("kl") is None for row in rows):
        return ""
    gaps = [row["nll"]["prior"] - row["nll"]["guide"] for row in rows]
    kls = [row["kl"] for row in rows]
    shrinks = all(b < a for a, b in itertools.pairwise(gaps))
    follows = all(b < a for a, b in itertools.pairwise(kls))
    listed = ", ".join(
        f"{g:.2f} nats for {row['quadrants']}" for g, row in zip(gaps, rows, strict=True)
    )
    text = (
        f"Naive Monte Carlo {'overstates' if min(gaps) > 0 else 'differs from'} the "
        f"importance-sampling -log P(Y\\|X) by {listed} given quadrants"
        + (", less the more of the image is given" if shrinks else "")
        + ". Its draws come from the prior network P(z\\|X); the estimate is good only where "
        "they land where the posterior P(z\\|X, Y) puts its mass, and the KL term of the ELBO, "
        "KL(Q(z\\|X, Y) \\|\\| P(z\\|X)), measures how far apart the two are: "
        + ", ".join(f"{k:.2f}" for k in kls)
        + " nats here"
    )
    heavy = [row for row in rows if row["bad_khat_share"]["guide"] > 0.5]
    if heavy:
        shares = ", ".join(
            f"{_pct(row['bad_khat_share']['guide'])} % ({row['quadrants']})" for row in heavy
        )
        lowest = all(
            row["nll"]["guide"] <= min(row["nll"]["prior"], row["negative_elbo"]) for row in heavy
        )
        text += (
            f". Importance sampling's own weights are heavy-tailed on {shares} of the images "
            "(k-hat above 0.7): its estimate is "
            + ("the lowest of the three and, like the others, " if lowest else "")
            + "an upper bound on -log P(Y\\|X) in expectation, but there it may lie further "
            "above the truth than its standard error says"
        )
    if shrinks and follows:
        text += (
            ". With more of the digit given, the condition already says most of what the "
            "missing pixels will say about z, the posterior moves little from the prior network, "
            "and its draws suffice; with one quadrant given, the rest of the digit carries "
            "information the prior network cannot know, and few of K draws come near it"
        )
    return text + ".\n\n"


def _cvae(r: dict[str, Any]) -> str:
    rows = [_cvae_cells(row) for row in r["rows"]]
    headers = ["given quadrants", "epochs", "training s", "-log P(Y\\|X), importance sampling"]
    headers += ["-log P(Y\\|X), naive MC", "naive - IS", "-ELBO", "KL term"]
    headers += ["mean ESS, IS / naive", "% k-hat > 0.7, IS / naive", "baseline network (exact)"]
    headers += ["tutorial's CVAE (a -ELBO)", "tutorial's baseline"]
    arch = r["architecture"]
    return (
        "## The conditional VAE on MNIST quadrants (`bench/mnist_cvae.py`)\n\n"
        f"`--model cvae --condition quadrants:K` with {arch['latent_dim']}-d z, hidden layers "
        f"{','.join(map(str, arch['hidden_dims']))} ({arch['activation']}), Adam at "
        f"{arch['learning_rate']:g}, at most {r['time_budget']:.0f} s of training per row; "
        f"nats per image on the first {r['limit']} of the 10,000 test images (the target pixels "
        f"binarized once, with a fixed seed), K = {r['num_samples']} for both estimators, ± "
        "Monte Carlo standard error (trustworthy only where k-hat is below 0.7). The -ELBO and "
        "its KL term are single-sample estimates on the same images. The baseline network "
        "(`pyro_vae.models.baseline`: the given pixels to the missing pixels' probabilities, "
        f"{r['baseline_budget']:.0f} s, best validation epoch) has no latent, so its "
        "-log P(Y\\|X) is exact. The tutorial's columns quote the "
        "table of Pyro's CVAE example: its CVAE column is a negative ELBO (an upper bound on "
        "-log P(Y\\|X), though titled a log-likelihood), and both of its columns score "
        "grey-level images as if binary, so they are beside ours, not comparable number for "
        "number.\n\n"
        f"{_table(headers, rows)}\n\n{_cvae_reading(r)}{_machine(r)}\n"
    )


def mnist_cvae_summary(r: dict[str, Any]) -> str:
    """The README's sentence on the CVAE: both estimators and the baseline per row."""
    rows = sorted(r["rows"], key=lambda row: row["quadrants"])
    parts = [
        f"{row['quadrants']} given: {row['nll']['guide']:.2f} by importance sampling, "
        f"{row['nll']['prior']:.2f} by naive Monte Carlo, {row['negative_elbo']:.2f} as a "
        f"-ELBO, {row['baseline']['nll']:.2f} for the baseline network"
        for row in rows
    ]
    return (
        f"Completing MNIST digits (first {r['limit']} test images, K = {r['num_samples']}, at "
        f"most {r['time_budget'] / 60:.0f} minutes of training each), -log P(Y\\|X) in nats: "
        + "; ".join(parts)
        + ". Pyro's tutorial prints "
        + " / ".join(f"{row['tutorial']['cvae']:.1f}" for row in rows)
        + " for its CVAE, a negative ELBO on grey-level images (BENCHMARKS.md has the table)."
    )


def mnist_8bit_summary(r: dict[str, Any]) -> str:
    """The README's sentence on 8-bit MNIST: bits per dimension beside the published flows."""
    row = next(row for row in r["rows"] if row["data"] == "mnist")
    bpd = row["bits_per_dim"]
    published = ", ".join(f"{name} {value:.2f}" for name, value in r["published"].items())
    return (
        f"On 8-bit MNIST (first {row['num_points']} test images, K = {row['num_samples']}, "
        f"{row['training_seconds'] / 60:.0f} minutes of training on this CPU), the "
        f"convolutional VAE with `dmol` reaches {bpd['guide']:.3f} bits/dim by importance "
        f"sampling ({bpd['prior']:.3f} by naive Monte Carlo, {row['elbo_bits_per_dim']:.3f} "
        f"as a -ELBO); FFJORD's Table 2 lists {published} (BENCHMARKS.md has the table)."
    )


def _mnist_8bit(r: dict[str, Any]) -> str:
    rows = []
    for row in r["rows"]:
        bpd = row["bits_per_dim"]
        rows.append(
            [
                row["data"],
                str(row["epochs"]),
                f"{row['training_seconds']:.0f}",
                f"**{bpd['guide']:.4f}** ({_nll_cell(row, 'guide')})",
                f"{bpd['prior']:.4f} ({_nll_cell(row, 'prior')})",
                f"{row['elbo_bits_per_dim']:.4f} ({row['negative_elbo']:.2f})",
                f"{row['mean_ess']['guide']:.1f} / {row['mean_ess']['prior']:.2f}",
                f"{100 * row['bad_khat_share']['guide']:.0f} / "
                f"{100 * row['bad_khat_share']['prior']:.0f}",
            ]
        )
    headers = ["data", "epochs", "training s", "bits/dim, importance sampling (nats)"]
    headers += ["bits/dim, naive MC (nats)", "bits/dim, -ELBO (nats)", "mean ESS, IS / naive"]
    headers += ["% k-hat > 0.7, IS / naive"]
    arch = r["architecture"]
    published = ", ".join(f"{name} {value:.2f}" for name, value in r["published"].items())
    mnist = next((row for row in r["rows"] if row["data"] == "mnist"), None)
    gaps = ""
    if mnist:
        ours = mnist["bits_per_dim"]["guide"]
        gaps = (
            f" On MNIST, importance sampling's {ours:.2f} bits/dim lie "
            + ", ".join(
                f"{abs(ours - value):.2f} {'above' if ours > value else 'below'} {name}"
                for name, value in r["published"].items()
            )
            + ". With K = 1000 the importance-sampling estimate is the IWAE bound, below log P(X) "
            "on average; its k-hat above 0.7 says that bound may still be loose, so the model's "
            "own bits/dim lie at or below this figure (up to its standard error)."
        )
    return (
        "## 8-bit MNIST with a discretized likelihood (`bench/mnist_8bit.py`)\n\n"
        f"`--binarize none --likelihood dmol --mixtures {arch['mixtures']} --network conv "
        f"--hidden-dims {','.join(map(str, arch['hidden_dims']))} --latent-dim "
        f"{arch['latent_dim']}`, at most {r['time_budget']:.0f} s of training per row; "
        f"the first {r['limit']} test images, K = {r['num_samples']}, ± Monte Carlo standard "
        "error. The likelihood gives every image a probability, so bits per dimension "
        "(NLL / (784 ln 2)) compare with published 8-bit results; Table 2 of the FFJORD paper "
        f"(Grathwohl et al. 2019) lists {published} bits/dim.{gaps}\n\n"
        f"{_table(headers, rows)}\n\n{_machine(r)}\n"
    )


def _folder_speed(r: dict[str, Any]) -> str:
    rows = [
        [
            row["loader"],
            f"{row['first_epoch_images_per_s']:.0f}",
            f"{row['later_epoch_images_per_s']:.0f}",
        ]
        for row in r["rows"]
    ]
    headers = ["loader", "images/s, first epoch", "images/s, later epochs"]
    return (
        "## Reading an image folder (`bench/folder_speed.py`)\n\n"
        f"{r['images']} generated {r['side']}x{r['side']} colour PNG files in class "
        f"sub-folders, served as float minibatches of {r['batch']}; `--dataset folder` decodes "
        "them once into its cache (the first epoch includes that: reading each file's header, "
        "decoding, writing the cache) and serves later epochs from the memory-mapped cache, "
        "converting each minibatch's uint8 pixels to float32 as training does; "
        "torchvision's `ImageFolder` decodes every file every epoch.\n\n"
        f"{_table(headers, rows)}\n\n{_machine(r)}\n"
    )


def _conv_residual(r: dict[str, Any]) -> str:
    rows = [
        [
            row["data"],
            f"`{row['network']}`",
            f"{row['parameters']:,}",
            str(row["epochs"]),
            f"{row['training_seconds']:.0f}",
            f"{row['seconds_per_epoch']:.1f}",
            f"{row['best_val_elbo_bits_per_dim']:.4f}",
            f"{row['elbo_bits_per_dim']:.4f}",
            f"{row['is_bits_per_dim']:.4f} ± {row['is_se_bits_per_dim']:.4f}",
        ]
        for row in r["rows"]
    ]
    headers = ["data", "network", "parameters", "epochs", "training s", "s / epoch"]
    headers += ["best val -ELBO bpd"]
    headers += ["test -ELBO bpd", "test IS bpd ± data SE"]
    arch = r["architecture"]
    return (
        "## Residual blocks in the convolutional networks (`bench/conv_residual.py`)\n\n"
        f"`--network conv` against `--network resconv` (a residual block after each stride-2 "
        f"layer) with `--likelihood dmol --mixtures {arch['mixtures']} --hidden-dims "
        f"{','.join(map(str, arch['hidden_dims']))} --latent-dim {arch['latent_dim']} "
        f"--early-stopping {arch['early_stopping']}`, each trained for "
        f"{r['time_budget']:.0f} s (finishing the epoch in which the budget runs out; the run "
        "keeps its best validation epoch), then scored on "
        f"the first {r['limit']} test images in bits per dimension (importance sampling with "
        f"K = {r['num_samples']}; ± the standard error over images). Equal time, not equal "
        "epochs: a residual block pays for itself where its row reaches fewer bits per "
        "dimension.\n\n"
        f"{_table(headers, rows)}\n\n{_machine(r)}\n"
    )


_EMA_ROWS = {
    "vae": "the default model (preset `mnist-vae`), trained with `--ema {decay}` for this table",
    "best": "the likelihood table's 2-hour row `best` (preset `mnist-best`, `--ema {decay}`)",
}


def _row_measured(row: dict[str, Any], record: dict[str, Any]) -> str:
    """When and where one row of a multi-row result was measured (the record's, if unsaid)."""
    m = row.get("measured") or record["machine"]
    return f"{m['date']}, commit {m.get('commit') or '-'}, {_threads(m['torch_threads'])}"


def _mnist_ema(r: dict[str, Any]) -> str:
    rows = [
        [
            _EMA_ROWS[row["row"]].format(decay=row["decay"]),
            f"{row['time_budget']:.0f}",
            str(row["epochs"]),
            f"{row['limit']}, K = {row['num_samples']}",
            f"{row['nll_raw']:.2f}",
            f"**{row['nll_ema']:.2f}**",
            f"{row['gain']:.2f} ± {row['gain_standard_error']:.2f}",
            f"{row['test_elbo_raw']:.2f} / {row['test_elbo_ema']:.2f}",
            _row_measured(row, r),
        ]
        for row in r["rows"]
    ]
    table = _table(
        [
            "run",
            "training budget (s)",
            "epochs",
            "test images",
            "test NLL, raw weights",
            "test NLL, average",
            "gain (nats)",
            "test ELBO raw / average",
            "measured",
        ],
        rows,
    )
    return (
        "## Weight averaging on MNIST (`bench/mnist_ema.py`)\n\n"
        "A run's raw weights are the same run without the average (the average does not change "
        "the training path), so the two are compared at equal training time. Importance "
        "sampling on the first test images, the same random streams for both; the gain is "
        "NLL(raw) - NLL(average) with the paired standard error over the images. Rows: "
        "`python bench/mnist_ema.py --data-dir ../shared/data/mnist --rows vae,best` (the row "
        "`best` is trained by `bench/mnist_nll.py --rows best`).\n\n"
        f"{table}\n\n"
        f"{_machine(r)}\n"
    )


def _cli_speed(r: dict[str, Any]) -> str:
    rows = [[f"`{row['command']}`", f"{row['median_seconds']:.2f}"] for row in r["rows"]]
    return (
        "## Command-line start (`bench/cli_speed.py`)\n\n"
        f"Wall-clock seconds to answer, each command in a fresh process (median of "
        f"{r['repeats']} runs). Help (the program's and a command's), the version, a mistyped "
        "command, an unknown option, a value its text shows wrong and a missing run directory "
        "are answered before torch is imported, from the registries' committed catalogue "
        "(`pyro_vae/catalogue.json`); a command's real work imports the whole Python API (the "
        "last row).\n\n"
        f"{_table(['command', 'seconds'], rows)}\n\n{_machine(r)}\n"
    )


SECTIONS: dict[str, Callable[[dict[str, Any]], str]] = {
    "train_speed": _train_speed,
    "eval_speed": _eval_speed,
    "mnist_estimator_gap": _estimator_gap,
    "mnist_components": _components,
    "mnist_nll": _mnist_nll,
    "mnist_ema": _mnist_ema,
    "epoch_time": _epoch_time,
    "se_calibration": _se_calibration,
    "ais_speed": _ais_speed,
    "mnist_ais": _mnist_ais,
    "mnist_ais_best": _mnist_ais,
    "scaling": _scaling,
    "mnist_m2": _m2,
    "mnist_cvae": _cvae,
    "mnist_8bit": _mnist_8bit,
    "folder_speed": _folder_speed,
    "conv_residual": _conv_residual,
    "readme_figures": _readme_figures,
    "cli_speed": _cli_speed,
}


#: Blocks of README.md rendered from results: the text between ``<!-- bench:NAME -->`` and
#: ``<!-- /bench:NAME -->``.
def train_speed_summary(r: dict[str, Any]) -> str:
    """The README's lines on the compiled training step (from train_speed.json)."""
    rows = [
        [
            _speed_row(row),
            str(row["num_particles"]),
            f"{row['ratio_torch']:.2f}",
            f"{row['ratio_torch_to_compiled_bare']:.2f}",
            f"{row['ratio_jit']:.2f}" if "ratio_jit" in row else "-",
            f"{row['ratio']:.2f}",
            f"{row['compile_seconds_torch']:.0f}",
        ]
        for row in r["rows"]
    ]
    return _table(
        [
            "objective",
            "k",
            "torch.compile / bare eager",
            "torch.compile / bare compiled",
            "JIT / bare eager",
            "traced / bare eager",
            "compile s",
        ],
        rows,
    )


def eval_speed_summary(r: dict[str, Any]) -> str:
    """The README's line on compiled importance sampling (from eval_speed.json)."""
    c = r["compiled"]["per_point"]
    return (
        f"Importance sampling with `--compile torch`: **{c['speedup']:.2f}x** faster than "
        f"uncompiled at K = {r['num_samples']} (one point per pass, as `evaluate` draws; "
        f"estimates differ by at most {c['max_abs_difference_nats']:.0e} nats; "
        f"{c['compile_seconds']:.0f} s to compile)."
    )


def mnist_ema_summary(r: dict[str, Any]) -> str:
    """The README's line on weight averaging (from mnist_ema.json)."""
    rows = {row["row"]: row for row in r["rows"]}
    lines = []
    for name, what in (("vae", "the default model, 10 minutes"), ("best", "the 2-hour best row")):
        if name in rows:
            row = rows[name]
            side = "better" if row["gain"] >= 0 else "worse"
            lines.append(
                f"{what}: {row['nll_ema']:.2f} nats with the average against "
                f"{row['nll_raw']:.2f} raw, {abs(row['gain']):.2f} ± "
                f"{row['gain_standard_error']:.2f} {side}"
            )
    first = r["rows"][0]
    return (
        f"Test NLL on MNIST (first {first['limit']} test images, K = {first['num_samples']}) "
        f"with `--ema {first['decay']}` against the same run's raw weights, at equal training "
        f"time -- {'; '.join(lines)} (BENCHMARKS.md)."
    )


def pretrained_summary(r: dict[str, Any]) -> str:
    """The README's lines on the committed model (from pretrained.json)."""
    files = r["files"]
    weights = "their average, `--ema`" if r["weights"] == "ema" else "as trained"
    commit = r.get("trained_at_commit") or "-"
    return (
        f"`{r['path']}`, {r['size'] / 1e6:.1f} MB: the weights ({weights}; "
        f"{files['model.safetensors'] / 1e6:.1f} MB), the settings, the training log "
        f"(`metrics.csv`, {r['epochs']} epochs, {r['training_seconds'] / 3600:.1f} hours on this "
        f"CPU, trained at commit {commit}), the evaluation (`evaluation.json` and the "
        f"{r['num_points']:,} per-image estimates of `estimates.csv`) and two figures. Test NLL "
        f"**{r['nll']:.2f}** nats (Monte Carlo standard error {r['mc_standard_error']:.3f}, K = "
        f"{r['num_samples']} on all {r['num_points']:,} test images). Made by "
        f"`{r['command']}`; a test evaluates its first {r['checked_points']} test images "
        "(stored beside it, binarized) and checks the committed estimates."
    )


README_BLOCKS: dict[str, Callable[[dict[str, Any]], str]] = {
    "train_speed": train_speed_summary,
    "eval_speed": eval_speed_summary,
    "ais_speed": ais_speed_summary,
    "mnist_ema": mnist_ema_summary,
    "mnist_ais": mnist_ais_summary,
    "mnist_m2": mnist_m2_summary,
    "mnist_cvae": mnist_cvae_summary,
    "mnist_8bit": mnist_8bit_summary,
    "pretrained": pretrained_summary,
}


def render_benchmarks() -> str:
    """BENCHMARKS.md as the results in ``bench/results`` say."""
    parts = [
        "# Benchmarks\n\n"
        "Every figure here is read from `bench/results/*.json`, which the benchmark scripts in "
        "`bench/` write with their command, machine and date. Rerun a script, then regenerate "
        "this file with `python bench/report.py`.\n"
    ]
    for name, render in SECTIONS.items():
        path = RESULTS / f"{name}.json"
        if path.exists():
            parts.append(render(json.loads(path.read_text())))
    return "\n".join(parts)


def render_readme(text: str) -> str:
    """README.md's text with every results block rendered anew."""
    for name, render in README_BLOCKS.items():
        start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
        if start not in text or end not in text:
            raise SystemExit(f"README.md has no block {start} ... {end}")
        before, rest = text.split(start, 1)
        _, after = rest.split(end, 1)
        block = render(json.loads((RESULTS / f"{name}.json").read_text()))
        text = f"{before}{start}\n{block}\n{end}{after}"
    return text


def main() -> None:
    (ROOT / "BENCHMARKS.md").write_text(render_benchmarks())
    readme = ROOT / "README.md"
    readme.write_text(render_readme(readme.read_text()))
    print(f"wrote {ROOT / 'BENCHMARKS.md'} and the results blocks of {readme}")


if __name__ == "__main__":
    main()
