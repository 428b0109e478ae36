"""Every reader of outside input, fuzzed (Hypothesis): an input ends in a result or in the package's own
error, in one sentence; never a traceback of another kind, a file outside the output folder or a partial
file. ``FUZZ_EXAMPLES`` inputs per reader (``ANSWER_EXAMPLES`` archive answers), the same ones on every run
(derandomized)."""

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


def expect_own_error(read, *args, **kwargs):
    """``read(*args, **kwargs)``, or the package's own error (or a missing file) in one sentence."""
    try:
        return read(*args, **kwargs)
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
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),  # fmt: skip
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


ANSWER_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-10, 10**15), st.floats(),
                          st.text(max_size=8), st.just([]), st.just({}))  # fmt: skip
ANSWER_EXAMPLES = 200  #: each runs the whole MAST query against the stand-in (about 0.05 s)


@st.composite
def answer_faults(draw):
    """A fault in MAST's answers: cut short, claiming more bytes than it holds, a column gone or of
    another type, or a top-level key of another shape; in the observations', the products' or both."""
    service = draw(st.sampled_from(["obsid", "productFilename", None]))  # a column only that answer has
    kind = draw(st.sampled_from(["cut", "claim", "drop", "value", "shape"]))
    fraction = draw(st.floats(0, 0.999))
    column = draw(st.sampled_from(["obsid", "filters", "productFilename", "dataURI", "size", "parent_obsid",
                                   "productSubGroupDescription", "calib_level"]))  # fmt: skip
    value = draw(ANSWER_VALUES)
    key = draw(st.sampled_from(["data", "fields", "paging", "status", "msg"]))

    def fault(answer):
        mine = service is None or any(f.get("name") == service for f in answer["fields"])
        if mine and kind == "drop":
            answer["fields"] = [f for f in answer["fields"] if f["name"] != column]
            answer["data"] = [{k: v for k, v in row.items() if k != column} for row in answer["data"]]
        elif mine and kind == "value":
            answer["data"] = [{**row, column: value} if column in row else row for row in answer["data"]]
        elif mine and kind == "shape":
            answer[key] = value
        text = json.dumps(answer).encode()
        if mine and kind == "cut":
            return text[: int(fraction * len(text))], int(fraction * len(text))
        return text, (int(len(text) / (1 - fraction)) + 1 if mine and kind == "claim" else len(text))

    return fault


@pytest.mark.slow
@settings(FUZZ, max_examples=ANSWER_EXAMPLES)
@given(fault=answer_faults())
def test_archive_answers_of_any_content(tmp_path, mast, fault):
    """A fetch ends with its files intact or in one sentence, never with a file outside its folder or a
    lock file pinned from an answer that could not be read."""
    import tempfile
    from pathlib import Path

    from exposures import cal_exposure

    from asteris.archive import load_manifest
    from asteris.archive.download import fetch_mast
    from asteris.archive.manifests import lock_path

    if not mast.state.products:
        (tmp_path / "cal").mkdir()
        paths = [
            cal_exposure(tmp_path / "cal" / f"e{i}_cal.fits", shift=(i, 0), filt="F200W") for i in range(2)
        ]
        mast.add_cal_files(paths, proposal="2736")
    mast.state.executing, mast.state.answer_fault = 0, fault
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    query = {"obs_collection": "JWST", "proposal_id": "2736", "instrument_name": "NIRCAM/IMAGE",
             "filters": ["F200W"], "detectors": ["nrcalong"]}  # fmt: skip
    manifest = {"schema_version": 1, "name": "field", "archive": "mast", "query": query}
    (folder / "field.yaml").write_text(yaml.safe_dump(manifest))
    summary = expect_own_error(
        fetch_mast, load_manifest(folder / "field.yaml"), folder / "dl", progress=False
    )
    written = [p for p in tmp_path.rglob("*") if p.is_file() and folder in p.parents]
    if summary is None and not lock_path(folder / "field.yaml").exists():
        assert written == [folder / "field.yaml"], written  # nothing fetched, nothing pinned
    for row in summary or []:
        served = mast.state.files[f"mast:JWST/product/{row['filename']}"]
        assert (folder / "dl" / row["filename"]).read_bytes() == served


ZENODO_FILE = st.fixed_dictionaries(
    {},
    optional={"key": st.one_of(st.text(max_size=12), st.just("ASTERIS8_x.pth")), "size": ANSWER_VALUES,
              "checksum": st.one_of(ANSWER_VALUES, st.just("md5:00ff")), "links": st.one_of(
                  ANSWER_VALUES, st.fixed_dictionaries({"self": st.one_of(ANSWER_VALUES, st.just("http://x/y"))}))},
)  # fmt: skip


ZENODO_RECORD = st.fixed_dictionaries({"files": st.one_of(YAML_VALUES, st.lists(ZENODO_FILE))})


@FUZZ
@given(record=st.one_of(YAML_VALUES, ZENODO_RECORD))
def test_published_weights_records_of_any_content(tmp_path, monkeypatch, record):
    from asteris.weights import RECORD_ID, list_weights, weights_dir

    monkeypatch.setenv("ASTERIS_DATA_DIR", str(tmp_path / "data"))
    weights_dir().mkdir(parents=True, exist_ok=True)
    (weights_dir() / f"zenodo-{RECORD_ID}.json").write_text(json.dumps(record))
    expect_own_error(list_weights)
