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
import tarfile
from pathlib import Path
from urllib.parse import quote, urlsplit

from astropy.table import QTable
from tqdm.auto import tqdm

from .. import remote
from ..errors import ArchiveUnreachableError, AsterisError, DownloadError, NotFITSError
from ..fileio import atomic_path, sha256sum, writable_folder
from ..stack import open_fits
from .manifests import Manifest, Product, lock_path, write_lock

__all__ = [
    "ArchiveUnreachableError",
    "DownloadError",
    "HSC_CUTOUT_ENV",
    "HIPS2FITS_ENV",
    "mast_server",
    "hsc_cutout_url",
    "hips2fits_url",
    "check_online",
    "resolve_mast",
    "fetch_mast",
    "fetch_hsc_warps",
    "hsc_preview",
    "fetch",
]

MAST_TOKEN_ENV = "MAST_API_TOKEN"
#: The HSC-SSP das_cutout service (``{release}`` is filled in); another can be set in this variable.
HSC_CUTOUT_ENV = "ASTERIS_HSC_CUTOUT_URL"
HSC_CUTOUT_URL = "https://hsc-release.mtk.nao.ac.jp/das_cutout/{release}/cgi-bin/cutout"
HSC_USER_ENV, HSC_PASSWORD_ENV = "HSC_SSP_USER", "HSC_SSP_PASSWORD"
HSC_ACCOUNT_URL = "https://hsc-release.mtk.nao.ac.jp/"  #: where an HSC-SSP account is made (free)
#: The hips2fits service of the credential-free HSC preview; another can be set in this variable.
HIPS2FITS_ENV = "ASTERIS_HIPS2FITS_URL"
OFFLINE_FALLBACK = (
    "offline, run on the embedded synthetic data instead "
    "(`make demo`, or `asteris synthetic --out stack.fits`)"
)
OFFLINE_HINT = f"the archives need internet access; {OFFLINE_FALLBACK}"


def mast_server() -> str:
    """MAST's root URL: astroquery's own ``[mast] server`` setting (``astroquery.cfg``).

    Queries (through astroquery), downloads and the reachability check all
    follow it, so that a mirror or a local stand-in serves the whole road.
    """
    from astroquery.mast import conf

    return str(conf.server).rstrip("/")


def hsc_cutout_url(release: str) -> str:
    """The das_cutout URL of ``release``: ``$ASTERIS_HSC_CUTOUT_URL`` when set, else the HSC-SSP site's."""
    return os.environ.get(HSC_CUTOUT_ENV, HSC_CUTOUT_URL).format(release=release)


def hips2fits_url() -> str:
    """The hips2fits service: ``$ASTERIS_HIPS2FITS_URL`` when set, else astroquery's default (CDS)."""
    from astroquery.hips2fits import hips2fitsClass

    return os.environ.get(HIPS2FITS_ENV) or hips2fitsClass.server


def check_online(url: str, *, timeout: float = 5.0) -> None:
    """Raise `ArchiveUnreachableError` unless the host and port of ``url`` answer within ``timeout``;
    a server on this machine (a mirror or stand-in) is named as the one that is down."""
    host = urlsplit(url).hostname or ""
    local = host == "localhost" or host == "::1" or host.startswith("127.")
    advice = OFFLINE_HINT
    if local:
        advice = f"the archive server set for asteris, {url}, is down: start it or set another; "
        advice += OFFLINE_FALLBACK
    remote.check_url_online(url, timeout=timeout, advice=advice)


# --------------------------------------------------------------------------- MAST


def _filename_pattern(query: dict) -> re.Pattern:
    detectors = "|".join(query.get("detectors") or [r"[a-z0-9]+"])
    any3 = r"\d{3}"
    stem = f"jw{int(query['proposal_id']):05d}{query.get('observation', any3)}{query.get('visit', any3)}"
    return re.compile(rf"^{stem}_\d{{5}}_\d{{5}}_(?P<detector>{detectors})_cal\.fits$")


