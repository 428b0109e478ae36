"""Downloading the archive products of a manifest: JWST from MAST, HSC-SSP warps.

Every entry point first checks that the archive answers, and fails within
seconds with `ArchiveUnreachableError` when it does not. Downloads go to a
``.part`` file, are checked against the size (and SHA-256, once known) of the
product, and only then renamed into place; a file already present and
verified is never fetched again.
"""

from __future__ import annotations

import io
import os
import re
import socket
import tarfile
from pathlib import Path

from astropy.table import QTable
from tqdm.auto import tqdm

from .errors import AsterisError
from .fileio import atomic_path, sha256sum
from .manifests import Manifest, Product, write_lock

__all__ = [
    "ArchiveUnreachableError",
    "DownloadError",
    "MAST_HOST",
    "HSC_HOST",
    "check_online",
    "resolve_mast",
    "fetch_mast",
    "fetch_hsc_warps",
    "hsc_preview",
    "fetch",
]

MAST_HOST = "mast.stsci.edu"
HSC_HOST = "hsc-release.mtk.nao.ac.jp"
HSC_CUTOUT_URL = f"https://{HSC_HOST}/das_cutout/{{release}}/cgi-bin/cutout"
HSC_USER_ENV, HSC_PASSWORD_ENV = "HSC_SSP_USER", "HSC_SSP_PASSWORD"
OFFLINE_HINT = (
    "the archives need internet access; offline, run on the embedded synthetic data instead "
    "(`make demo`, or `asteris synthetic --out stack.fits`)"
)


class ArchiveUnreachableError(AsterisError, ConnectionError):
    """The archive cannot be reached (no network, DNS failure, service down)."""


class DownloadError(AsterisError, OSError):
    """A product could not be downloaded completely and intact."""


def check_online(host: str, *, port: int = 443, timeout: float = 5.0) -> None:
    """Raise `ArchiveUnreachableError` unless a TCP connection to ``host`` opens within ``timeout``."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise ArchiveUnreachableError(f"{host} cannot be reached ({exc}); {OFFLINE_HINT}") from None


# --------------------------------------------------------------------------- MAST


def _filename_pattern(query: dict) -> re.Pattern:
    detectors = "|".join(query.get("detectors") or [r"[a-z0-9]+"])
    stem = f"jw{int(query['proposal_id']):05d}{query.get('observation', r'\d{3}')}{query.get('visit', r'\d{3}')}"
    return re.compile(rf"^{stem}_\d{{5}}_\d{{5}}_(?P<detector>{detectors})_cal\.fits$")


def resolve_mast(manifest: Manifest) -> list[Product]:
    """Query MAST for the manifest's stage-2 products (needs the network).

    Uses ``Observations.query_criteria``, ``get_product_list`` and
    ``filter_products`` (``productSubGroupDescription`` and ``calib_level``),
    then keeps the observation, visit and detectors asked for.
    """
    from astroquery.mast import Observations

    q = manifest.query
    observations = Observations.query_criteria(
        obs_collection=q["obs_collection"], proposal_id=q["proposal_id"],
        instrument_name=q["instrument_name"], filters=q["filters"],
    )
    filter_of = {str(row["obsid"]): str(row["filters"]) for row in observations}
    table = Observations.get_product_list(observations)
    table = Observations.filter_products(
        table, productSubGroupDescription=q.get("product_subgroup", "CAL"), calib_level=[q.get("calib_level", 2)]
    )
    pattern = _filename_pattern(q)
    products: dict[str, Product] = {}
    for row in table:
        match = pattern.match(str(row["productFilename"]))
        if match and row["productFilename"] not in products:
            products[row["productFilename"]] = Product(
                filename=str(row["productFilename"]), uri=str(row["dataURI"]), size=int(row["size"]),
                filter=filter_of.get(str(row["parent_obsid"]), None), detector=match["detector"],
            )
    return sorted(products.values(), key=lambda p: p.filename)


def _verify(path: Path, product: Product) -> str | None:
    """None if ``path`` is the product intact, else why not."""
    if not path.is_file():
        return "missing"
    if product.size is not None and path.stat().st_size != product.size:
        return f"size {path.stat().st_size} != {product.size} bytes"
    if product.sha256 is not None and sha256sum(path) != product.sha256:
        return "SHA-256 mismatch"
    return None


def _download_mast_product(product: Product, path: Path, *, attempts: int = 2) -> None:
    from astroquery.mast import Observations

    part = path.with_name(path.name + ".part")
    problem = "not attempted"
    for _ in range(attempts):
        # cache=True lets astroquery resume a partial .part file with an HTTP Range request.
        status, msg, _url = Observations.download_file(product.uri, local_path=str(part), cache=True, verbose=False)
        if status == "ERROR":
            problem = f"MAST said: {msg}"
            continue
        problem = _verify(part, product)
        if problem is None:
            os.replace(part, path)
            return
        part.unlink(missing_ok=True)  # corrupt or over-long: start again from zero
    raise DownloadError(f"{product.filename} could not be fetched intact ({problem}); run the command again")


def fetch_mast(
    manifest: Manifest, dest: str | os.PathLike, *, filters=None, detectors=None,
    cloud: bool = False, progress: bool = True,
) -> QTable:
    """Download (or verify) the manifest's MAST products into ``dest``; return a summary table."""
    check_online(MAST_HOST)
    if not manifest.resolved:
        manifest.products = resolve_mast(manifest)
        write_lock(manifest)
    if cloud:
        from astroquery.mast import Observations

        Observations.enable_cloud_dataset(provider="AWS")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    rows = []
    for product in tqdm(manifest.select(filters=filters, detectors=detectors), desc="fetching",
                        unit="file", disable=not progress):
        path = dest / product.filename
        status = "present" if _verify(path, product) is None else "fetched"
        if status == "fetched":
            _download_mast_product(product, path)
        if product.sha256 is None or product.size is None:
            product.size, product.sha256 = path.stat().st_size, sha256sum(path)
        rows.append((product.filename, product.filter, product.detector, product.size, status))
    write_lock(manifest)
    return QTable(rows=rows, names=("filename", "filter", "detector", "bytes", "status")) if rows else QTable(
        names=("filename", "filter", "detector", "bytes", "status"), dtype=(str, str, str, int, str))


