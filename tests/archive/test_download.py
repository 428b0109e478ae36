import hashlib
import io
import json
import socket
import time

import numpy as np
import pytest
import yaml
from astropy.io import fits
from astropy.wcs import WCS
from standins import CUTOUT

from asteris import archive
from asteris.archive.download import (
    ArchiveUnreachableError,
    DownloadError,
    fetch_hsc_warps,
    fetch_mast,
    hsc_cutout_request,
    resolve_mast,
)
from asteris.archive.manifests import lock_path
from asteris.errors import AsterisError, ConfigError
from asteris.mock.detector import write_cal


def write_manifest(tmp_path, doc, name="field"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"schema_version": 1, "name": name, **doc}))
    return path


# ------------------------------------------------------------------ manifests


def test_shipped_manifests_load():
    names = archive.shipped_manifests()
    assert {
        "smacs0723_nircam",
        "jades_1210_nircam",
        "jof_3215_nircam",
        "jems_1963_nircam",
        "program_3293_nircam",
        "hsc_cosmos_i_warps",
    } <= set(names)
    smacs = archive.load_manifest("smacs0723_nircam")
    assert len(smacs.products) == 3 * 8 * 9 + 3 * 2 * 9
    for filt in smacs.query["filters"]:
        for det in smacs.query["detectors"]:
            n = len(smacs.select(filters=[filt], detectors=[det]))
            assert n in (0, 9), (filt, det)
    names_f200w = {p.filename for p in smacs.select(filters=["F200W"], detectors=["nrcalong"])}
    assert not names_f200w  # F200W is a short-wavelength filter
    assert "jw02736001001_02105_00009_nrcblong_cal.fits" in {p.filename for p in smacs.products}
    for name in ("jades_1210_nircam", "jof_3215_nircam", "jems_1963_nircam", "program_3293_nircam"):
        manifest = archive.load_manifest(name)
        assert not manifest.resolved and manifest.query["min_exposures"] >= 16


def test_manifest_rejects_unknown_keys_and_archives(tmp_path):
    with pytest.raises(ConfigError, match="unknown manifest key"):
        archive.load_manifest(write_manifest(tmp_path, {"archive": "mast", "qeury": {}}))
    with pytest.raises(ConfigError, match="archive must be"):
        archive.load_manifest(write_manifest(tmp_path, {"archive": "ftp"}))
    with pytest.raises(FileNotFoundError, match="no manifest"):
        archive.load_manifest(tmp_path / "missing.yaml")


# ------------------------------------------------------------------ MAST, against its stand-in

QUERY = {
    "obs_collection": "JWST",
    "proposal_id": "2736",
    "instrument_name": "NIRCAM/IMAGE",
    "filters": ["F200W", "F444W"],
    "observation": "001",
    "visit": "001",
    "detectors": ["nrca1", "nrcalong"],
    "product_subgroup": "CAL",
    "calib_level": 2,
}