def resolve_mast(manifest: Manifest) -> list[Product]:
    """Query MAST for the manifest's stage-2 products (needs the network).

    Uses ``Observations.query_criteria``, ``get_product_list`` and
    ``filter_products`` (``productSubGroupDescription`` and ``calib_level``),
    then keeps the observation, visit and detectors asked for.
    """
    try:
        return _query_mast(manifest.query)
    except AsterisError:
        raise
    except Exception as exc:  # astroquery and the table readers raise many kinds for one problem
        raise DownloadError(
            f"the answer of {mast_server()} to the product query could not be read ({type(exc).__name__}: "
            f"{_first_line(exc)}): it may be busy or cut short, or not be MAST; run the command again, "
            f"or check astroquery's [mast] server setting"
        ) from None


def _first_line(exc: Exception, limit: int = 120) -> str:
    text = (str(exc).strip().splitlines() or [""])[0]
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _query_mast(q: dict) -> list[Product]:
    from astroquery.mast import Observations

    observations = Observations.query_criteria(
        obs_collection=q["obs_collection"],
        proposal_id=q["proposal_id"],
        instrument_name=q["instrument_name"],
        filters=q["filters"],
    )
    filter_of = {str(row["obsid"]): str(row["filters"]) for row in observations}
    table = Observations.get_product_list(observations)
    table = Observations.filter_products(
        table,
        productSubGroupDescription=q.get("product_subgroup", "CAL"),
        calib_level=[q.get("calib_level", 2)],
    )
    pattern = _filename_pattern(q)
    products: dict[str, Product] = {}
    for row in table:
        match = pattern.match(str(row["productFilename"]))
        if match and row["productFilename"] not in products:
            products[row["productFilename"]] = Product(
                filename=str(row["productFilename"]),
                uri=str(row["dataURI"]),
                size=_positive_size(row["size"]),
                filter=filter_of.get(str(row["parent_obsid"]), None),
                detector=match["detector"],
            )
    return sorted(products.values(), key=lambda p: p.filename)


def _positive_size(value) -> int:
    size = int(value)
    if size <= 0:
        raise ValueError(f"a product row gives the size {value!r}")
    return size


def _verify(path: Path, product: Product, *, checksum: bool = True) -> str | None:
    """None if ``path`` is the product intact (its size, and its SHA-256 unless ``checksum`` is
    false), else why not."""
    if not path.is_file():
        return "missing"
    if product.size is not None and path.stat().st_size != product.size:
        return f"size {path.stat().st_size} != {product.size} bytes"
    if checksum and product.sha256 is not None and sha256sum(path) != product.sha256:
        return "SHA-256 mismatch"
    return None


def _http_download(session, url: str, part: Path, *, headers: dict, chunk: int = 1 << 16) -> None:
    """GET ``url`` into ``part``, resuming from its current length with an HTTP Range request."""
    have = part.stat().st_size if part.exists() else 0
    request_headers = {**headers, **({"Range": f"bytes={have}-"} if have else {})}
    with session.get(url, headers=request_headers, stream=True, timeout=(10, 300)) as response:
        if response.status_code == 416:  # nothing left to send: the file is complete (or too long)
            return
        response.raise_for_status()
        mode = "ab" if have and response.status_code == 206 else "wb"
        with open(part, mode) as out:
            for block in response.iter_content(chunk):
                out.write(block)


def _mast_headers() -> dict:
    token = os.environ.get(MAST_TOKEN_ENV)
    return {"Authorization": f"token {token}"} if token else {}


#: Seconds before the first retry of a 429 or 5xx answer; each retry waits twice as long.
RETRY_SECONDS = 2.0
MAST_TOKEN_URL = "https://auth.mast.stsci.edu/token"


def _wait_to_retry(attempt: int, attempts: int) -> None:
    """The backoff after a busy or failing answer (429, 5xx): `RETRY_SECONDS`, doubling; no wait after
    the last try."""
    import time

    if attempt + 1 < attempts:
        time.sleep(RETRY_SECONDS * 2**attempt)


