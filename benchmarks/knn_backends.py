"""Time the k-NN backends of ``torch_deepsmote.latent.neighbors`` side by side.

For every size ``n`` one fresh subprocess draws ``n`` standard-normal float32 points
in ``--dim`` dimensions (seeded) and measures every backend (``torch``, ``keops``,
``auto``) not skipped at that size. Backends running the same engine (``auto`` and
the backend it resolves to) are timed call by call in rotating order, so that load
from other processes hits them alike; the torch engine is timed before KeOps is first
called (KeOps's OpenMP threads keep spinning after its calls and slow down torch
calls that follow). Each backend first makes one warm-up call on ``k + 2`` points
(this compiles or loads the KeOps kernel, which depends on ``d``, ``k`` and the dtype
but not on ``n``); it is reported as ``first call`` and excluded from the timings.
Calls repeat until each backend has had about ``--min-total-s`` seconds of calls (at
least one call, at most ``--max-repeats``).

KeOps writes its kernels into a fresh temporary build folder for the run, so the
first KeOps warm-up shows the full compile time.

Peak memory, measured on each backend's first timed call: on CPU the growth of the
process's peak resident set size over the call (Linux ``VmHWM``, reset before the
call through ``/proc/self/clear_refs``), so it includes everything the call
allocates (the centred copy of the points, the score block, KeOps buffers); on CUDA
the growth of ``torch.cuda.max_memory_allocated``. The torch backend's theoretical
score block (``chunk rows * n * 4`` bytes) is reported next to it.

A backend is skipped at a size when its median time at the previous measured size,
scaled by ``(n / n_prev) ** 2``, predicts more than ``--budget-s`` seconds per call;
``auto`` is predicted from the backend it picked, so it runs exactly when that one does.

Usage::

    python benchmarks/knn_backends.py --out benchmarks/results/performance/knn_backends_cpu
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("torch", "keops", "auto")


# --------------------------------------------------------------------------- worker (one size)


def _proc_status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(f"{field} not in /proc/self/status")


class PeakMemory:
    """Peak memory growth of one call: CUDA allocator peak, or Linux peak RSS (VmHWM)."""

    def __init__(self, device: Any) -> None:
        self.device = device
        self.base = 0

    def start(self) -> None:
        import torch

        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base = torch.cuda.memory_allocated(self.device)
            return
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
        self.base = _proc_status_kib("VmRSS") * 1024

    def growth(self) -> int:
        import torch

        if self.device.type == "cuda":
            return torch.cuda.max_memory_allocated(self.device) - self.base
        return _proc_status_kib("VmHWM") * 1024 - self.base


def worker(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Measure the given backends at one size in this process.

    Backends that run the same engine (``auto`` and the backend it resolves to) are
    timed call by call in rotating order, so that they share any outside load; the
    torch engine is timed before KeOps is first called, because KeOps's OpenMP threads
    keep spinning after each of its calls and slow down torch calls that follow.
    """
    import torch

    from torch_deepsmote.latent.neighbors import default_chunk_size, kneighbors, resolve_backend

    device = torch.device(config["device"])
    n, k, backends = config["n"], config["k"], config["backends"]
    x = torch.randn(n, config["dim"], generator=torch.Generator().manual_seed(config["seed"])).to(device)

    def timed_call(points: Any, backend: str) -> float:
        start = time.perf_counter()
        kneighbors(points, k, backend)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start

    results: dict[str, dict[str, Any]] = {b: {"resolved": resolve_backend(b, x)} for b in backends}
    meter = PeakMemory(device)
    for engine in ("torch", "keops"):
        group = [b for b in backends if results[b]["resolved"] == engine]
        for backend in group:  # warm-up: compiles or loads the KeOps kernel
            results[backend]["first_call_s"] = timed_call(x[: k + 2], backend)
        times: dict[str, list[float]] = {b: [] for b in group}
        for rounds in itertools.count():
            active = [
                b
                for b in group
                if not times[b] or (sum(times[b]) < config["min_total_s"] and len(times[b]) < config["max_repeats"])
            ]
            if not active:
                break
            shift = rounds % len(active)
            for backend in active[shift:] + active[:shift]:
                if rounds == 0:
                    meter.start()
                times[backend].append(timed_call(x, backend))
                if rounds == 0:
                    results[backend]["peak_memory_growth_bytes"] = meter.growth()
        for backend in group:
            results[backend].update(
                times_s=times[backend], median_s=statistics.median(times[backend]), min_s=min(times[backend])
            )
    rows = default_chunk_size(n, 4)
    for backend in backends:
        results[backend].update(
            torch_chunk_rows=rows, torch_block_bytes=rows * n * 4, torch_threads=torch.get_num_threads()
        )
    return results