def cal_files(folder, bands_detectors, per_band=3, shape=(24, 20)):
    """Small ``_cal`` files with the keywords the archive's products carry."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for band, detector in bands_detectors:
        for i in range(per_band):
            rng = np.random.default_rng(len(files))
            wcs = WCS(naxis=2)
            wcs.wcs.ctype, wcs.wcs.crval = ["RA---TAN", "DEC--TAN"], [110.8, -73.45]
            wcs.wcs.cd, wcs.wcs.crpix = np.diag([-0.031 / 3600, 0.031 / 3600]), [10 + i, 12]
            sci = rng.normal(0.2, 0.01, shape)
            files.append(
                write_cal(
                    folder / f"{band}_{i}_cal.fits",
                    sci,
                    sci * 0 + 0.01,
                    np.zeros(shape, int),
                    wcs,
                    keywords={"FILTER": band, "DETECTOR": detector.upper()},
                )
            )
    return files


def invocations(mast, service):
    return [u for m, u, _ in mast.log if m == "POST" and u.endswith("/invoke")]


def test_resolve_mast_pages_waits_and_filters(tmp_path, mast):
    mast.add_cal_files(
        cal_files(tmp_path / "cal", [("F200W", "nrca1"), ("F444W", "nrcalong")]), proposal="2736"
    )
    mast.add_cal_files(cal_files(tmp_path / "other", [("F200W", "nrca1")]), proposal="1180")  # not asked for
    manifest = archive.load_manifest(write_manifest(tmp_path, {"archive": "mast", "query": QUERY}))
    products = resolve_mast(manifest)
    names = [p.filename for p in products]
    assert len(names) == len(set(names)) == 6  # 3 exposures x (nrca1 F200W + nrcalong F444W); no rate, i2d
    assert all(n.startswith("jw02736001001_0210") and n.endswith("_cal.fits") for n in names)
    assert {(p.filter, p.detector) for p in products} == {("F200W", "nrca1"), ("F444W", "nrcalong")}
    assert all(p.uri == f"mast:JWST/product/{p.filename}" and p.size > 0 for p in products)
    invoked = invocations(mast, "invoke")
    # each page answers EXECUTING twice first; the 2 observations fit one page, the 12 product rows
    # (cal, rate, i2d and a repeated row) of each take two of 7 rows
    assert len(invoked) == 3 * (1 + 3)


def test_fetch_verifies_writes_lock_in_the_data_folder_and_skips_present_files(tmp_path, mast, monkeypatch):
    monkeypatch.setenv("ASTERIS_DATA_DIR", str(tmp_path / "data"))
    mast.add_cal_files(cal_files(tmp_path / "cal", [("F444W", "nrcalong")]), proposal="2736")
    shipped = archive.load_manifest(
        "smacs0723_nircam"
    )  # a shipped manifest: its lock goes to the data folder
    manifest = archive.Manifest(shipped.name, "mast", query=QUERY, path=shipped.path)
    summary = fetch_mast(manifest, tmp_path / "dl", progress=False)
    assert list(summary["status"]) == ["fetched"] * 3
    for p in manifest.products:
        assert (tmp_path / "dl" / p.filename).read_bytes() == mast.state.files[p.uri]
    lock = tmp_path / "data" / "manifests" / "smacs0723_nircam.lock.yaml"
    assert lock_path(shipped.path) == lock and lock.exists()
    locked = archive.load_manifest("smacs0723_nircam")
    assert [p.filename for p in locked.products] == [p.filename for p in manifest.products]
    assert all(p.sha256 == hashlib.sha256(mast.state.files[p.uri]).hexdigest() for p in locked.products)
    mast.state.log.clear()
    again = fetch_mast(locked, tmp_path / "dl", progress=False)
    assert list(again["status"]) == ["present"] * 3 and mast.log == []
    assert not list((tmp_path / "dl").glob("*.part"))


def _small_manifest(tmp_path, mast, n=3, sha=False, size=5000):
    products = []
    for i in range(n):
        name = f"jw02736001001_02105_{i + 1:05d}_nrcalong_cal.fits"
        payload = bytes(np.random.default_rng(i).integers(0, 255, size + 100 * i, dtype=np.uint8))
        mast.state.files[f"mast:JWST/product/{name}"] = payload
        entry = {
            "filename": name,
            "uri": f"mast:JWST/product/{name}",
            "size": len(payload),
            "filter": "F444W",
            "detector": "nrcalong",
            **({"sha256": hashlib.sha256(payload).hexdigest()} if sha else {}),
        }
        products.append(entry)
    return archive.load_manifest(
        write_manifest(tmp_path, {"archive": "mast", "query": QUERY, "products": products})
    )


def test_interrupted_and_partial_downloads_resume(tmp_path, mast):
    manifest = _small_manifest(tmp_path, mast, n=2, sha=True, size=300_000)  # several download chunks
    first, second = manifest.products
    mast.state.drop_first.add(first.uri)  # the connection drops half-way
    dest = tmp_path / "dl"
    dest.mkdir()
    (dest / (second.filename + ".part")).write_bytes(
        mast.state.files[second.uri][:3000]
    )  # left by a killed run
    fetch_mast(manifest, dest, progress=False)
    for p in manifest.products:
        assert (dest / p.filename).read_bytes() == mast.state.files[p.uri]
    ranges = [h.get("Range") for m, u, h in mast.log if "Download" in u]
    assert ranges[0] is None and ranges[2] == "bytes=3000-"
    assert 0 < int(ranges[1].removeprefix("bytes=").rstrip("-")) <= first.size // 2  # the rest, not all again


def test_corrupt_file_is_detected_and_fetched_again(tmp_path, mast):
    manifest = _small_manifest(tmp_path, mast, n=1, sha=True)
    product = manifest.products[0]
    dest = tmp_path / "dl"
    dest.mkdir()
    good = mast.state.files[product.uri]
    (dest / product.filename).write_bytes(bytes(len(good)))  # right size, wrong bytes
    summary = fetch_mast(manifest, dest, progress=False)
    assert summary["status"][0] == "fetched" and (dest / product.filename).read_bytes() == good


def test_download_that_stays_corrupt_fails_clearly(tmp_path, mast):
    manifest = _small_manifest(tmp_path, mast, n=1, sha=True)
    product = manifest.products[0]
    mast.state.served[product.uri] = bytes(reversed(mast.state.files[product.uri]))  # the archive's bytes rot
    with pytest.raises(DownloadError, match="SHA-256 mismatch"):
        fetch_mast(manifest, tmp_path / "dl", progress=False)
    assert not (tmp_path / "dl" / product.filename).exists()
    assert len([u for m, u, _ in mast.log if "Download" in u]) == 3  # three attempts, each from zero


@pytest.fixture
def no_backoff(monkeypatch):
    from asteris.archive import download

    monkeypatch.setattr(download, "RETRY_SECONDS", 0.0)


def test_a_protected_product_names_the_token_to_set(tmp_path, mast, monkeypatch, no_backoff):
    manifest = _small_manifest(tmp_path, mast, n=2, sha=True)
    protected = manifest.products[1]
    mast.state.protected.add(protected.uri)
    monkeypatch.delenv("MAST_API_TOKEN", raising=False)
    named = f"{protected.filename} is protected \\(401\\): set MAST_API_TOKEN"
    with pytest.raises(DownloadError, match=named):
        fetch_mast(manifest, tmp_path / "dl", progress=False)
    assert (tmp_path / "dl" / manifest.products[0].filename).exists()  # the other file came down
    asked = [u for m, u, _ in mast.log if protected.uri.split("/")[-1] in u]
    assert len(asked) == 1  # a refusal is not retried
    monkeypatch.setenv("MAST_API_TOKEN", "stale-token")
    with pytest.raises(DownloadError, match="refused the token in MAST_API_TOKEN"):
        fetch_mast(manifest, tmp_path / "dl", progress=False)
    monkeypatch.setenv("MAST_API_TOKEN", mast.state.token)
    assert fetch_mast(manifest, tmp_path / "dl", progress=False)["status"].tolist() == ["present", "fetched"]


def test_a_busy_archive_is_waited_for_and_a_failing_file_stops_no_other(tmp_path, mast, no_backoff):
    manifest = _small_manifest(tmp_path, mast, n=3, sha=True)
    busy, broken, _ = manifest.products
    mast.state.fail_next[busy.uri] = [429, 503]  # busy twice, then served
    mast.state.fail_next[broken.uri] = [503, 503, 503]  # down for every attempt
    with pytest.raises(DownloadError) as caught:
        fetch_mast(manifest, tmp_path / "dl", progress=False)
    said = str(caught.value)
    assert said.startswith(f"2 of 3 files are in {tmp_path / 'dl'}; 1 failed: {broken.filename}")
    assert "503 from http://127.0.0.1" in said
    assert said.endswith(f"to finish, run: asteris fetch field --dest {tmp_path / 'dl'}")
    assert {p.name for p in (tmp_path / "dl").iterdir()} == {busy.filename, manifest.products[2].filename}
    statuses = fetch_mast(manifest, tmp_path / "dl", progress=False)["status"].tolist()
    assert statuses == ["present", "fetched", "present"]


def test_a_product_gone_from_the_archive_is_named(tmp_path, mast):
    manifest = _small_manifest(tmp_path, mast, n=1, sha=True)
    del mast.state.files[manifest.products[0].uri]
    with pytest.raises(DownloadError, match=f"has no {manifest.products[0].uri} \\(404\\)"):
        fetch_mast(manifest, tmp_path / "dl", progress=False)


def test_a_corrupt_first_download_pinned_in_the_lock_can_be_re_pinned(tmp_path, mast):
    manifest = _small_manifest(tmp_path, mast, n=1, sha=False)
    product = manifest.products[0]
    good = bytes(_warp_bytes(1))
    mast.state.files[product.uri] = good
    product.size = len(good)
    mast.state.served[product.uri] = bytes(reversed(good))  # right size, wrong bytes, the first time only
    fetch_mast(manifest, tmp_path / "dl", progress=False)  # MAST gives no checksum: these bytes are pinned
    del mast.state.served[product.uri]
    (tmp_path / "dl" / product.filename).unlink()
    again = archive.load_manifest(manifest.path)
    pinned = "SHA-256 mismatch.*--repin \\(pinned by .*field.lock.yaml \\(written "
    with pytest.raises(DownloadError, match=pinned):
        fetch_mast(again, tmp_path / "dl", progress=False)
    repinned = archive.load_manifest(manifest.path)
    assert fetch_mast(repinned, tmp_path / "dl", repin=True, progress=False)["status"].tolist() == ["fetched"]
    assert (tmp_path / "dl" / product.filename).read_bytes() == good
    assert archive.load_manifest(manifest.path).products[0].sha256 == hashlib.sha256(good).hexdigest()


def test_a_server_that_stops_mid_run_is_named_and_a_second_run_finishes(tmp_path, mast):
    manifest = _small_manifest(tmp_path, mast, n=4, sha=True)
    mast.state.stop_after = 2  # two files come down, then the archive is gone
    dest = tmp_path / "dl"
    with pytest.raises(DownloadError) as caught:
        fetch_mast(manifest, dest, progress=False)
    said, third = str(caught.value), manifest.products[2].filename
    assert said.startswith(f"2 of 4 files are in {dest}; 2 failed: {third} could not be fetched intact")
    assert (
        f"({mast.url} stopped answering); {mast.url} stopped answering: 1 more files were not tried" in said
    )
    assert said.endswith(f"to finish, run: asteris fetch field --dest {dest}") and "\n" not in said
    assert sorted(p.name for p in dest.iterdir()) == [p.filename for p in manifest.products[:2]]
    mast.start_again()
    statuses = fetch_mast(manifest, dest, progress=False)["status"].tolist()
    assert statuses == ["present", "present", "fetched", "fetched"]


def _cut_in_half(answer):
    text = json.dumps(answer).encode()
    return text[: len(text) // 2], len(text) // 2


def _claims_more(answer):
    text = json.dumps(answer).encode()
    return text, 50 * len(text)


def _column_dropped(name):
    def fault(answer):
        answer["fields"] = [f for f in answer["fields"] if f["name"] != name]
        answer["data"] = [{k: v for k, v in row.items() if k != name} for row in answer["data"]]
        text = json.dumps(answer).encode()
        return text, len(text)

    return fault


def _size_as(value):
    def fault(answer):
        for row in answer["data"]:
            if "size" in row:
                row["size"] = value
        text = json.dumps(answer).encode()
        return text, len(text)

    return fault


@pytest.mark.parametrize(
    "fault",
    [_cut_in_half, _claims_more, _column_dropped("productFilename"), _column_dropped("obsid"),
     _size_as("big"), _size_as(-1), _size_as(None)],
    ids=["truncated", "longer-claimed", "no-filename", "no-obsid", "size-text", "size-negative", "size-null"],
)  # fmt: skip
def test_an_unreadable_archive_answer_is_named_and_nothing_is_written(tmp_path, mast, fault):
    mast.add_cal_files(cal_files(tmp_path / "cal", [("F200W", "nrca1")], per_band=2), proposal="2736")
    mast.state.executing, mast.state.answer_fault = 0, fault
    manifest = archive.load_manifest(write_manifest(tmp_path, {"archive": "mast", "query": QUERY}))
    with pytest.raises(DownloadError) as caught:
        fetch_mast(manifest, tmp_path / "dl", progress=False)
    said = str(caught.value)
    assert "\n" not in said and said.startswith(f"the answer of {mast.url} to the product query could not")
    assert not lock_path(manifest.path).exists() and not (tmp_path / "dl").exists()


# ------------------------------------------------------------------ HSC, against its stand-in


def _warp_bytes(seed: int, shape=(40, 50)) -> bytes:
    rng = np.random.default_rng(seed)
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.1163, 2.2009]
    wcs.wcs.crpix = [25, 20]
    wcs.wcs.cdelt = [-0.168 / 3600, 0.168 / 3600]
    image = rng.normal(0, 1, shape).astype(np.float32)
    mask = np.zeros(shape, np.int32)
    mask[5, 5] = 1  # BAD
    hdus = fits.HDUList(
        [
            fits.PrimaryHDU(),
            fits.ImageHDU(image, wcs.to_header()),
            fits.ImageHDU(mask),
            fits.ImageHDU(np.ones(shape, np.float32)),
        ]
    )
    buf = io.BytesIO()
    hdus.writeto(buf)
    return buf.getvalue()


def _hsc_manifest(tmp_path):
    manifest = archive.load_manifest("hsc_cosmos_i_warps")
    manifest.path = tmp_path / "hsc.yaml"
    return manifest


def test_hsc_warps_download_and_stack(tmp_path, hsc):
    hsc.serve_warps({visit: _warp_bytes(visit) for visit in (1228, 1230, 1232)})
    manifest = _hsc_manifest(tmp_path)
    summary = fetch_hsc_warps(manifest, tmp_path / "warps")
    assert list(summary["visit"]) == ["1228", "1230", "1232"]
    assert hsc.state.requests and b"#? rerun type filter" in hsc.state.requests[0]
    assert "s3cret" not in lock_path(manifest.path).read_text()
    stack = archive.stack_warps(sorted((tmp_path / "warps").glob("warp-*.fits")))
    assert stack.data.shape == (3, 40, 50) and (stack.data[:, 5, 5] == 0).all()
    assert stack.wcs is not None


def test_hsc_credentials(tmp_path, hsc, monkeypatch):
    manifest = _hsc_manifest(tmp_path)
    monkeypatch.delenv("HSC_SSP_USER")
    monkeypatch.delenv("HSC_SSP_PASSWORD")
    with pytest.raises(AsterisError, match="HSC_SSP_USER"):
        fetch_hsc_warps(manifest, tmp_path / "w")
    assert hsc.log == []  # refused before asking
    with pytest.raises(DownloadError, match="401"):
        fetch_hsc_warps(manifest, tmp_path / "w", user="astro", password="wrong")
    assert len(hsc.log) == 1


def test_hsc_refusals_name_the_account_and_a_busy_service_is_waited_for(tmp_path, hsc, no_backoff):
    hsc.serve_warps({visit: _warp_bytes(visit) for visit in (1228, 1230)})
    manifest = _hsc_manifest(tmp_path)
    hsc.state.fail_next[CUTOUT] = [403]
    with pytest.raises(
        DownloadError,
        match="refused the credentials in HSC_SSP_USER/HSC_SSP_PASSWORD \\(403\\): "
        "check them, or sign up \\(free\\) at https://hsc-release",
    ):
        fetch_hsc_warps(manifest, tmp_path / "w")
    hsc.state.fail_next[CUTOUT] = [429, 503]  # busy twice, then served
    assert list(fetch_hsc_warps(manifest, tmp_path / "w")["visit"]) == ["1228", "1230"]
    hsc.state.fail_next[CUTOUT] = [502, 503, 504]
    with pytest.raises(DownloadError, match="cutout answered 504 to 3 tries; it is busy or failing"):
        fetch_hsc_warps(manifest, tmp_path / "w")


def test_an_hsc_answer_cut_short_keeps_the_complete_warps_and_a_second_run_finishes(tmp_path, hsc):
    hsc.serve_warps({visit: _warp_bytes(visit, shape=(200, 200)) for visit in (1228, 1230, 1232)})
    manifest = _hsc_manifest(tmp_path)
    hsc.state.drop_first.add(CUTOUT)
    with pytest.raises(
        DownloadError, match="broke off or is not a tar archive .*; the warps complete before it"
    ):
        fetch_hsc_warps(manifest, tmp_path / "w")
    kept = sorted((tmp_path / "w").iterdir())
    assert [p.name for p in kept] == ["warp-HSC-I-9813-1228.fits"]  # whole files only, no partial one
    assert not lock_path(manifest.path).exists()
    assert list(fetch_hsc_warps(manifest, tmp_path / "w")["visit"]) == ["1228", "1230", "1232"]


def test_an_hsc_answer_without_warps_is_named(tmp_path, hsc):
    hsc.serve_warps({})
    with pytest.raises(
        DownloadError, match="sent no warp for the cutout of hsc_cosmos_i_warps; check its query"
    ):
        fetch_hsc_warps(_hsc_manifest(tmp_path), tmp_path / "w")


def test_hsc_request_is_a_one_line_coordinate_list():
    query = archive.load_manifest("hsc_cosmos_i_warps").query
    body = hsc_cutout_request(query).decode()
    lines = body.split("\r\n\r\n", 1)[1].splitlines()
    assert lines[0] == "#? rerun type filter tract ra dec sw sh image mask variance"
    assert lines[1].split()[:4] == ["pdr3_dud_rev", "warp", "HSC-I", "any"]
    assert lines[1].split()[6] == f"{30 / 3600:.10f}deg"


def test_hsc_preview_from_hips2fits(tmp_path, hsc):
    manifest = archive.load_manifest("hsc_cosmos_i_warps")
    out = archive.hsc_preview(manifest, tmp_path / "preview.fits", pixels=64)
    header = fits.getheader(out)
    assert fits.getdata(out).shape == (64, 64) and header["HIPSID"] == manifest.query["hips"]
    assert abs(header["CRVAL1"] - manifest.query["ra"]) < 1e-9
    assert any("hips2fits" in u for _, u, _ in hsc.log)
    with pytest.raises(FileExistsError):
        archive.hsc_preview(manifest, out, pixels=64)


# ------------------------------------------------------------------ offline


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise socket.gaierror(-3, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("name", ["smacs0723_nircam", "jades_1210_nircam", "hsc_cosmos_i_warps"])
def test_offline_fails_fast_with_advice(tmp_path, no_network, monkeypatch, name):
    monkeypatch.setenv("HSC_SSP_USER", "u")
    monkeypatch.setenv("HSC_SSP_PASSWORD", "p")
    start = time.perf_counter()
    with pytest.raises(ArchiveUnreachableError, match="cannot be reached.*synthetic"):
        archive.fetch(archive.load_manifest(name), tmp_path)
    assert time.perf_counter() - start < 5


def test_offline_a_complete_download_still_verifies(tmp_path, mast):
    from astroquery.mast import conf

    manifest = _small_manifest(tmp_path, mast, n=2, sha=True)
    assert list(fetch_mast(manifest, tmp_path / "dl", progress=False)["status"]) == ["fetched"] * 2
    with conf.set_temp("server", "http://127.0.0.1:9"):  # nothing listens there: offline
        assert list(fetch_mast(manifest, tmp_path / "dl", progress=False)["status"]) == ["present"] * 2
        (tmp_path / "dl" / manifest.products[0].filename).unlink()
        with pytest.raises(ArchiveUnreachableError, match="cannot be reached"):
            fetch_mast(manifest, tmp_path / "dl", progress=False)


def test_offline_preview_fails_fast(tmp_path, no_network):
    with pytest.raises(ArchiveUnreachableError):
        archive.hsc_preview(archive.load_manifest("hsc_cosmos_i_warps"), tmp_path / "p.fits")


@pytest.mark.remote_data
def test_resolve_smacs_online(tmp_path):
    manifest = archive.load_manifest("jades_1210_nircam")
    manifest.path = tmp_path / "jades.yaml"
    products = resolve_mast(manifest)
    assert products and all(p.filename.endswith("_cal.fits") for p in products)


def test_a_shipped_manifest_locks_in_the_data_folder_and_ones_own_beside_it(tmp_path, monkeypatch):
    monkeypatch.setenv("ASTERIS_DATA_DIR", str(tmp_path / "data"))
    shipped = archive.load_manifest("jades_1210_nircam").path
    assert lock_path(shipped) == tmp_path / "data" / "manifests" / "jades_1210_nircam.lock.yaml"
    own = write_manifest(tmp_path, {"archive": "mast", "query": QUERY})
    assert lock_path(own) == tmp_path / "field.lock.yaml"


def test_a_band_the_manifest_does_not_hold_is_refused_in_one_sentence(tmp_path, mast, monkeypatch):
    from asteris import book

    monkeypatch.setenv("ASTERIS_DATA_DIR", str(tmp_path / "data"))
    mast.add_cal_files(cal_files(tmp_path / "cal", [("F200W", "nrca1")]), proposal="1210")
    with pytest.raises(ConfigError, match="no F444W exposures of detectors \\['nrca1', 'nrcalong'\\]"):
        book.chapter_stack("full", band="F444W")


def test_a_manifest_selects_case_insensitively_and_names_what_it_holds():
    from asteris.archive import load_manifest
    from asteris.errors import ConfigError

    smacs = load_manifest("smacs0723_nircam")
    lower = smacs.select(filters=["f444w"], detectors=["NRCALONG"])
    assert len(lower) == 9 and lower == smacs.select(filters=["F444W"], detectors=["nrcalong"])
    with pytest.raises(ConfigError, match="has no detector nrcb9; choose from .*nrcalong"):
        smacs.select(detectors=["nrcb9"])
    jades = load_manifest("jades_1210_nircam")  # query only: its query's values
    assert jades.checked("detector", ["NRCA1"]) == ["nrca1"] and jades.choices("filter")[0] == "F090W"


def test_sizes_are_said_in_human_units():
    from asteris.fileio import human_size

    assert [human_size(n) for n in (7, 4_200, 45_300_000, 1_901_000_000)] == [
        "7 bytes", "4.20 kB", "45.3 MB", "1.90 GB"]  # fmt: skip


def test_band_stacks_are_aligned_once_and_read_back_by_a_later_call(tmp_path, mast, monkeypatch):
    from asteris import archive as package

    monkeypatch.setenv("ASTERIS_DATA_DIR", str(tmp_path / "data"))
    files = cal_files(tmp_path / "cal", [("F200W", "nrca1"), ("F277W", "nrcalong")])
    mast.add_cal_files(files, proposal="1210")
    first = package.band_stacks("jades_1210_nircam", bands=["F200W", "F277W"], progress=False)
    (kept,) = (tmp_path / "data" / "jades_1210_nircam" / "aligned").glob("*/sources.json")
    written = {p.name: p.stat().st_mtime_ns for p in kept.parent.iterdir()}
    assert set(written) == {"F200W.fits", "F277W.fits", "sources.json"}

    def refused(*args, **kwargs):
        raise AssertionError("aligned again")

    original = package.align
    monkeypatch.setattr(package, "align", refused)
    again = package.band_stacks("jades_1210_nircam", bands=["F200W", "F277W"], progress=False)
    assert {p.name: p.stat().st_mtime_ns for p in kept.parent.iterdir()} == written
    for band in ("F200W", "F277W"):
        np.testing.assert_array_equal(again[band].data, first[band].data)
        assert again[band].wcs.to_header() == first[band].wcs.to_header()
        assert again[band].sources == first[band].sources and len(first[band].sources) == 3
        assert again[band].header["FILTER"] == band and again[band].header["ASTVERS"]
    # other bands are another set of files: aligned anew, beside the first
    with pytest.raises(AssertionError, match="aligned again"):
        package.band_stacks("jades_1210_nircam", bands=["F200W"], progress=False)
    # a chapter's one band (its whole grid) is kept too: the next chapter reads it
    from asteris import book

    monkeypatch.setattr(package, "align", original)
    stack, _ = book.chapter_stack("full")
    monkeypatch.setattr(package, "align", refused)
    np.testing.assert_array_equal(book.chapter_stack("full")[0].data, stack.data)
    assert stack.data.shape[0] == 3 and stack.header["FILTER"] == "F200W"
