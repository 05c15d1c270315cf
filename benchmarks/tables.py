"""The tables of a results folder, generated from its runs files.

Usage:
    python benchmarks/tables.py benchmarks/results/cpu           # rewrite the folder's tables
    python benchmarks/tables.py --check benchmarks/results/*     # exit 1 where a committed table differs

A results folder holds ``runs.jsonl``: one JSON object per line, each one measurement of
one method at one seed, appended when it was made and never edited (the method under the
name it was run with, its metrics, timings, settings, commit and machine). Its tables are
generated from those rows, never written by hand: ``table.md`` by default, or the tables
that the folder's ``tables.json`` describes, each with

- ``runs``: the runs files to read, relative to the folder (default ``["runs.jsonl"]``);
- ``methods``: the names to show, in order (default: every name, in order of first row);
- ``seeds``: the seeds to show (default: every seed);
- ``where``: ``{field: [values]}``, the rows to consider (default: all);
- ``title``: the heading (default ``Comparison, profile `<profile>```);
- ``paired``: names to compare every row with, seed by seed (a section of paired
  differences in balanced-test ACSA, mean ± standard error over the seeds both have).

Of several rows of one (name, seed) that pass, the one appended last is shown.
Rows that record a ``fit_cost`` (``large_images.py``) add a "Fit cost" section: memory,
autoencoder seconds per epoch and generation speed, mean over the seeds.

Names: a name that meant another recipe at an earlier commit (``"DeepSMOTE (default)"``
once meant SMOTE interpolation) is shown under today's name for that recipe. The map is
``benchmarks/results/display.json`` (measured name and commit → shown name); each table
lists the rows it shows under another name than the one they were measured under.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

RESULTS = Path(__file__).resolve().parent / "results"
DISPLAY = RESULTS / "display.json"
RUNS = "runs.jsonl"
SCORES = ("acsa", "gm_macro", "f1_macro")
# Per-row settings that do not make two rows incomparable: the seeds of the command, the data folder.
LOCAL_SETTINGS = ("seeds", "root")


def read_runs(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The rows of a runs file, in the order they were appended (``[]`` when it does not exist)."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def append_run(path: str | os.PathLike, row: dict[str, Any]) -> None:
    """Append one row to a runs file (one line, flushed at once)."""
    with open(path, "a", encoding="utf-8") as file:
        file.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")


def protocol(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings that make two rows comparable (all but the seeds and the data folder)."""
    return {key: value for key, value in settings.items() if key not in LOCAL_SETTINGS}


def load_display(path: str | os.PathLike = DISPLAY) -> list[dict[str, Any]]:
    """The renames of ``display.json``: ``[{"commits": [...], "names": {measured: shown}}, ...]``."""
    path = Path(path)
    return json.loads(path.read_text(encoding="utf-8"))["renames"] if path.exists() else []


def shown_name(row: dict[str, Any], display: list[dict[str, Any]]) -> str:
    """The name ``row`` is shown under: its own, unless ``display`` renames it at its commit."""
    commit = row.get("commit") or ""
    for rename in display:
        if row["method"] in rename["names"] and any(commit.startswith(c) for c in rename["commits"]):
            return rename["names"][row["method"]]
    return row["method"]


def table_specs(folder: Path) -> dict[str, dict[str, Any]]:
    """``{file name: spec}`` of the folder's tables (``tables.json``, or one ``table.md`` of everything)."""
    path = folder / "tables.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"table.md": {}}


