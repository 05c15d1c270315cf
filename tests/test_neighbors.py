"""Tests for torch_deepsmote.latent.neighbors, against a brute-force full-matrix oracle."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from torch_deepsmote.latent import keops as _keops
from torch_deepsmote.latent import neighbors
from torch_deepsmote.latent.neighbors import kneighbors, resolve_backend

REPO_ROOT = Path(__file__).resolve().parents[1]


def squared_distances(x: torch.Tensor) -> torch.Tensor:
    """Full (n, n) float64 squared distances by direct differences, self at +inf."""
    x = x.double()
    dist = ((x[:, None, :] - x[None, :, :]) ** 2).sum(dim=2)
    dist.fill_diagonal_(float("inf"))
    return dist


def oracle(x: torch.Tensor, k: int) -> torch.Tensor:
    return squared_distances(x).argsort(dim=1, stable=True)[:, :k]


def neighbour_distances(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    return squared_distances(x).gather(1, idx)


def oracle_distances(x: torch.Tensor, k: int) -> torch.Tensor:
    return squared_distances(x).sort(dim=1).values[:, :k]


def assert_valid_table(idx: torch.Tensor, n: int, k: int) -> None:
    assert idx.dtype == torch.int64
    assert idx.shape == (n, k)
    assert bool(((idx >= 0) & (idx < n)).all())
    assert not bool((idx == torch.arange(n).unsqueeze(1)).any()), "a point is its own neighbour"
    assert all(len(set(row.tolist())) == k for row in idx), "repeated neighbour in a row"


def random_points(n: int, d: int, dtype: torch.dtype = torch.float64, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=generator, dtype=dtype)


def duplicated_points(copies: int, distinct: int = 6, d: int = 4) -> torch.Tensor:
    """``copies`` exact copies of ``distinct`` points, interleaved: shape (copies * distinct, d)."""
    return random_points(distinct, d, torch.float32, seed=1).repeat(copies, 1)


# --------------------------------------------------------------------------- torch backend


@pytest.mark.parametrize("chunk_size", [None, 1, 7, 97, 1000])
def test_torch_matches_oracle_exactly_in_float64(chunk_size):
    x = random_points(97, 6)
    got = kneighbors(x, 5, "torch", chunk_size=chunk_size)
    assert torch.equal(got, oracle(x, 5))


def test_torch_float32_high_dimension_matches_oracle_distances():
    x = random_points(300, 300, torch.float32, seed=2)
    got = kneighbors(x, 6, "torch")
    assert_valid_table(got, 300, 6)
    torch.testing.assert_close(neighbour_distances(x, got), oracle_distances(x, 6), rtol=1e-5, atol=1e-4)


def test_torch_is_accurate_for_points_far_from_the_origin():
    # |x|^2 ~ 3e8 while neighbour distances^2 ~ 1e-3: the expanded form needs centring.
    x = 1e4 + 0.01 * random_points(200, 3, torch.float32, seed=3)
    got = kneighbors(x, 4, "torch")
    torch.testing.assert_close(neighbour_distances(x, got), oracle_distances(x, 4), rtol=1e-3, atol=1e-6)


def test_torch_duplicates_come_first_and_self_is_excluded():
    x = duplicated_points(copies=4)  # every point has 3 exact duplicates
    got = kneighbors(x, 5, "torch", chunk_size=5)
    assert_valid_table(got, 24, 5)
    dist = neighbour_distances(x, got)
    assert bool((dist[:, :3] == 0).all()), "the 3 duplicates must be the 3 nearest"
    assert bool((dist[:, 3:] > 0).all())


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 30),
    d=st.integers(1, 4),
    data=st.data(),
)
def test_torch_matches_oracle_distances_with_ties(n, d, data):
    # Small integer coordinates: many exact ties and duplicates, exact float64 arithmetic.
    k = data.draw(st.integers(1, n - 1), label="k")
    chunk_size = data.draw(st.none() | st.integers(1, n + 1), label="chunk_size")
    values = data.draw(st.lists(st.integers(-2, 2), min_size=n * d, max_size=n * d), label="values")
    x = torch.tensor(values, dtype=torch.float64).view(n, d)
    got = kneighbors(x, k, "torch", chunk_size=chunk_size)
    assert_valid_table(got, n, k)
    assert torch.equal(neighbour_distances(x, got), oracle_distances(x, k))


def test_k_equals_n_minus_one():
    assert torch.equal(kneighbors(torch.tensor([[0.0], [1.0]]), 1, "torch"), torch.tensor([[1], [0]]))
    x = random_points(6, 3)
    assert torch.equal(kneighbors(x, 5, "torch"), oracle(x, 5))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_output_is_int64_on_input_device_for_every_float_dtype(dtype):
    x = random_points(40, 5, dtype=torch.float32, seed=4).to(dtype)
    got = kneighbors(x, 3)
    assert_valid_table(got, 40, 3)
    assert got.device == x.device


def test_input_requiring_grad_is_accepted_and_untouched():
    x = random_points(30, 4).requires_grad_()
    before = x.detach().clone()
    got = kneighbors(x, 2, "torch")
    assert not got.requires_grad
    assert torch.equal(x.detach(), before)


def test_default_chunk_size_bounds_the_block():
    assert neighbors.default_chunk_size(1000, 4) == 1000
    rows = neighbors.default_chunk_size(200_000, 4)
    assert rows * 200_000 * 4 <= neighbors.DEFAULT_BLOCK_BYTES < (rows + 1) * 200_000 * 4
    assert neighbors.default_chunk_size(10**9, 8) == 1


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("x", "k", "kwargs", "error", "match"),
    [
        ([[0.0, 1.0], [1.0, 0.0]], 1, {}, TypeError, r"`x` must be a torch\.Tensor.*list"),
        (torch.arange(6).view(3, 2), 1, {}, TypeError, r"`x` must be a floating.*torch\.int64"),
        (torch.zeros(3, 2, dtype=torch.complex64), 1, {}, TypeError, r"`x` must be a floating"),
        (torch.zeros(6), 1, {}, ValueError, r"`x` must be 2-D.*\(6,\)"),
        (torch.zeros(2, 3, 2), 1, {}, ValueError, r"`x` must be 2-D.*\(2, 3, 2\)"),
        (torch.zeros(3, 0), 1, {}, ValueError, r"`x` must have at least one column.*\(3, 0\)"),
        (torch.tensor([[0.0], [float("nan")]]), 1, {}, ValueError, r"`x` must hold finite.*NaN"),
        (torch.tensor([[0.0], [float("inf")]]), 1, {}, ValueError, r"`x` must hold finite.*inf"),
        (torch.zeros(5, 2), True, {}, TypeError, r"`k` must be an int.*True"),
        (torch.zeros(5, 2), 2.0, {}, TypeError, r"`k` must be an int.*2\.0"),
        (torch.zeros(5, 2), 0, {}, ValueError, r"`k` must be an int >= 1, got 0"),
        (torch.zeros(5, 2), 5, {}, ValueError, r"`k` must be <= n - 1 = 4.*n = 5.*k = 5"),
        (torch.zeros(1, 2), 1, {}, ValueError, r"`k` must be <= n - 1 = 0.*n = 1.*at least 2"),
        (torch.zeros(5, 2), 1, {"backend": "faiss"}, ValueError, r"`backend` must be one of.*'faiss'"),
        (torch.zeros(5, 2), 1, {"backend": None}, ValueError, r"`backend` must be one of.*None"),
        (torch.zeros(5, 2), 1, {"chunk_size": 0}, ValueError, r"`chunk_size` must be an int >= 1, got 0"),
        (torch.zeros(5, 2), 1, {"chunk_size": 2.5}, TypeError, r"`chunk_size` must be an int"),
    ],
)
def test_bad_arguments_raise_naming_the_parameter(x, k, kwargs, error, match):
    with pytest.raises(error, match=match):
        kneighbors(x, k, **kwargs)


# --------------------------------------------------------------------------- backend choice


def test_auto_resolves_to_torch_on_cpu_even_when_keops_is_available(monkeypatch):
    monkeypatch.setattr(_keops, "importable", lambda: True)
    for n in (10, neighbors.CUDA_KEOPS_MIN_POINTS, 10 * neighbors.CUDA_KEOPS_MIN_POINTS):
        assert resolve_backend("auto", torch.empty(n, 2)) == "torch"
    assert resolve_backend("keops", torch.empty(3, 2)) == "keops"
    assert resolve_backend("torch", torch.empty(3, 2)) == "torch"


@pytest.mark.parametrize("importable", [True, False])
def test_auto_rule_on_cuda(monkeypatch, importable):
    monkeypatch.setattr(_keops, "importable", lambda: importable)
    threshold = neighbors.CUDA_KEOPS_MIN_POINTS

    def fake(n):  # resolve_backend only reads .device and .shape
        return SimpleNamespace(device=torch.device("cuda"), shape=(n, 300))

    assert resolve_backend("auto", fake(threshold - 1)) == "torch"
    assert resolve_backend("auto", fake(threshold)) == ("keops" if importable else "torch")


def test_importing_the_package_does_not_import_pykeops():
    code = textwrap.dedent(
        """
        import sys, torch
        import torch_deepsmote, torch_deepsmote.latent.neighbors as nb
        x = torch.randn(50, 3)
        nb.kneighbors(x, 3); nb.kneighbors(x, 3, "torch")
        print("pykeops" in sys.modules, "pykeops.torch" in sys.modules)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


