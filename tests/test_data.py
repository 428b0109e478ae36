import hashlib
import io
import socket
import tarfile
import time

import numpy as np
import pytest
import yaml
from archive_replay import install
from astropy.io import fits
from astropy.wcs import WCS

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


# ------------------------------------------------------------------ MAST, replayed

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


def test_resolve_mast_from_recorded_responses(tmp_path, monkeypatch):
    replay = install(monkeypatch)
    manifest = archive.load_manifest(write_manifest(tmp_path, {"archive": "mast", "query": QUERY}))
    products = resolve_mast(manifest)
    names = [p.filename for p in products]
    assert len(names) == len(set(names)) == 18  # 9 dithers x (nrca1 F200W + nrcalong F444W)
    assert all(n.startswith("jw02736001001_02105_") and n.endswith("_cal.fits") for n in names)
    assert {p.filter for p in products} == {"F200W", "F444W"}
    assert {(p.filter, p.detector) for p in products} == {("F200W", "nrca1"), ("F444W", "nrcalong")}
    assert all(p.uri == f"mast:JWST/product/{p.filename}" and p.size > 100e6 for p in products)
    services = [u for m, u, _ in replay.log if m == "POST"]
    assert len(services) == 4  # two column configs and two Mashup invocations


def _small_manifest(tmp_path, replay, n=3, sha=False):
    products = []
    for i in range(n):
        name = f"jw02736001001_02105_{i + 1:05d}_nrcalong_cal.fits"
        payload = bytes(np.random.default_rng(i).integers(0, 255, 5000 + 100 * i, dtype=np.uint8))
        replay.files[f"mast:JWST/product/{name}"] = payload
        entry = {
            "filename": name,
            "uri": f"mast:JWST/product/{name}",
            "size": len(payload),
            "filter": "F444W",
            "detector": "nrcalong",
        }
        if sha:
            entry["sha256"] = hashlib.sha256(payload).hexdigest()
        products.append(entry)
    return archive.load_manifest(
        write_manifest(tmp_path, {"archive": "mast", "query": QUERY, "products": products})
    )


def test_fetch_verifies_writes_lock_and_skips_present_files(tmp_path, monkeypatch):
    replay = install(monkeypatch)
    manifest = _small_manifest(tmp_path, replay)
    summary = fetch_mast(manifest, tmp_path / "dl", progress=False)
    assert list(summary["status"]) == ["fetched"] * 3
    for p in manifest.products:
        assert (tmp_path / "dl" / p.filename).read_bytes() == replay.files[p.uri]
    locked = archive.load_manifest(manifest.path)
    assert lock_path(manifest.path).exists()
    assert all(p.sha256 == hashlib.sha256(replay.files[p.uri]).hexdigest() for p in locked.products)
    replay.log.clear()
    again = fetch_mast(locked, tmp_path / "dl", progress=False)
    assert list(again["status"]) == ["present"] * 3 and replay.log == []
    assert not list((tmp_path / "dl").glob("*.part"))


def test_interrupted_and_partial_downloads_resume(tmp_path, monkeypatch):
    replay = install(monkeypatch)
    manifest = _small_manifest(tmp_path, replay, n=2, sha=True)
    first, second = manifest.products
    replay.truncate_once[first.uri] = 1000  # the connection drops after 1000 bytes
    dest = tmp_path / "dl"
    dest.mkdir()
    (dest / (second.filename + ".part")).write_bytes(replay.files[second.uri][:3000])  # left by a killed run
    fetch_mast(manifest, dest, progress=False)
    for p in manifest.products:
        assert (dest / p.filename).read_bytes() == replay.files[p.uri]
    ranges = [h.get("Range") for m, u, h in replay.log if "Download" in u]
    assert "bytes=1000-" in ranges and "bytes=3000-" in ranges


def test_corrupt_file_is_detected_and_fetched_again(tmp_path, monkeypatch):
    replay = install(monkeypatch)
    manifest = _small_manifest(tmp_path, replay, n=1, sha=True)
    product = manifest.products[0]
    dest = tmp_path / "dl"
    dest.mkdir()
    good = replay.files[product.uri]
    (dest / product.filename).write_bytes(bytes(len(good)))  # right size, wrong bytes
    summary = fetch_mast(manifest, dest, progress=False)
    assert summary["status"][0] == "fetched" and (dest / product.filename).read_bytes() == good


