"""Every reader of outside input, fuzzed (Hypothesis): an input ends in a result or in the package's own
error, in one sentence; never a traceback of another kind, a file outside the output folder or a partial
file. ``FUZZ_EXAMPLES`` inputs per reader, the same ones on every run (derandomized)."""

import io
import json
import tarfile

import numpy as np
import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis is in the test extras")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from asteris.errors import AsterisError  # noqa: E402

FUZZ_EXAMPLES = 300
FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])  # fmt: skip


def one_sentence(error: BaseException) -> bool:
    return "\n" not in str(error) and len(str(error)) > 10


def expect_own_error(read, *args):
    """``read(*args)``, or the package's own error (or a missing file) in one sentence."""
    try:
        return read(*args)
    except (AsterisError, FileNotFoundError) as exc:
        assert one_sentence(exc), repr(exc)
        return None


def fits_bytes(data: np.ndarray, cards: dict, *, cal: bool = False) -> bytes:
    from astropy.io import fits

    header = fits.Header()
    for key, value in cards.items():
        header[key] = value
    if cal:
        hdus = [fits.PrimaryHDU(), fits.ImageHDU(data, header, name="SCI"),
                fits.ImageHDU(np.zeros(data.shape[-2:], np.uint32), name="DQ")]  # fmt: skip
    else:
        hdus = [fits.PrimaryHDU(data, header)]
    buffer = io.BytesIO()
    fits.HDUList(hdus).writeto(buffer, output_verify="ignore")
    return buffer.getvalue()


CARDS = st.dictionaries(
    st.sampled_from(["CTYPE1", "CTYPE2", "CRPIX1", "CRVAL1", "CDELT1", "CDELT2", "NAXIS3", "BUNIT", "FILTER",
                     "CD1_1", "PC1_2", "WCSAXES"]),
    st.one_of(st.floats(-1e30, 1e30, allow_nan=False), st.integers(-5, 5),
              st.sampled_from(["RA---TAN", "DEC--TAN", "WAVE", "", "MJy/sr", "F200W"])),
    max_size=6,
)  # fmt: skip
SHAPES = st.sampled_from([(8,), (12, 16), (1, 12, 16), (9, 12, 16), (3, 1, 4), (2, 3, 4, 5)])


@st.composite
def fits_files(draw, cal=False):
    shape = draw(SHAPES)
    fill = draw(st.sampled_from([0.0, 1.0, np.nan, np.inf, -3.0]))
    data = np.random.default_rng(draw(st.integers(0, 99))).normal(1, 0.1, shape).astype(np.float32)
    data[tuple(slice(0, max(1, n // 2)) for n in shape)] = fill
    raw = fits_bytes(data, draw(CARDS), cal=cal)
    cut = draw(st.one_of(st.none(), st.integers(0, len(raw))))
    return raw if cut is None else raw[:cut]


@FUZZ
@given(raw=fits_files())
def test_stacks_of_any_fits_file(tmp_path, raw):
    from asteris.stack import read_stack

    path = tmp_path / "cube.fits"
    path.write_bytes(raw)
    expect_own_error(read_stack, path)
    expect_own_error(read_stack, [path, path])


@FUZZ
@given(raw=fits_files(cal=True))
def test_cal_files_of_any_content(tmp_path, raw):
    from asteris.archive.align import read_cal_exposure

    path = tmp_path / "x_cal.fits"
    path.write_bytes(raw)
    expect_own_error(read_cal_exposure, path)


YAML_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=8), inner, max_size=3)),  # fmt: skip
    max_leaves=8,
)
MANIFEST_KEYS = ["name", "archive", "description", "query", "products", "schema_version"]


@FUZZ
@given(doc=st.one_of(YAML_VALUES, st.dictionaries(st.sampled_from(MANIFEST_KEYS), YAML_VALUES, max_size=6)),
       garbage=st.one_of(st.none(), st.text(max_size=40)))  # fmt: skip
def test_manifests_and_lock_files_of_any_content(tmp_path, doc, garbage):
    from asteris.archive import load_manifest

    path = tmp_path / "field.yaml"
    path.write_text(garbage if garbage is not None else yaml.safe_dump(doc))
    manifest = expect_own_error(load_manifest, path)
    if manifest is not None:
        expect_own_error(manifest.select, filters=["F200W"])


@FUZZ
@given(raw=st.binary(max_size=2000), prefix=st.sampled_from([b"", b"PK\x03\x04", b"\x80\x02"]))
def test_checkpoints_of_any_bytes(tmp_path, raw, prefix):
    from asteris.checkpoint import load_model

    path = tmp_path / "model.pt"
    path.write_bytes(prefix + raw)
    expect_own_error(load_model, path)


@FUZZ
@given(record=st.one_of(YAML_VALUES, st.fixed_dictionaries({"config": YAML_VALUES})),
       summary=st.one_of(st.text(max_size=30), st.just("{}"), st.just('{"name": "p"}')))  # fmt: skip
def test_survey_run_folders_of_any_content(tmp_path, record, summary):
    from asteris.science.survey import SurveyRun, survey_candidates

    folder = tmp_path / "run"
    (folder / "p").mkdir(parents=True, exist_ok=True)
    (folder / "survey.json").write_text(json.dumps(record))
    (folder / "p" / "summary.json").write_text(summary)
    run = expect_own_error(SurveyRun.open, folder)
    if run is not None:
        expect_own_error(survey_candidates, run, "coadd")


MEMBER_NAMES = st.one_of(
    st.sampled_from(["../evil.fits", "/tmp/evil.fits", "arch-1-2/3-warps-HSC-I-9813-pdr3/warp-1.fits",
                     "arch-1-2/3-warps-..-9813-pdr3/warp-2.fits",
                     "arch-1-2/3-warps-HSC-I-1-x/../../warp-3.fits",
                     "arch-1-2/3-warps-HSC-I-1-x/warp-4.fits/../../../evil"]),
    st.text(min_size=1, max_size=30),
)  # fmt: skip


@FUZZ
@given(names=st.lists(MEMBER_NAMES, min_size=1, max_size=4), payload=st.binary(max_size=64))
def test_tar_members_never_land_outside_the_folder(tmp_path, names, payload):
    from asteris.archive.download import _extract_warps

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name in names:
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    buffer.seek(0)
    dest = tmp_path / "dest"
    dest.mkdir(exist_ok=True)
    expect_own_error(_extract_warps, buffer, dest)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert all(dest in p.parents for p in written), written
    assert not [p for p in written if p.name.endswith((".part", ".tmp")) or p.name.startswith(".")]