def select(folder: Path, spec: dict[str, Any], display: list[dict[str, Any]]) -> dict[str, dict[int, dict]]:
    """``{shown name: {seed: row}}`` of the rows ``spec`` shows, names in table order."""
    rows = [row for name in spec.get("runs", [RUNS]) for row in read_runs(folder / name)]
    where = spec.get("where", {})
    rows = [row for row in rows if all(row.get(field) in values for field, values in where.items())]
    if "seeds" in spec:
        rows = [row for row in rows if row["seed"] in spec["seeds"]]
    order = spec.get("methods") or list(dict.fromkeys(shown_name(row, display) for row in rows))
    chosen: dict[str, dict[int, dict]] = {name: {} for name in order}
    for row in rows:
        name = shown_name(row, display)
        if name in chosen:
            chosen[name][row["seed"]] = row  # of several rows of one (name, seed), the last appended
    chosen = {name: dict(sorted(by_seed.items())) for name, by_seed in chosen.items() if by_seed}
    settings = [protocol(row.get("settings", {})) for by_seed in chosen.values() for row in by_seed.values()]
    for other in settings[1:]:
        if other != settings[0]:
            differ = sorted(key for key in other.keys() | settings[0].keys() if other.get(key) != settings[0].get(key))
            raise ValueError(f"{folder}: the rows of one table were measured with other settings ({', '.join(differ)})")
    return chosen


def summarise(chosen: dict[str, dict[int, dict]], test: str) -> dict[str, dict[str, tuple[float, float]]]:
    """name → score → (mean, std) in %, over the seeds that scored it on ``test``."""
    table = {}
    for name, by_seed in chosen.items():
        values = {s: [100 * row[test][s] for row in by_seed.values() if test in row] for s in SCORES}
        if all(values.values()):
            table[name] = {
                s: (statistics.mean(v), statistics.stdev(v) if len(v) > 1 else 0.0) for s, v in values.items()
            }
    return table


def machine_summary(machine: dict[str, Any]) -> str:
    """One line for a machine record: processor, CPUs, device (and GPU), torch."""
    parts = [
        machine.get("processor"),
        f"{machine['cpu_count']} CPUs" if "cpu_count" in machine else None,
        f"device {machine['device']}" if "device" in machine else None,
        machine.get("gpu"),
    ]
    head = ", ".join(part for part in parts if part)
    return f"{head}; torch {machine['torch']}" if "torch" in machine else head


def machines_line(chosen: dict[str, dict[int, dict]]) -> str:
    """The machine(s) the shown rows ran on."""
    summaries = sorted(
        {machine_summary(row.get("machine", {})) for by_seed in chosen.values() for row in by_seed.values()}
    )
    if len(summaries) == 1:
        return f"machine: {summaries[0]}."
    return (
        f"machines: {' | '.join(summaries)} (each row's `machine` in its runs file; the seconds are its own machine's)."
    )


def reference_text(rows: list[dict[str, Any]]) -> str:
    """The reference classifier(s) that scored the rows' synthetic images."""
    recorded = [row["reference"] for row in rows if "acsa" in row.get("reference", {})]
    if not recorded:
        return "A reference classifier trained on the full balanced training pool"

    def listed(values: list[str]) -> str:
        return " / ".join(dict.fromkeys(values))

    classifiers = listed([r.get("classifier", "reference") for r in recorded])
    pools = listed([str(sum(r.get("pool_counts", []))) for r in recorded])
    scores = listed([f"{100 * r['acsa']:.2f}" for r in sorted(recorded, key=lambda r: -r["acsa"])])
    several = ", each row's `reference` naming its own" if "/" in scores else ""
    missing = len(rows) - len(recorded)
    unrecorded = f"; not recorded for {missing} of the {len(rows)} rows" if missing else ""
    return (
        f"A {classifiers} trained on the full balanced training pool ({pools} images, "
        f"balanced-test ACSA {scores}{several}{unrecorded})"
    )


def quality_lines(chosen: dict[str, dict[int, dict]]) -> list[str]:
    """The synthetic-image quality table: per method, per class, averaged over the seeds."""
    rows = {name: [row for row in by_seed.values() if "quality" in row] for name, by_seed in chosen.items()}
    rows = {name: found for name, found in rows.items() if found}
    if not rows:
        return []
    classes = sorted({int(c) for found in rows.values() for row in found for c in row["quality"]})
    lines = [
        "## Synthetic-image quality per class",
        "",
        f"{reference_text([row for found in rows.values() for row in found])} labels each synthetic image. "
        "`agree` = the share given its intended class (%), mean over the classes; `FD` = Fréchet distance "
        "between the reference's penultimate features of the synthetic and the real test images of the class, "
        "mean over the classes. Then the agreement per class.",
        "",
        "| method | agree | FD | " + " | ".join(f"class {c}" for c in classes) + " |",
        "|---|---|---|" + "---|" * len(classes),
    ]
    for name, found in rows.items():

        def mean(key: str, label: int | None = None) -> float:
            picked = [
                q[c][key] for q in (row["quality"] for row in found) for c in q if label is None or int(c) == label
            ]
            return statistics.mean(picked) if picked else float("nan")

        per_class = " | ".join("—" if math.isnan(a := mean("agreement", c)) else f"{100 * a:.1f}" for c in classes)
        lines.append(f"| {name} | {100 * mean('agreement'):.1f} | {mean('frechet'):.2f} | {per_class} |")
    return lines + [""]