def test_download_that_stays_corrupt_fails_clearly(tmp_path, monkeypatch):
    replay = install(monkeypatch)
    manifest = _small_manifest(tmp_path, replay, n=1, sha=True)
    manifest.products[0].sha256 = "0" * 64  # the archive never serves these bytes
    with pytest.raises(DownloadError, match="SHA-256 mismatch"):
        fetch_mast(manifest, tmp_path / "dl", progress=False)
    assert not (tmp_path / "dl" / manifest.products[0].filename).exists()


# ------------------------------------------------------------------ HSC, replayed


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


def _warps_tar(visits) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for visit in visits:
            payload = _warp_bytes(visit)
            info = tarfile.TarInfo(f"arch-230101-120000/2-warps-HSC-I-9813-pdr3_dud_rev/warp-{visit}.fits")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def test_hsc_warps_download_and_stack(tmp_path, monkeypatch):
    replay = install(monkeypatch)
    replay.hsc_tar = _warps_tar([1228, 1230, 1232])
    manifest = archive.load_manifest("hsc_cosmos_i_warps")
    manifest.path = tmp_path / "hsc.yaml"
    monkeypatch.setenv("HSC_SSP_USER", "astro")
    monkeypatch.setenv("HSC_SSP_PASSWORD", "s3cret")
    summary = fetch_hsc_warps(manifest, tmp_path / "warps")
    assert list(summary["visit"]) == ["1228", "1230", "1232"]
    body = [h for m, u, h in replay.log if m == "POST"]
    assert body and "s3cret" not in lock_path(manifest.path).read_text()
    stack = archive.stack_warps(sorted((tmp_path / "warps").glob("warp-*.fits")))
    assert stack.data.shape == (3, 40, 50) and (stack.data[:, 5, 5] == 0).all()
    assert stack.wcs is not None


def test_hsc_credentials(tmp_path, monkeypatch):
    replay = install(monkeypatch)
    manifest = archive.load_manifest("hsc_cosmos_i_warps")
    manifest.path = tmp_path / "hsc.yaml"
    monkeypatch.delenv("HSC_SSP_USER", raising=False)
    monkeypatch.delenv("HSC_SSP_PASSWORD", raising=False)
    with pytest.raises(AsterisError, match="HSC_SSP_USER"):
        fetch_hsc_warps(manifest, tmp_path / "w")
    with pytest.raises(DownloadError, match="401"):
        fetch_hsc_warps(manifest, tmp_path / "w", user="astro", password="wrong")
    assert replay.log


def test_hsc_request_is_a_one_line_coordinate_list():
    query = archive.load_manifest("hsc_cosmos_i_warps").query
    body = hsc_cutout_request(query).decode()
    lines = body.split("\r\n\r\n", 1)[1].splitlines()
    assert lines[0] == "#? rerun type filter tract ra dec sw sh image mask variance"
    assert lines[1].split()[:4] == ["pdr3_dud_rev", "warp", "HSC-I", "any"]
    assert lines[1].split()[6] == f"{30 / 3600:.10f}deg"


def test_hsc_preview_from_hips2fits(tmp_path, monkeypatch):
    replay = install(monkeypatch)
    manifest = archive.load_manifest("hsc_cosmos_i_warps")
    out = archive.hsc_preview(manifest, tmp_path / "preview.fits", pixels=64)
    header = fits.getheader(out)
    assert fits.getdata(out).shape == (64, 64) and header["HIPSID"] == manifest.query["hips"]
    assert abs(header["CRVAL1"] - manifest.query["ra"]) < 1e-9
    assert any("hips2fits" in u for _, u, _ in replay.log)
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


def test_offline_preview_fails_fast(tmp_path, no_network):
    with pytest.raises(ArchiveUnreachableError):
        archive.hsc_preview(archive.load_manifest("hsc_cosmos_i_warps"), tmp_path / "p.fits")


@pytest.mark.remote_data
def test_resolve_smacs_online(tmp_path):
    manifest = archive.load_manifest("jades_1210_nircam")
    manifest.path = tmp_path / "jades.yaml"
    products = resolve_mast(manifest)
    assert products and all(p.filename.endswith("_cal.fits") for p in products)
