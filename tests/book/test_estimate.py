"""What full mode asks of a reader: downloads and GPU time, from the manifest and the measured rates."""

import pytest

from asteris import book
from asteris.book.chapters import committed_result
from asteris.book.estimate import (
    alignment_minutes,
    cal_file_bytes,
    cpu_stage_minutes,
    network_voxels,
    nircam_footprint_px,
)


def line(plan: str, start: str) -> str:
    """The plan's line that starts with ``start`` (after its indent)."""
    return next(row.strip() for row in plan.splitlines() if row.strip().startswith(start))


def minutes_after(text: str, word: str) -> int:
    return int(text.split(f"{word} ")[1].split()[0])


def test_full_mode_plan_counts_the_downloads_of_the_chapter():
    plan = book.full_mode_plan("jades_1210_nircam", bands=["F200W"])
    rows = plan.splitlines()
    assert rows[0] == "full mode downloads 16+ files, 1.90+ GB: jades_1210_nircam, F200W, detector nrca1"
    assert [row.split(":")[0].strip() for row in rows[-3:-1]] == ["Colab T4", "A100"]
    assert "an estimate, not a measurement" in rows[1] and "offline" in rows[-1]
    many = book.full_mode_plan("jades_1210_nircam", bands=book.HIGH_Z_BANDS).splitlines()[0]
    assert many.startswith("full mode downloads 112+ files") and many.endswith("detector nrca1 and nrcalong")
    t4 = [line(book.full_mode_plan("jades_1210_nircam", denoise_passes=n), "Colab T4") for n in (1, 10)]
    assert minutes_after(t4[1], "about") > minutes_after(t4[0], "about")


def test_the_plan_counts_the_alignment_on_the_cpu():
    """Every _cal exposure is corrected and drizzled on one core before anything else, at the rate
    that benchmarks/align_rate.py measured; warps of HSC-SSP are only stacked."""
    if alignment_minutes(1) is None:
        pytest.skip("benchmarks/results/align_rate.json is not at hand")
    seconds = committed_result("align_rate")["fits"]["corrected"]["nircam_frame_seconds"]
    assert alignment_minutes(112) == pytest.approx(112 * seconds / 60)
    plan = book.full_mode_plan("jades_1210_nircam", bands=book.HIGH_Z_BANDS)
    aligned = line(plan, "alignment of the 112 exposures")
    assert minutes_after(aligned, "drizzle):") == round(112 * seconds / 60)
    t4 = line(plan, "Colab T4")
    parts = sum(minutes_after(t4, w) for w in ("download", "training", "denoising"))
    assert "and the alignment" in t4 and minutes_after(t4, "about") >= parts + round(112 * seconds / 60) - 2
    assert "alignment" not in book.full_mode_plan("hsc_cosmos_i_warps")
    # a chapter whose files an earlier chapter aligned reads them: its time without the alignment
    later = line(book.full_mode_plan("jades_1210_nircam", bands=book.HIGH_Z_BANDS, aligned_by="chapter 5"),
                 "Colab T4")  # fmt: skip
    assert later.startswith(t4) and later.endswith(" min where chapter 5 ran first in the same data folder)")
    without = int(later.rsplit("(", 1)[1].split()[0])
    assert without == pytest.approx(minutes_after(t4, "about") - 112 * seconds / 60, abs=1)


def test_file_sizes_and_voxels_follow_the_formats():
    assert cal_file_bytes() == 7 * 2048**2 * 4 + 1_500_000  # seven 2048 x 2048 planes of 4-byte pixels
    assert nircam_footprint_px(0.063) > nircam_footprint_px(0.031)  # coarser pixels cover more sky
    assert nircam_footprint_px(0.031) == 2048 * 0.031 / 0.04 + 60  # the detector and its dithers


def test_the_network_voxels_are_its_tiles_of_eight_frames():
    """The network sees 8 binned frames whatever the exposures, over whole 512-px tiles that overlap by
    51 px (the default tiling), on the box every band covers."""
    assert network_voxels(512) == 8 * 512**2
    assert network_voxels(600) == 8 * 4 * 512**2  # two tiles a side
    assert network_voxels(1647) == 8 * 16 * 512**2  # the short-wave detector's box: four a side
    assert network_voxels(512, frames=4) == 4 * 512**2
    assert network_voxels(100) == 8 * 104**2  # padded to the network's multiple of 8, one tile


def test_the_plan_denoises_the_box_every_band_covers():
    """Seven bands of one module search the short-wave detector's box: the long-wave bands add their
    own footprint's download, not its denoising."""
    plan = book.full_mode_plan("jades_1210_nircam", bands=book.HIGH_Z_BANDS, searches=1)
    assert "on the 1.2 arcmin^2 every band covers" in line(plan, "the search (1x)")
    alone = line(book.full_mode_plan("jades_1210_nircam", bands=["F200W"]), "Colab T4")
    seven = line(plan, "Colab T4")
    assert minutes_after(seven, "denoising") == pytest.approx(7 * minutes_after(alone, "denoising"), abs=7)
    # 7 bands x 16 exposures of 4-byte pixels on the long-wave grid, before the cut to the box
    memory = line(plan, "memory:")
    assert memory.startswith("memory: 4.8 GB while the bands are aligned on the whole grid, then ")
    peak = float(memory.split("then ")[1].split(" GB")[0])
    assert 0 < peak < 12 and memory.endswith("against the 12 GB of a Colab session")


def test_the_cpu_stages_leave_the_network_to_the_gpu():
    """The measured pass of the network over the detection bands is taken out of the CPU stages and each
    injection realization's pass is counted with the GPU's denoising."""
    fits = committed_result("scaling")["real_pointing"]["fits"]
    if "network_pass" not in fits:
        pytest.skip("benchmarks/results/scaling.json does not time the network's pass")

    def minutes(stage: str, area: float) -> float:
        return (fits[stage]["a"] + fits[stage]["b_per_arcmin2"] * area) / 60

    search, injections, left_out = cpu_stage_minutes(4.0, searches=2, realizations=3)
    assert left_out == ("F277W", "F356W", "F444W")  # the survey's detection bands, as timed
    assert search == pytest.approx(2 * (minutes("search", 4.0) - minutes("network_pass", 4.0)))
    assert injections == pytest.approx(3 * (minutes("injections", 4.0) - minutes("network_pass", 4.0)))
    assert 0 < search < 2 * minutes("search", 4.0)

    def denoising(realizations: int) -> int:
        plan = book.full_mode_plan("jades_1210_nircam", bands=book.HIGH_Z_BANDS, realizations=realizations)
        return minutes_after(line(plan, "Colab T4"), "denoising")

    assert denoising(2) > denoising(0)  # 3 of the 7 bands again per realization
