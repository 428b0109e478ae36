"""The book as documentation: figures written from the committed results, an API page per part,
a short README whose findings are current, and a warning-free build of every page."""

import copy
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from asteris.book import report

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "book"
SUBPACKAGES = {
    "core": "asteris",
    "archive": "asteris.archive",
    "sky": "asteris.sky",
    "mock": "asteris.mock",
    "science": "asteris.science",
    "book": "asteris.book",
}


def _rows(table: str) -> list[str]:
    return [line for line in table.splitlines() if line.startswith("|")][2:]


def test_tables_are_written_from_the_results_they_are_given():
    depth = report.committed_result("depth")
    changed = copy.deepcopy(depth)
    changed["fields"]["all_noise"]["methods"]["ivar"]["m90"] = 31.234
    ivar = depth["fields"]["all_noise"]["methods"]["ivar"]
    assert f"{ivar['m90']:.2f} ± {ivar['m90_err']:.2f}" in report.depth_table(result=depth)
    assert f"31.23 ± {ivar['m90_err']:.2f}" in report.depth_table(result=changed)
    assert len(_rows(report.depth_table(result=depth))) == len(depth["fields"]["all_noise"]["methods"])
    sweep = report.committed_result("depth_sweep")
    assert len(_rows(report.sweep_table(result=sweep))) == len(sweep["sweep"]["rows"])
    highz = report.committed_result("photoz_uvlf")
    first = next(iter(highz["methods"].values()))
    assert len(_rows(report.uvlf_table(result=highz))) == len(first["bins"])
    templates = report.committed_result("photoz_templates")
    assert len(_rows(report.photoz_templates_table(result=templates))) == len(templates["ways"])
    calibration = report.committed_result("mock_calibration")
    assert len(_rows(report.calibration_table(result=calibration))) == len(calibration["rows"])
    corrections = report.committed_result("depth_corrections")
    changed = copy.deepcopy(corrections)
    changed["fields"]["corrected"]["optimal"]["m90"] = 31.234
    assert "31.23 ±" in report.corrections_table(result=changed)
    assert len(_rows(report.corrections_table(result=corrections))) == len(report.CORRECTION_FIELDS)
    attribution = report.corrections_attribution_table(result=corrections)
    assert len(_rows(attribution)) == len(corrections["summary"]["attribution"])
    headroom = report.committed_result("headroom_methods")
    changed = copy.deepcopy(headroom)
    changed["summary"]["rows"]["ivar@corrected_auto"]["m90"] = 31.234
    assert "31.23 ±" in report.headroom_table(result=changed)
    assert len(_rows(report.headroom_table(result=headroom))) == len(report.HEADROOM_ROWS)
    assert len(_rows(report.headroom_table(result=headroom, short=True))) == 4
    sentence = report.headroom_sentence(result=headroom)
    assert f"{headroom['summary']['headroom_by_noise']:.3f} mag" in sentence


def test_every_table_of_the_book_renders_from_the_committed_results():
    for name in (
        "headroom_table",
        "corrections_table",
        "corrections_attribution_table",
        "paper_protocol_table",
        "convergence_table",
        "photoz_table",
        "throughput_table",
        "streaming_table",
        "gpu_table",
        "simulate_table",
        "compile_table",
        "bf16_table",
        "book_times_table",
        "purity_estimates_table",
        "photoz_templates_table",
        "survey_table",
        "survey_background_table",
        "through_injections_table",
        "field_against_injected_table",
        "survey_cost_table",
        "scaling_table",
        "packing_table",
        "closure_report_table",
        "closure_injections_table",
        "closure_contamination_table",
        "contamination_table",
        "colour_residuals_table",
        "injection_check_table",
    ):
        table = getattr(report, name)()
        assert _rows(table), name
        assert "nan" not in table.lower().replace("nanmedian", ""), name


def test_closure_tables_and_verdicts_follow_the_result_they_are_given():
    closure = report.committed_result("closure")
    changed = copy.deepcopy(closure)
    row = next(r for r in changed["footprint"]["significance"] if r["selected"] is not None)
    row["selected"] = -3.4
    changed["footprint"]["verdict"]["coadd"] = {"largest_sigma": 3.4, "agree": False, "beyond_2_sigma": [
        {"M_UV": row["M_UV"], "statistic": "selected", "sigma": -3.4}]}  # fmt: skip
    assert "(**-3.4σ**)" in report.closure_report_table(result=changed)
    assert "(**-3.4σ**)" not in report.closure_report_table(result=closure)
    assert "differences of 2σ or more: selected" in report.closure_summary(result=changed)
    assert "differ from them" in report.closure_clause(changed)
    assert "differ from them" not in report.closure_clause(closure) or not all(
        v["agree"] for v in closure["footprint"]["verdict"].values()
    )