def paired_lines(chosen: dict[str, dict[int, dict]], references: list[str]) -> list[str]:
    """Each row's balanced-test ACSA minus each reference's, seed by seed: mean ± standard error."""
    references = [name for name in references if name in chosen]
    if not references:
        return []
    lines = [
        "## Paired differences — balanced test ACSA (percentage points)",
        "",
        "Each cell: the row's ACSA minus the column's, seed by seed, mean ± standard error (the standard "
        "deviation of the differences / √n) over the n seeds both have.",
        "",
        "| method | " + " | ".join(f"− {name}" for name in references) + " |",
        "|---|" + "---|" * len(references),
    ]
    for name, by_seed in chosen.items():
        cells = []
        for reference in references:
            seeds = sorted(by_seed.keys() & chosen[reference].keys())
            gaps = [100 * (by_seed[s]["balanced"]["acsa"] - chosen[reference][s]["balanced"]["acsa"]) for s in seeds]
            if name == reference or not gaps:
                cells.append("—")
            elif len(gaps) == 1:
                cells.append(f"{gaps[0]:+.2f} (n = 1)")
            else:
                error = statistics.stdev(gaps) / math.sqrt(len(gaps))
                cells.append(f"{statistics.mean(gaps):+.2f} ± {error:.2f} (n = {len(gaps)})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines + [""]


FIT_COST = {
    "rss_before_fit_mib": ("RSS before the fit, MiB", "{:.0f}"),
    "peak_rss_fit_mib": ("peak RSS in it, MiB", "{:.0f}"),
    "rss_after_fit_mib": ("RSS after it, MiB", "{:.0f}"),
    "autoencoder_seconds_per_epoch": ("autoencoder s/epoch", "{:.2f}"),
    "generation_items_per_s": ("synthetic items/s", "{:.0f}"),
}


def fit_cost_lines(chosen: dict[str, dict[int, dict]]) -> list[str]:
    """The fit's cost per method, mean over the seeds, for rows that record a ``fit_cost``
    (``benchmarks/large_images.py``)."""
    rows = {
        name: [row["fit_cost"] for row in by_seed.values() if "fit_cost" in row] for name, by_seed in chosen.items()
    }
    rows = {name: found for name, found in rows.items() if found}
    if not rows:
        return []
    lines = [
        "## Fit cost",
        "",
        "Mean over the seeds. RSS: the resident memory of the run's own process (base images, model, "
        "imported libraries); synthetic items/s: every synthetic item served once through a `DataLoader`.",
        "",
        "| method | seeds | " + " | ".join(label for label, _ in FIT_COST.values()) + " |",
        "|---|---|" + "---|" * len(FIT_COST),
    ]
    for name, found in rows.items():
        cells = [form.format(statistics.mean(cost[key] for cost in found)) for key, (_, form) in FIT_COST.items()]
        lines.append(f"| {name} | {len(found)} | " + " | ".join(cells) + " |")
    return lines + [""]


def names_lines(chosen: dict[str, dict[int, dict]]) -> list[str]:
    """The rows shown under another name than the one they were measured under."""
    renamed: dict[tuple[str, str], set[str]] = {}
    for name, by_seed in chosen.items():
        for row in by_seed.values():
            if row["method"] != name:
                renamed.setdefault((name, row["method"]), set()).add((row.get("commit") or "?")[:7])
    if not renamed:
        return []
    lines = [
        "## Names",
        "",
        "Rows measured under a name that meant another recipe at their commit, shown under today's name "
        "for that recipe (`benchmarks/results/display.json`):",
        "",
        "| shown as | measured as | at commits |",
        "|---|---|---|",
    ]
    for (shown, measured), commits in renamed.items():
        lines.append(f"| {shown} | {measured} | {', '.join(sorted(commits))} |")
    return lines + [""]


def markdown(folder: Path, spec: dict[str, Any], display: list[dict[str, Any]] | None = None) -> str:
    """The table ``spec`` describes, from the runs files of ``folder``."""
    from profiles import PAPER_FMNIST  # the paper's figures (profiles imports torch: only here)

    chosen = select(folder, spec, load_display() if display is None else display)
    if not chosen:
        raise ValueError(f"{folder}: no rows to show")
    first = next(iter(next(iter(chosen.values())).values()))
    settings, profile = first.get("settings", {}), first.get("profile", "?")
    seeds = sorted({seed for by_seed in chosen.values() for seed in by_seed})
    files = ", ".join(f"`{name}`" for name in spec.get("runs", [RUNS]))
    lines = [
        f"# {spec.get('title', f'Comparison, profile `{profile}`')}",
        "",
        f"Data: {settings.get('dataset')}; classifier: {settings.get('classifier')}; seeds: {seeds}; "
        f"epochs: {settings.get('epochs')}; batch {settings.get('batch_size')}; {machines_line(chosen)}",
        "",
        f"Generated by `benchmarks/tables.py` from {files}; do not edit.",
        "",
    ]
    for test in ("balanced", "imbalanced"):
        table = summarise(chosen, test)
        if not table:
            continue
        paper_note = " (paper: Fashion-MNIST, imbalanced test, ResNet-18, 5-fold CV)" if test == "imbalanced" else ""
        lines += [
            f"## {test.capitalize()} test set — ACSA / GM / F1, mean ± std over the seeds (%)",
            "",
            f"| method | seeds | ACSA | GM | F1 | paper ACSA / GM / F1{paper_note} | resample s | train s |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, scores in table.items():
            paper = "—"
            if test == "imbalanced" and settings.get("dataset") == "fashion-mnist":
                paper = PAPER_FMNIST.get(name, "—")
            rows = list(chosen[name].values())
            seconds = [statistics.mean(row[k] for row in rows) for k in ("resample_seconds", "train_seconds")]
            cells = " | ".join(f"{m:.2f}" if len(rows) == 1 else f"{m:.2f} ± {sd:.2f}" for m, sd in scores.values())
            lines.append(f"| {name} | {len(rows)} | {cells} | {paper} | {seconds[0]:.1f} | {seconds[1]:.1f} |")
        lines.append("")
    paired = paired_lines(chosen, spec.get("paired", []))
    return "\n".join(lines + paired + fit_cost_lines(chosen) + quality_lines(chosen) + names_lines(chosen))


def generate(folder: str | os.PathLike, display: list[dict[str, Any]] | None = None) -> dict[str, str]:
    """``{file name: text}`` of every table of ``folder``, generated from its runs files."""
    folder = Path(folder)
    display = load_display() if display is None else display
    return {name: markdown(folder, spec, display) for name, spec in table_specs(folder).items()}


def write(folder: str | os.PathLike) -> list[Path]:
    """Write every table of ``folder``; the paths written."""
    written = []
    for name, text in generate(folder).items():
        (Path(folder) / name).write_text(text, encoding="utf-8")
        written.append(Path(folder) / name)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="results folders (each with a runs.jsonl)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 where a table differs")
    args = parser.parse_args(argv)
    differ = []
    for folder in map(Path, args.folders):
        if not (folder / RUNS).exists():
            continue
        if not args.check:
            print("\n".join(f"wrote {path}" for path in write(folder)))
            continue
        for name, text in generate(folder).items():
            path = folder / name
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                differ.append(path)
    for path in differ:
        print(f"differs from its runs: {path} (python benchmarks/tables.py {path.parent})")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
