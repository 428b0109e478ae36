"""benchmarks/throughput.py: its baselines compute the network's arithmetic, its ratios are the
measured times' ratios, and the authors' class is loaded from a checkout only when given."""

import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import throughput  # noqa: E402
from eager_baseline import eager_forward  # noqa: E402

from asteris import build_network  # noqa: E402


@pytest.mark.parametrize("frames, blocks", [(8, [1, 1, 1, 1]), (4, [1, 1, 1])])
def test_the_eager_baseline_computes_the_network(frames, blocks):
    torch.manual_seed(0)
    net = build_network(frames=frames, f_maps=8, num_blocks=blocks, num_refinement_blocks=1).eval()
    x = torch.randn(1, 1, frames, 16, 16)
    with torch.inference_mode():
        torch.testing.assert_close(eager_forward(net, x), net(x), rtol=1e-5, atol=1e-5)


def rows(ours: float, eager: float, authors: float | None) -> tuple[list[dict], list[dict]]:
    impls = {"asteris": ours, "eager": eager, **({"authors": authors} if authors else {})}
    inference = [{"tile": "8x128x128", "implementation": i, "seconds_per_tile": t} for i, t in impls.items()]
    training = [{"preset": p, "implementation": i, "seconds_per_step": t / 10}
                for p in ("tiny", "small") for i, t in impls.items()]  # fmt: skip
    return inference, training


def test_ratios_against_the_authors_and_the_eager_baseline():
    out = throughput.comparisons(*rows(1.0, 2.5, 2.6))
    assert out["speedup_vs_eager"] == pytest.approx(dict.fromkeys(throughput.COMPARED, 2.5))
    assert out["speedup_vs_authors"] == pytest.approx(dict.fromkeys(throughput.COMPARED, 2.6))
    assert out["eager_vs_authors"]["training_small"] == pytest.approx(2.5 / 2.6)
    assert out["eager_within_10pct_of_authors"] is True
    met = dict.fromkeys(throughput.COMPARED, True)
    assert out["target"] == {"speedup": 2.0, "against": "authors", "met": met}
    slow = throughput.comparisons(*rows(1.0, 1.5, 1.9))
    assert slow["eager_within_10pct_of_authors"] is False and not any(slow["target"]["met"].values())


def test_without_the_authors_class_the_target_is_judged_against_the_eager_baseline():
    out = throughput.comparisons(*rows(1.0, 2.1, None))
    assert out["speedup_vs_authors"] == {} and out["eager_within_10pct_of_authors"] is None
    assert out["target"]["against"] == "eager" and all(out["target"]["met"].values())


def test_the_authors_class_is_loaded_from_a_checkout(tmp_path):
    with pytest.raises(FileNotFoundError, match="--authors-code"):
        throughput.load_authors_class(tmp_path)
    (tmp_path / "asteris").mkdir()
    (tmp_path / "asteris" / "ASTERIS_net_8.py").write_text("class ASTERIS8:\n    pass\n")
    assert throughput.load_authors_class(tmp_path).__name__ == "ASTERIS8"
    assert "asteris.ASTERIS_net_8" not in sys.modules  # our package is not shadowed


@pytest.mark.parametrize("impl", ["asteris", "asteris:autograd", "eager"])
def test_a_training_measurement_names_its_kernels(impl, tmp_path, monkeypatch):
    monkeypatch.setenv("ASTERIS_DATA_DIR", str(tmp_path))
    row = throughput.measure_training("tiny", "cpu", repeats=1, impl=impl)
    assert row["seconds_per_step"] > 0 and row["flop_per_step"] > 0 and row["sample"] == "2x8x32x32"
    expected = {"asteris:autograd": "autograd", "eager": None}.get(impl, row["depthwise_gradient"])
    assert row["depthwise_gradient"] == expected in (None, "transposed", "autograd")


RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


@pytest.mark.parametrize("path", sorted(RESULTS.glob("*.json")), ids=lambda p: p.name)
def test_every_benchmark_result_names_its_machine(path):
    """A speed or depth figure belongs to a machine: every committed result says which."""
    data = json.loads(path.read_text())
    for result in data.values() if path.name == "speed.json" else [data]:
        machine = result["machine"]
        # results older than the machine description say so, and what of the machine they did record
        assert machine["cpu_model"] or machine["gpu"] or "not recorded" in machine["note"], path.name


def test_committed_results_name_no_path_of_a_machine():
    """Results name files by repository path, or by SHA-256 and the command that made them."""
    import re

    for path in sorted((Path(__file__).resolve().parents[1] / "benchmarks" / "results").glob("*.json")):
        found = re.findall(r'"((?:/|[A-Za-z]:\\\\)[^"]*)"', path.read_text())
        assert not found, f"{path.name} names paths of a machine: {found[:3]}"