# --------------------------------------------------------------------------- HSC


def _hsc_credentials(user: str | None, password: str | None) -> tuple[str, str]:
    user = user or os.environ.get(HSC_USER_ENV)
    password = password or os.environ.get(HSC_PASSWORD_ENV)
    if not user or not password:
        raise AsterisError(
            f"HSC-SSP downloads need a (free) HSC-SSP account: set {HSC_USER_ENV} and {HSC_PASSWORD_ENV}"
        )
    return user, password


def hsc_cutout_request(query: dict) -> bytes:
    """The multipart body of a das_cutout request for one rectangle (a coordinate list of one line)."""
    half = query["size_arcsec"] / 2 / 3600
    fields = ["rerun", "type", "filter", "tract", "ra", "dec", "sw", "sh", "image", "mask", "variance"]
    values = [query["rerun"], query["type"], query["filter"], str(query.get("tract", "any")),
              f"{query['ra']:.10f}deg", f"{query['dec']:.10f}deg", f"{half:.10f}deg", f"{half:.10f}deg",
              "true", "true", "false"]
    listing = f"#? {' '.join(fields)}\n{' '.join(values)}\n"
    return (f'--Boundary\r\nContent-Disposition: form-data; name="list"; filename="coordlist.txt"\r\n\r\n'
            f"{listing}\r\n--Boundary--\r\n").encode()


_WARP_MEMBER = re.compile(r"^arch-\d+-\d+/\d+-warps-(?P<filter>[^/]+)-(?P<tract>\d+)-(?P<rerun>[^/]+)/warp-(?P<visit>\d+)\.fits$")


def _extract_warps(tar_bytes: io.BufferedIOBase, dest: Path) -> list[Product]:
    products = []
    with tarfile.open(fileobj=tar_bytes, mode="r|") as tar:
        for member in tar:
            match = _WARP_MEMBER.match(member.name)
            handle = tar.extractfile(member) if match else None
            if handle is None:
                continue
            name = f"warp-{match['filter']}-{match['tract']}-{match['visit']}.fits"
            with atomic_path(dest / name, overwrite=True) as tmp:
                tmp.write_bytes(handle.read())
            products.append(Product(filename=name, uri=f"hsc:{member.name}", size=(dest / name).stat().st_size,
                                    sha256=sha256sum(dest / name), filter=match["filter"], visit=match["visit"]))
    return products


def fetch_hsc_warps(
    manifest: Manifest, dest: str | os.PathLike, *, user: str | None = None, password: str | None = None,
    timeout: float = 600.0,
) -> QTable:
    """Download the per-visit warps of the manifest's HSC-SSP cutout into ``dest``.

    Credentials come from the arguments or the environment and are never written anywhere.
    """
    import requests

    q = manifest.query
    user, password = _hsc_credentials(user, password)
    check_online(HSC_HOST)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    response = requests.post(
        HSC_CUTOUT_URL.format(release=q.get("release", "pdr3")), data=hsc_cutout_request(q),
        headers={"Content-Type": 'multipart/form-data; boundary="Boundary"'},
        auth=(user, password), stream=True, timeout=timeout,
    )
    if response.status_code == 401:
        raise DownloadError(f"HSC-SSP refused the credentials in {HSC_USER_ENV}/{HSC_PASSWORD_ENV} (401)")
    response.raise_for_status()
    response.raw.decode_content = True
    manifest.products = _extract_warps(response.raw, dest)
    write_lock(manifest)
    return QTable(rows=[(p.filename, p.visit, p.size) for p in manifest.products],
                  names=("filename", "visit", "bytes"))


def hsc_preview(manifest: Manifest, output: str | os.PathLike, *, pixels: int = 512, overwrite: bool = False) -> Path:
    """A credential-free preview of the field: the PDR coadd from ``astroquery.hips2fits``."""
    import astropy.units as u
    from astropy.coordinates import Angle, Latitude, Longitude
    from astroquery.hips2fits import hips2fits

    q = manifest.query
    check_online("alasky.cds.unistra.fr")
    hdul = hips2fits.query(
        hips=q["hips"], width=pixels, height=pixels, projection="TAN",
        ra=Longitude(q["ra"] * u.deg), dec=Latitude(q["dec"] * u.deg), fov=Angle(q["size_arcsec"] * u.arcsec),
        format="fits",
    )
    with atomic_path(output, overwrite=overwrite) as tmp:
        hdul.writeto(tmp)
    return Path(output)


def fetch(manifest: Manifest, dest: str | os.PathLike, **kwargs) -> QTable:
    """Fetch a manifest's products from its archive (MAST or HSC-SSP) into ``dest``."""
    if manifest.archive == "mast":
        return fetch_mast(manifest, dest, **kwargs)
    return fetch_hsc_warps(manifest, dest, **kwargs)