def test_the_dask_speed_up_is_set_against_what_the_fine_tuning_allows():
    from asteris.book.report.survey import _serial_share_line

    def run(workers, wall, train, search, injections):
        seconds = {"train": train, "search": search, "injections": injections}
        return {"side": 512, "repeat": 0, "workers": workers, "torch_threads_per_worker": 1,
                "wall_seconds": wall, "seconds": {**seconds, "total": sum(seconds.values())}}  # fmt: skip

    # on two workers the search ends at 60 s, the injections (beside it) 15 s later
    scaling = {"dask": [run(1, 200.0, 50.0, 50.0, 100.0), run(2, 125.0, 50.0, 60.0, 15.0)]}
    line = _serial_share_line(scaling)  # a quarter in turn: at most 1 / (0.25 + 0.75 / 2) = 1.6x
    assert "it is 25% of one worker's time" in line and "at most 1.60x" in line
    assert "measured at best 1.60x (search and injections together 2.00x)" in line
    scaling["two_at_once"] = [{"side": 512, "alone_seconds": 30.0, "together_seconds": [40.0, 40.0]}]
    line = _serial_share_line(scaling)  # the rest at 3/4 pace: 1 / (0.25 + 0.75 / (2 x 0.75)) = 1.33x
    assert "at 75% of its pace alone" in line and "this machine allows at most 1.33x" in line
    trimmed = {"side": 512, "env": {"MALLOC_TRIM_THRESHOLD_": "65536"}, "alone_seconds": 30.0,
               "together_seconds": [60.0, 60.0]}  # fmt: skip
    scaling["two_at_once"].append(trimmed)  # not how the workers run: not their pace
    assert _serial_share_line(scaling) == line


def test_findings_follow_the_measured_gain():
    depth = report.committed_result("depth")
    best = max(report.asteris_models(depth["fields"]["all_noise"]).values(), key=lambda s: s["dm90"])
    assert report.verdict(best, depth["fields"]["all_noise"]["headroom"]) in report.findings(depth=depth)
    deeper = copy.deepcopy(depth)
    for summary in deeper["fields"]["all_noise"]["methods"].values():
        if "dm90" in summary:
            summary["dm90"], summary["dm90_err"] = 0.5, 0.05
    text = report.findings(depth=deeper)
    headroom = depth["fields"]["all_noise"]["headroom"]
    assert f"{0.5 / headroom:.0%} of the headroom" in text and "nothing, within errors" not in text


def test_machine_line_says_when_avx2_was_emulated():
    emulated = report.machine_line(report.committed_result("throughput_avx2"))
    assert "emulated" in emulated and "AVX2" in emulated
    assert "emulated" not in report.machine_line(report.committed_result("throughput"))


def test_the_readme_is_short_and_its_findings_are_current(tmp_path):
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 150
    copy_ = tmp_path / "README.md"
    copy_.write_text(readme)
    spec = importlib.util.spec_from_file_location("update_readme", BOOK / "update_readme.py")
    rewriter = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rewriter)
    assert not rewriter.update_readme(copy_), "run: python book/update_readme.py README.md"
    for link in re.findall(r"\]\(((?:book|notebooks)/[^)#]+)\)", readme):
        assert (ROOT / link).exists(), link


def _toc_files() -> set[str]:
    def walk(entries):
        for entry in entries:
            if "file" in entry:
                yield entry["file"]
            yield from walk(entry.get("sections", []) + entry.get("chapters", []))

    toc = yaml.safe_load((BOOK / "_toc.yml").read_text())
    return {toc["root"], *walk(toc.get("parts", [])), *walk(toc.get("chapters", []))}