def run_worker(config: dict[str, Any], env: dict[str, str], timeout_s: float) -> dict[str, Any]:
    """Run :func:`worker` in a fresh interpreter; ``{"error": ...}`` if it fails."""
    command = [sys.executable, __file__, "--worker", json.dumps(config)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_s:.0f} s"}
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else f"exit status {result.returncode}"}
    return json.loads(result.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- driver


def machine_info(device: str) -> dict[str, Any]:
    from _environment import describe_machine  # imports torch, which this process otherwise leaves alone

    try:
        pykeops = importlib.metadata.version("pykeops")
    except importlib.metadata.PackageNotFoundError:
        pykeops = "not installed"
    return describe_machine(device) | {
        "pykeops": pykeops,
        "load_average_at_start": os.getloadavg(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def predicted_seconds(previous: tuple[int, float] | None, n: int) -> float | None:
    """Quadratic extrapolation of one call's time from the last measured size."""
    if previous is None:
        return None
    n_prev, seconds = previous
    return seconds * (n / n_prev) ** 2


def measure_all(args: argparse.Namespace, build_dir: str) -> list[dict[str, Any]]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["TORCH_DEEPSMOTE_KEOPS_BUILD_DIR"] = build_dir
    env.setdefault("PYKEOPS_VERBOSE", "0")
    last: dict[str, tuple[int, float]] = {}  # backend -> (n, median seconds) at the last size measured
    last_pick: dict[str, str] = {}  # "auto" -> the backend it resolved to at the last size measured
    rows = []
    for n in args.sizes:
        entries = {b: {"n": n, "backend": b} for b in BACKENDS}
        for backend, entry in entries.items():
            if backend not in args.backends:
                entry["not_requested"] = True
                continue
            # auto is predicted like the backend it picked last time, so both run or neither.
            engine = last_pick.get(backend, backend)
            predicted = predicted_seconds(last.get(engine), n)
            if predicted is not None and predicted > args.budget_s:
                entry["skipped_predicted_s"] = predicted
                print(f"n={n:>7} {backend:>5}: skipped (predicted {predicted:.0f} s)", flush=True)
        chosen = [b for b, e in entries.items() if not {"skipped_predicted_s", "not_requested"} & e.keys()]
        if chosen:
            config = {
                "n": n,
                "dim": args.dim,
                "k": args.k,
                "backends": chosen,
                "seed": args.seed,
                "device": args.device,
                "min_total_s": args.min_total_s,
                "max_repeats": args.max_repeats,
            }
            measured = run_worker(config, env, timeout_s=max(300.0, 10 * args.budget_s))
            for backend in chosen:
                entry = entries[backend]
                entry.update(measured.get(backend, {"error": measured.get("error", "missing")}))
                if "median_s" in entry:
                    last[backend] = (n, entry["median_s"])
                    if backend == "auto":
                        last_pick["auto"] = entry["resolved"]
                    print(
                        f"n={n:>7} {backend:>5}: median {entry['median_s']:.4f} s, "
                        f"min {entry['min_s']:.4f} s "
                        f"({len(entry['times_s'])} calls), first call {entry['first_call_s']:.2f} s, "
                        f"resolves to {entry['resolved']}",
                        flush=True,
                    )
                else:
                    print(f"n={n:>7} {backend:>5}: {entry['error']}", flush=True)
        rows.extend(entries.values())
    return rows


def auto_check(rows: list[dict[str, Any]], n: int) -> dict[str, Any] | None:
    """``auto``'s best time over the faster backend's at size ``n`` (None if not all measured)."""
    best = {r["backend"]: r["min_s"] for r in rows if r["n"] == n and "min_s" in r}
    if "auto" not in best or not ({"torch", "keops"} & best.keys()):
        return None
    fastest = min((best[b], b) for b in ("torch", "keops") if b in best)
    ratio = best["auto"] / fastest[0]
    return {"fastest": fastest[1], "ratio": ratio, "ok": ratio <= 1.10}


# --------------------------------------------------------------------------- report


def cell(rows: list[dict[str, Any]], n: int, backend: str) -> str:
    entry = next(r for r in rows if r["n"] == n and r["backend"] == backend)
    if "not_requested" in entry:
        return "not run"
    if "skipped_predicted_s" in entry:
        return f"skipped (predicted {entry['skipped_predicted_s']:.0f} s)"
    if "error" in entry:
        return f"error: {entry['error']}"
    return f"{entry['median_s']:.4g} ({entry['min_s']:.4g})"


def memory_cell(rows: list[dict[str, Any]], n: int, backend: str) -> str:
    entry = next(r for r in rows if r["n"] == n and r["backend"] == backend)
    if "peak_memory_growth_bytes" not in entry:
        return "–"
    return f"{entry['peak_memory_growth_bytes'] / 2**20:.1f}"


def markdown(args: argparse.Namespace, machine: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    keops_first = [r["first_call_s"] for r in rows if r["backend"] == "keops" and "first_call_s" in r]
    compile_line = "KeOps was not measured."
    if keops_first:
        compile_line = (
            f"KeOps first call (compiles into a fresh build folder; d={args.dim}, k={args.k}, float32): "
            f"{keops_first[0]:.1f} s; first calls at the later sizes (kernel loaded from disk): "
            + (", ".join(f"{t:.2f} s" for t in keops_first[1:]) or "–")
        )
    threads = next((r["torch_threads"] for r in rows if "torch_threads" in r), "?")
    load = ", ".join(f"{v:.2f}" for v in machine["load_average_at_start"])
    load_end = ", ".join(f"{v:.2f}" for v in machine["load_average_at_end"])
    lines = [
        f"# k-NN backends on {args.device}" + (f" ({machine['gpu']})" if "gpu" in machine else ""),
        "",
        f"`python benchmarks/knn_backends.py {args.command}`",
        "",
        f"- machine: {machine['platform']}, {machine['processor']}, {machine['cpu_count']} CPUs "
        f"(torch threads: {threads}); load average (1, 5, 15 min) at start {load}, at end {load_end}",
        f"- python {machine['python']}, torch {machine['torch']}, pykeops {machine['pykeops']}; {machine['date']}",
        f"- data: n standard-normal float32 points, d={args.dim}, k={args.k}, seed={args.seed}",
        f"- times: seconds per `kneighbors` call, median (min), one process per size; auto and the backend it"
        f" resolves to are timed call by call in rotating order, torch before KeOps;"
        f" about {args.min_total_s} s of calls per backend (at most {args.max_repeats}) after a warm-up call on k+2 points; a backend is"
        f" skipped when the previous size's time × (n/n_prev)² exceeds {args.budget_s} s",
        f"- {compile_line}",
        "- peak MiB: growth of peak RSS (Linux VmHWM, reset just before) over one call, so it includes the"
        " centred copy of the points (n × d × 4 bytes); torch block MiB: theoretical score block"
        " (chunk rows × n × 4 bytes)",
        "- auto/fastest: auto's min time over the faster backend's min time (must be ≤ 1.10)",
        "",
        "| n | torch s | keops s | auto s | auto → | auto/fastest "
        "| torch peak MiB | torch block MiB | keops peak MiB |",
        "|---:|---:|---:|---:|:---:|---:|---:|---:|---:|",
    ]
    for n in args.sizes:
        check = auto_check(rows, n)
        auto = next(r for r in rows if r["n"] == n and r["backend"] == "auto")
        resolved = auto.get("resolved", "–")
        ratio = "–" if check is None else f"{check['ratio']:.2f} {'ok' if check['ok'] else 'SLOWER'}"
        blocks = [r["torch_block_bytes"] for r in rows if r["n"] == n and "torch_block_bytes" in r]
        block = f"{blocks[0] / 2**20:.1f}" if blocks else "–"
        times = " | ".join(cell(rows, n, b) for b in BACKENDS)
        memory = f"{memory_cell(rows, n, 'torch')} | {block} | {memory_cell(rows, n, 'keops')}"
        lines.append(f"| {n} | {times} | {resolved} | {ratio} | {memory} |")
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[40, 400, 4000, 40000, 200000])
    parser.add_argument("--dim", type=int, default=300)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS), help="the backends to time (default: all)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget-s", type=float, default=120.0, help="skip a call predicted to take longer")
    parser.add_argument("--min-total-s", type=float, default=1.0, help="repeat calls until this much time")
    parser.add_argument("--max-repeats", type=int, default=200)
    parser.add_argument("--out", type=Path, default=None, help="path stem: writes STEM.md and STEM.json")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker is not None:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    args.command = " ".join(sys.argv[1:] if argv is None else argv)
    machine = machine_info(args.device)
    with tempfile.TemporaryDirectory(prefix="keops_build_") as build_dir:
        rows = measure_all(args, build_dir)
    machine["load_average_at_end"] = os.getloadavg()
    report = markdown(args, machine, rows)
    print(report)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".md").write_text(report)
        checks = {str(n): auto_check(rows, n) for n in args.sizes}
        payload = {
            "arguments": {key: value for key, value in vars(args).items() if key != "worker"},
            "machine": machine,
            "measurements": rows,
            "auto_checks": checks,
        }
        args.out.with_suffix(".json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