def _refusal(product: Product, status: int) -> str:
    """What a 401, 403 or 404 answer for ``product`` means, and what to do."""
    if status == 404:
        return f"{mast_server()} has no {product.uri} (404): the lock file may name a product since removed"
    if os.environ.get(MAST_TOKEN_ENV):
        return (f"{mast_server()} refused the token in {MAST_TOKEN_ENV} for {product.filename} ({status}): "
                f"make a new one at {MAST_TOKEN_URL}")  # fmt: skip
    return (f"{product.filename} is protected ({status}): set {MAST_TOKEN_ENV} to a MAST token "
            f"(make one at {MAST_TOKEN_URL})")  # fmt: skip


def _download_mast_product(session, product: Product, path: Path, *, attempts: int = 3) -> None:
    """Fetch one product into ``path`` via ``path.part``: resume short files, verify, retry (with
    backoff after a 429 or 5xx answer); a 401, 403 or 404 answer ends it at once."""
    import requests

    part = path.with_name(path.name + ".part")
    url = f"{mast_server()}/api/v0.1/Download/file?uri={quote(product.uri, safe=':/')}"
    problem = "not attempted"
    for attempt in range(attempts):
        try:
            _http_download(session, url, part, headers=_mast_headers())
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if status in (401, 403, 404):
                raise DownloadError(_refusal(product, status)) from None
            problem = f"{status} from {mast_server()}"
            _wait_to_retry(attempt, attempts)
            continue
        except requests.ConnectionError:
            problem = f"{mast_server()} stopped answering"
            continue
        except requests.RequestException as exc:
            problem = f"{type(exc).__name__}: {_first_line(exc)}"
            continue
        problem = _verify(part, product)
        if problem is None:
            os.replace(part, path)
            return
        if product.size is None or part.stat().st_size >= product.size:
            part.unlink()  # corrupt or over-long: start again from zero; a short file resumes
    raise DownloadError(f"{product.filename} could not be fetched intact ({problem})")