def test_every_part_of_the_package_has_an_api_page_in_the_book():
    toc = _toc_files()
    for page, module in SUBPACKAGES.items():
        text = (BOOK / "api" / f"{page}.md").read_text()
        assert f".. automodule:: {module}\n" in text, page
        assert f"book/api/{page}" in toc, page
    pages = {str(p.relative_to(ROOT).with_suffix("")) for p in BOOK.rglob("*.md")}
    assert pages <= toc, f"pages missing from book/_toc.yml: {pages - toc}"


def test_the_pages_written_from_results_run(monkeypatch):
    """The hidden cells of the book's own pages (the chapters have nbval)."""
    jupytext = pytest.importorskip("jupytext")
    pytest.importorskip("IPython")
    pages = [p for p in BOOK.rglob("*.md") if "kernelspec" in p.read_text()[:300]]
    assert {p.name for p in pages} >= {"intro.md", "benchmarks.md", "mock.md", "guide.md"}
    for page in pages:
        namespace: dict = {}
        for cell in jupytext.read(page).cells:
            if cell.cell_type == "code":
                exec(compile(cell.source, str(page), "exec"), namespace)


@pytest.mark.slow
@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("jupyter_book") is None,
    reason="jupyter-book (the test and book extras) is not installed",
)
def test_the_book_builds_without_a_warning(tmp_path):
    """Every page and the API reference, with the chapters' committed outputs (``make book`` also
    re-executes the chapters and checks the pages in Chromium)."""
    config = yaml.safe_load((BOOK / "_config.yml").read_text())
    config["execute"]["exclude_patterns"] = ["notebooks/*"]
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(config))
    shutil.rmtree(tmp_path / "out", ignore_errors=True)
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    build = subprocess.run(
        [
            str(jupyter_book),
            "build",
            str(ROOT),
            "--config",
            str(tmp_path / "_config.yml"),
            "--toc",
            str(BOOK / "_toc.yml"),
            "--path-output",
            str(tmp_path / "out"),
            "-W",
            "-n",
            "--keep-going",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    warnings = [
        line
        for line in build.stdout.splitlines() + build.stderr.splitlines()
        if "WARNING: " in line and "IPKernelApp" not in line
    ]
    assert build.returncode == 0 and not warnings, "\n".join(warnings) or build.stdout[-3000:]
    html = tmp_path / "out" / "_build" / "html"
    for page in ["book/intro", "book/benchmarks", *(f"book/api/{p}" for p in SUBPACKAGES)]:
        assert (html / f"{page}.html").exists(), page
    core = (html / "book" / "api" / "core.html").read_text()
    assert 'id="asteris.denoise"' in core and 'id="asteris.train"' in core
    intro = (html / "book" / "intro.html").read_text()
    depth = report.committed_result("depth")["fields"]["all_noise"]
    assert f"{depth['headroom']:.2f} mag" in intro
    _chapters_comparators_work_in_chromium(html)


CHAPTERS_WITH_COMPARATORS = {"02_train_and_denoise": 1, "03_injection_recovery": 1, "04_cross_instrument": 1,
                             "05_photoz_candidates": 4}  # fmt: skip


def _chapters_comparators_work_in_chromium(html: Path) -> None:
    """The book's page check on the chapters with image comparators, as built from their committed
    outputs: each one ready within a second, blinked, zoomed and read in headless Chromium."""
    from page_checker import load_page_checker, missing_browser

    if missing_browser() is not None:
        return  # the page check needs Debian's chromium, its driver and selenium (make book installs them)
    reports = load_page_checker().check_pages(html, pattern="0[2-5]_*.html")
    found = {Path(r.page).stem: len(r.comparators) for r in reports}
    assert found == CHAPTERS_WITH_COMPARATORS
    problems = [(r.page, r.problems, r.errors, r.broken_links) for r in reports if not r.ok]
    assert not problems, problems


def test_book_times_runs_a_lone_copy_of_a_notebook_in_a_fresh_kernel(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("nbclient")
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # as running the script puts its folder first
    spec = importlib.util.spec_from_file_location("book_times", ROOT / "benchmarks" / "book_times.py")
    book_times = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(book_times)
    notebook = tmp_path / "99_probe.ipynb"
    cell = nbformat.v4.new_code_cell("import os\nprint(sorted(os.listdir('.')))")
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), notebook)
    seconds, executed = book_times.run_chapter(notebook, tmp_path / "lone", timeout=120)
    assert seconds > 0 and executed.cells[0].outputs[0]["text"].strip() == "['99_probe.ipynb']"