# --------------------------------------------------------------------------- keops plumbing (no compile)


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [
        ([[0, 3, 1]], [[3, 1]]),  # self first: dropped
        ([[2, 0, 1]], [[2, 1]]),  # self in the middle (tie at distance 0): dropped, order kept
        ([[2, 1, 0]], [[2, 1]]),  # self last
        ([[2, 3, 1]], [[2, 3]]),  # self crowded out by duplicates: the last is dropped
        ([[1, 0], [1, 0]], [[1], [0]]),  # k = n - 1: each row keeps the other point
        ([[1, 2], [2, 0], [0, 1]], [[1], [2], [0]]),  # no row holds itself: drop the last
    ],
)
def test_drop_self(candidates, expected):
    assert torch.equal(_keops.drop_self(torch.tensor(candidates)), torch.tensor(expected))


@pytest.fixture
def fresh_keops_import(monkeypatch):
    """Make the module forget its lazily imported pykeops for one test."""
    monkeypatch.setattr(_keops, "_pykeops", None)


def test_missing_pykeops_raises_import_error_with_hint(monkeypatch, fresh_keops_import):
    monkeypatch.setitem(sys.modules, "pykeops", None)  # makes `import pykeops` fail
    x = random_points(20, 3)
    with pytest.raises(ImportError, match=r"cannot be imported.*C\+\+ compiler.*pip install pykeops") as info:
        kneighbors(x, 2, "keops")
    assert isinstance(info.value.__cause__, ImportError)
    with pytest.raises(ImportError, match="pip install pykeops"):
        neighbors.set_keops_build_folder("/tmp")
    # auto never raises for a missing pykeops, even where it would want KeOps (CUDA, large n).
    assert _keops.importable() is False
    big_cuda = SimpleNamespace(device=torch.device("cuda"), shape=(neighbors.CUDA_KEOPS_MIN_POINTS, 8))
    assert resolve_backend("auto", big_cuda) == "torch"
    assert torch.equal(kneighbors(x, 2), oracle(x, 2))