def _pinned_by(manifest: Manifest) -> str:
    """Which lock file pinned the manifest's checksums, and when."""
    import datetime

    if manifest.path is None:
        return "the manifest given"
    lock = lock_path(manifest.path)
    if not lock.exists():
        return str(manifest.path)
    when = datetime.datetime.fromtimestamp(lock.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
    return f"{lock} (written {when})"


def _repin(products: list[Product], dest: Path) -> None:
    """Forget the checksums of products whose files are missing or differ from them, so that they are
    fetched again and pinned anew once their size and FITS structure check."""
    for product in products:
        if _verify(dest / product.filename, product) is not None:
            product.sha256 = None


def _fits_problem(path: Path) -> str | None:
    """None if ``path`` opens as FITS with data (`~asteris.stack.open_fits`: not damaged or cut
    short), else why not."""
    try:
        with open_fits(path, what="an archive product") as hdul:
            if not any(h.data is not None for h in hdul):
                return "no data in it"
    except NotFITSError as exc:
        return str(exc)
    return None


def fetch_mast(
    manifest: Manifest,
    dest: str | os.PathLike,
    *,
    filters=None,
    detectors=None,
    repin: bool = False,
    progress: bool = True,
) -> QTable:
    """Download (or verify) the manifest's MAST products into ``dest``; return a summary table.

    A query-only manifest is resolved first and its lock file written. Files
    already present with the right size and checksum are not fetched again
    (and need no network: offline, a complete download still verifies);
    partial downloads (``.part``) resume where they stopped. A file that
    cannot be fetched does not stop the others: the fetch ends by naming each
    failed file and why. ``repin``: fetch again the files that differ from
    the checksums pinned in the lock file and pin what comes (after checking
    its size and that it is FITS): for a lock written from a corrupt download.
    """
    import requests

    filters, detectors = manifest.checked("filter", filters), manifest.checked("detector", detectors)
    if not manifest.resolved:
        check_online(mast_server())
        manifest.products = resolve_mast(manifest)
        if not manifest.products:
            raise DownloadError(f"{mast_server()} lists no stage-2 product for the query of {manifest.name}; "
                                f"check its query (proposal, filters, detectors)")  # fmt: skip
        write_lock(manifest)
    dest = Path(dest)
    writable_folder(dest)
    products = manifest.select(filters=filters, detectors=detectors)
    if repin:
        _repin(products, dest)
    online = any(_verify(dest / p.filename, p, checksum=False) for p in products)
    if online:  # a file is missing or short: ask the archive before hashing the others
        check_online(mast_server())
    bar = {"unit": "file", "disable": not progress}
    verified = tqdm(products, desc="verifying", **bar)
    present = {p.filename for p in verified if _verify(dest / p.filename, p) is None}
    if not online and len(present) < len(products):
        check_online(mast_server())
    rows, failed = [], []
    with requests.Session() as session:
        for index, product in enumerate(tqdm(products, desc="fetching", **bar)):
            path = dest / product.filename
            status = "present" if product.filename in present else "fetched"
            if status == "fetched":
                try:
                    _download_one(session, product, path, check_fits=repin and product.sha256 is None)
                except DownloadError as why:
                    failed.append(f"{why}")
                    if _server_is_down():
                        failed.append(f"{mast_server()} stopped answering: {len(products) - index - 1} more "
                                      f"files were not tried")  # fmt: skip
                        break
                    continue
            if product.sha256 is None or product.size is None:
                product.size, product.sha256 = path.stat().st_size, sha256sum(path)
            rows.append((product.filename, product.filter, product.detector, product.size, status))
    write_lock(manifest)
    if failed:
        raise DownloadError(_failure_report(manifest, failed, len(rows), len(products), dest))
    names = ("filename", "filter", "detector", "bytes", "status")
    return QTable(rows=rows, names=names) if rows else QTable(names=names, dtype=(str, str, str, int, str))


def _server_is_down() -> bool:
    try:
        check_online(mast_server(), timeout=2.0)
    except ArchiveUnreachableError:
        return True
    return False


def _download_one(session, product: Product, path: Path, *, check_fits: bool) -> None:
    """One product fetched, and with ``check_fits`` (a re-pin) checked to be FITS."""
    _download_mast_product(session, product, path)
    if check_fits and (problem := _fits_problem(path)) is not None:
        path.unlink()
        raise DownloadError(f"{product.filename} came down broken ({problem})")


def _failure_report(manifest: Manifest, failed: list[str], done: int, total: int, dest: Path) -> str:
    """The files a fetch could not complete, why, and the command that finishes it."""
    command = f"asteris fetch {manifest.name} --dest {dest}"
    advice = f"to finish, run: {command}"
    if any("SHA-256 mismatch" in f for f in failed):
        advice = (f"if the archive's files are right and the pin is wrong, re-pin them: {command} --repin "
                  f"(pinned by {_pinned_by(manifest)})")  # fmt: skip
    reasons = "; ".join(failed)
    return f"{done} of {total} files are in {dest}; {len(failed)} failed: {reasons}; {advice}"


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
    values = [
        query["rerun"],
        query["type"],
        query["filter"],
        str(query.get("tract", "any")),
        f"{query['ra']:.10f}deg",
        f"{query['dec']:.10f}deg",
        f"{half:.10f}deg",
        f"{half:.10f}deg",
        "true",
        "true",
        "false",
    ]
    listing = f"#? {' '.join(fields)}\n{' '.join(values)}\n"
    return (
        f'--Boundary\r\nContent-Disposition: form-data; name="list"; filename="coordlist.txt"\r\n\r\n'
        f"{listing}\r\n--Boundary--\r\n"
    ).encode()


_WARP_MEMBER = re.compile(
    r"^arch-\d+-\d+/\d+-warps-(?P<filter>[^/]+)-(?P<tract>\d+)-(?P<rerun>[^/]+)/warp-(?P<visit>\d+)\.fits$"
)


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
            products.append(
                Product(
                    filename=name,
                    uri=f"hsc:{member.name}",
                    size=(dest / name).stat().st_size,
                    sha256=sha256sum(dest / name),
                    filter=match["filter"],
                    visit=match["visit"],
                )
            )
    return products


def fetch_hsc_warps(
    manifest: Manifest,
    dest: str | os.PathLike,
    *,
    user: str | None = None,
    password: str | None = None,
    timeout: float = 600.0,
) -> QTable:
    """Download the per-visit warps of the manifest's HSC-SSP cutout into ``dest``.

    Credentials come from the arguments or the environment and are never written anywhere.
    """
    import requests
    import urllib3

    q = manifest.query
    user, password = _hsc_credentials(user, password)
    url = hsc_cutout_url(q.get("release", "pdr3"))
    check_online(url)
    dest = Path(dest)
    writable_folder(dest)
    request = {"data": hsc_cutout_request(q), "auth": (user, password), "timeout": timeout,
               "headers": {"Content-Type": 'multipart/form-data; boundary="Boundary"'}}  # fmt: skip
    with _hsc_answer(url, request) as response:
        try:
            response.raw.decode_content = True
            manifest.products = _extract_warps(response.raw, dest)
        except (tarfile.TarError, requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise DownloadError(
                f"the answer of {url} broke off or is not a tar archive ({type(exc).__name__}); the warps "
                f"complete before it are kept in {dest}; run the command again"
            ) from None
    if not manifest.products:
        raise DownloadError(f"{url} sent no warp for the cutout of {manifest.name}; check its query "
                            f"(rerun, filter, tract, position)")  # fmt: skip
    write_lock(manifest)
    return QTable(
        rows=[(p.filename, p.visit, p.size) for p in manifest.products], names=("filename", "visit", "bytes")
    )


def _hsc_answer(url: str, request: dict, *, attempts: int = 3):
    """The cutout service's answer (streamed): 401/403 name the credentials, 429 and 5xx are retried
    with backoff and then named, a server that stops answering is named."""
    import requests

    for attempt in range(attempts):
        try:
            response = requests.post(url, stream=True, **request)
        except requests.ConnectionError:
            raise DownloadError(f"{url} stopped answering; run the command again when it is back") from None
        status = response.status_code
        if status in (401, 403):
            response.close()
            raise DownloadError(
                f"HSC-SSP refused the credentials in {HSC_USER_ENV}/{HSC_PASSWORD_ENV} ({status}): check "
                f"them, or sign up (free) at {HSC_ACCOUNT_URL}"
            )
        if status < 400:
            return response
        if status != 429 and status < 500:
            response.close()
            raise DownloadError(f"{url} refused the cutout request ({status}); check the manifest's query")
        response.close()
        _wait_to_retry(attempt, attempts)
    raise DownloadError(f"{url} answered {status} to {attempts} tries; it is busy or failing, run the "
                        f"command again later")  # fmt: skip


def hsc_preview(
    manifest: Manifest, output: str | os.PathLike, *, pixels: int = 512, overwrite: bool = False
) -> Path:
    """A credential-free preview of the field: the PDR coadd from ``astroquery.hips2fits``."""
    import astropy.units as u
    from astropy.coordinates import Angle, Latitude, Longitude
    from astroquery.hips2fits import hips2fitsClass

    q = manifest.query
    service = hips2fitsClass()
    service.server = hips2fits_url()
    check_online(service.server)
    hdul = service.query(
        hips=q["hips"],
        width=pixels,
        height=pixels,
        projection="TAN",
        ra=Longitude(q["ra"] * u.deg),
        dec=Latitude(q["dec"] * u.deg),
        fov=Angle(q["size_arcsec"] * u.arcsec),
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
