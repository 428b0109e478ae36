"""What full mode asks of a reader: downloads and GPU time, from the manifest and the measured rates."""

import pytest

from asteris import book
from asteris.book.chapters import committed_result
from asteris.book.estimate import cal_file_bytes, cpu_stage_minutes, network_voxels, nircam_footprint_px


def test_full_mode_plan_counts_the_downloads_of_the_chapter():
    plan = book.full_mode_plan("jades_1210_nircam", bands=["F200W"]).splitlines()
    assert plan[0] == "full mode downloads 16+ files, 1.90+ GB: jades_1210_nircam, F200W, detector nrca1"
    assert [line.split(":")[0].strip() for line in plan[2:4]] == ["Colab T4", "A100"]
    assert "an estimate, not a measurement" in plan[1] and "offline" in plan[-1]
    many = book.full_mode_plan("jades_1210_nircam", bands=book.HIGH_Z_BANDS).splitlines()[0]
    assert many.startswith("full mode downloads 112+ files") and many.endswith("detector nrca1 and nrcalong")
    t4 = [book.full_mode_plan("jades_1210_nircam", denoise_passes=n).splitlines()[2] for n in (1, 10)]
    assert int(t4[1].split("about ")[1].split()[0]) > int(t4[0].split("about ")[1].split()[0])


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
    plan = book.full_mode_plan("jades_1210_nircam", bands=book.HIGH_Z_BANDS, searches=1).splitlines()
    assert "on the 1.2 arcmin^2 every band covers" in plan[2]
    alone = book.full_mode_plan("jades_1210_nircam", bands=["F200W"]).splitlines()[2]

    def denoising(line: str) -> int:
        return int(line.split("denoising ")[1].split()[0])

    assert denoising(plan[3]) == pytest.approx(7 * denoising(alone), abs=7)
    # 7 bands x 16 exposures of 4-byte pixels on the long-wave grid, before the cut to the box
    assert plan[5].startswith("  memory: 4.8 GB while the bands are aligned on the whole grid, then ")
    peak = float(plan[5].split("then ")[1].split(" GB")[0])
    assert 0 < peak < 12 and plan[5].endswith("against the 12 GB of a Colab session")


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
        return int(plan.splitlines()[3].split("denoising ")[1].split()[0])

    assert denoising(2) > denoising(0)  # 3 of the 7 bands again per realization