def test_compile_failure_raises_chained_import_error_and_auto_falls_back(monkeypatch, caplog):
    failure = ValueError("[KeOps] Error : compilation failed")

    def broken(*args, **kwargs):
        raise failure

    fake_pykeops = SimpleNamespace(torch=SimpleNamespace(LazyTensor=None), config=SimpleNamespace(gpu_available=False))
    monkeypatch.setattr(_keops, "import_pykeops", lambda: fake_pykeops)
    monkeypatch.setattr(_keops, "nearest_candidates", broken)
    x = random_points(20, 3)
    with pytest.raises(ImportError, match=r"failed to compile.*C\+\+ compiler.*pip install pykeops") as info:
        kneighbors(x, 2, "keops")
    assert info.value.__cause__ is failure
    # Where auto picks KeOps (CUDA, large n) and it cannot compile, it falls back to torch.
    monkeypatch.setattr(neighbors, "resolve_backend", lambda backend, x: "keops")
    with caplog.at_level(logging.WARNING, logger=neighbors.__name__):
        got = kneighbors(x, 2, "auto")
    assert torch.equal(got, oracle(x, 2))
    assert "falls back to torch" in caplog.text


def test_a_keops_crash_in_the_gpu_probe_becomes_an_import_error(monkeypatch, caplog):
    monkeypatch.setattr(_keops, "_PROBE_CODE", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    assert "killed by SIGSEGV" in _keops.gpu_failure.__wrapped__()
    monkeypatch.setattr(_keops, "_PROBE_CODE", "raise SystemExit('no nvrtc')")
    assert "exited with status 1:\nno nvrtc" in _keops.gpu_failure.__wrapped__()

    monkeypatch.setattr(_keops, "uses_gpu", lambda pykeops: True)
    monkeypatch.setattr(_keops, "gpu_failure", lambda: "a child process was killed by SIGSEGV")
    x = random_points(20, 3)
    with pytest.raises(ImportError, match=r"cannot run its GPU kernels here: a child .*SIGSEGV\n.*backend='torch'"):
        kneighbors(x, 2, "keops")
    monkeypatch.setattr(neighbors, "resolve_backend", lambda backend, x: "keops")
    with caplog.at_level(logging.WARNING, logger=neighbors.__name__):
        assert torch.equal(kneighbors(x, 2, "auto"), oracle(x, 2))
    assert "falls back to torch" in caplog.text


def test_the_gpu_probe_child_can_import_what_it_runs(monkeypatch, tmp_path):
    seen, real_run = {}, subprocess.run

    def fake_run(args, *, env, **kwargs):
        seen.update(args=args, env=env)
        return SimpleNamespace(returncode=0, stderr="")

    monkeypatch.setattr(_keops.subprocess, "run", fake_run)
    assert _keops.gpu_failure.__wrapped__() is None
    # The child finds the package from its PYTHONPATH alone (no site-packages, no installed copy).
    find = "import importlib.util; print(importlib.util.find_spec('torch_deepsmote').origin)"
    done = real_run(
        [sys.executable, "-S", "-c", find], cwd=tmp_path, env=seen["env"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()) == REPO_ROOT / "torch_deepsmote" / "__init__.py"
    # Every name the probe imports from the package exists.
    for node in ast.walk(ast.parse(seen["args"][-1])):
        if isinstance(node, ast.ImportFrom) and node.module.startswith("torch_deepsmote"):
            module = importlib.import_module(node.module)
            for alias in node.names:
                found = hasattr(module, alias.name) or importlib.util.find_spec(f"{node.module}.{alias.name}")
                assert found, f"the probe imports {alias.name} from {node.module}, which has none"


# --------------------------------------------------------------------------- keops backend (compiles)

KEOPS_D, KEOPS_K = 4, 3  # one kernel (d, k + 1, float32) serves every KeOps test below


@pytest.fixture(scope="module")
def keops_results():
    """Every KeOps call of this file, run once (the first one compiles the kernel)."""
    inputs = {
        "random": random_points(80, KEOPS_D, torch.float32, seed=5),
        "duplicates": duplicated_points(copies=5, d=KEOPS_D),  # 4 duplicates each > k
        "k_is_n_minus_1": random_points(KEOPS_K + 1, KEOPS_D, torch.float32, seed=6),
    }
    try:
        outputs = {name: kneighbors(x, KEOPS_K, "keops") for name, x in inputs.items()}
    except ImportError as error:
        pytest.skip(f"pykeops cannot run here: {error} ({error.__cause__!r})")
    return {name: (inputs[name], outputs[name]) for name in inputs}


def test_keops_matches_oracle_and_torch(keops_results):
    x, got = keops_results["random"]
    assert_valid_table(got, 80, KEOPS_K)
    expected = oracle_distances(x, KEOPS_K)
    torch.testing.assert_close(neighbour_distances(x, got), expected, rtol=1e-5, atol=1e-6)
    from_torch = kneighbors(x, KEOPS_K, "torch")
    torch.testing.assert_close(neighbour_distances(x, got), neighbour_distances(x, from_torch), rtol=1e-5, atol=1e-6)


def test_keops_excludes_self_among_many_duplicates(keops_results):
    x, got = keops_results["duplicates"]
    assert_valid_table(got, 30, KEOPS_K)
    assert bool((neighbour_distances(x, got) == 0).all())


def test_keops_k_equals_n_minus_one(keops_results):
    x, got = keops_results["k_is_n_minus_1"]
    assert_valid_table(got, KEOPS_K + 1, KEOPS_K)
    assert torch.equal(neighbour_distances(x, got), oracle_distances(x, KEOPS_K))


def test_keops_on_the_test_device_matches_torch(keops_results, device):
    # keops_results has compiled (or skipped) the CPU kernel; with --device cuda this
    # compiles and checks the CUDA one.
    x = random_points(500, KEOPS_D, torch.float32, seed=7).to(device)
    got = kneighbors(x, KEOPS_K, "keops")
    assert got.device == x.device
    assert_valid_table(got.cpu(), 500, KEOPS_K)
    torch.testing.assert_close(
        neighbour_distances(x, got), neighbour_distances(x, kneighbors(x, KEOPS_K, "torch")), rtol=1e-5, atol=1e-6
    )


def test_the_gpu_probe_passes_where_keops_runs(keops_results):
    # keops_results skipped the test unless KeOps compiles here; the child then runs it too.
    assert _keops.gpu_failure.__wrapped__() is None


def test_keops_build_folder_from_env_then_setter(tmp_path):
    # In a fresh interpreter: the variable must act before pykeops is first imported.
    code = textwrap.dedent(
        """
        import json, logging, os, sys
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
        from torch_deepsmote.latent import keops as _keops, neighbors
        pykeops = _keops.import_pykeops()
        first = pykeops.get_build_folder()
        leaked = "KEOPS_CACHE_FOLDER" in os.environ
        neighbors.set_keops_build_folder(sys.argv[1])
        print(json.dumps([first, pykeops.get_build_folder(), leaked]))
        """
    )
    env = dict(os.environ, TORCH_DEEPSMOTE_KEOPS_BUILD_DIR=str(tmp_path / "env"), PYKEOPS_VERBOSE="0")
    env.pop("KEOPS_CACHE_FOLDER", None)
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "call")],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    first, second, leaked = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(first).parent == tmp_path / "env"  # <folder>/<platform>_p<python>
    assert Path(second) == tmp_path / "call" / Path(first).name
    assert not leaked, "KEOPS_CACHE_FOLDER must not outlive the import"
    assert "already imported" in result.stderr
    # pykeops wrote its formula index at exit into the folder chosen at import, not the default one.
    assert (Path(first) / "LoadKeOps_cpp_class_cache.pkl").is_file()
