"""Replays the archives' HTTP answers from recorded responses, at the transport level.

Installed as the adapter of every `requests.Session`, it answers the MAST
Mashup services from ``tests/data/mast`` and serves registered files at the
MAST download endpoint (with HTTP Range support), the HSC-SSP cutout service
(a tar stream, with Basic authentication) and the hips2fits service (a FITS
image of the requested size and centre). Anything else is refused.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np
import requests
from astropy.io import fits
from requests.structures import CaseInsensitiveDict

from asteris.archive.download import HIPS_HOST, HSC_HOST, MAST_HOST

RECORDED = Path(__file__).parent / "data" / "mast"


class ArchiveReplay(requests.adapters.BaseAdapter):
    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, bytes] = {}
        self.truncate_once: dict[str, int] = {}
        self.log: list[tuple[str, str, dict]] = []
        self.hsc_tar: bytes = b""
        self.hsc_credentials = ("astro", "s3cret")

    def close(self) -> None:
        pass

    def _response(self, request, status: int, body: bytes, headers: dict | None = None) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response.headers = CaseInsensitiveDict({"Content-Length": str(len(body)), **(headers or {})})
        response.raw = io.BytesIO(body)
        response.url, response.request = request.url, request
        return response

    def send(self, request, **kwargs):
        self.log.append((request.method, request.url, dict(request.headers)))
        url = urlsplit(request.url)
        body = request.body.decode() if isinstance(request.body, bytes) else (request.body or "")
        if url.netloc == MAST_HOST and url.path.endswith("/columnsconfig"):
            name = unquote(body).split("=", 1)[1]
            return self._response(request, 200, (RECORDED / f"columnsconfig_{name}.json").read_bytes())
        if url.netloc == MAST_HOST and url.path == "/api/v0/invoke":
            service = json.loads(unquote(body).split("=", 1)[1])["service"]
            return self._response(request, 200, (RECORDED / f"invoke_{service}.json").read_bytes())
        if url.netloc == MAST_HOST and url.path == "/api/v0.1/Download/file":
            return self._download(request, parse_qs(url.query)["uri"][0])
        if url.netloc == HSC_HOST and url.path.endswith("/cgi-bin/cutout"):
            user, password = self.hsc_credentials
            expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
            if request.headers.get("Authorization") != expected:
                return self._response(request, 401, b"Unauthorized")
            return self._response(request, 200, self.hsc_tar, {"Content-Type": "application/x-tar"})
        if url.netloc == HIPS_HOST and url.path.endswith("/hips2fits"):
            return self._response(request, 200, _hips2fits_answer(parse_qs(url.query)))
        raise requests.ConnectionError(f"no recorded answer for {request.method} {request.url}")

    def _download(self, request, uri: str) -> requests.Response:
        if uri not in self.files:
            return self._response(request, 404, b"Not Found")
        data = self.files[uri]
        start = int(request.headers["Range"].split("=")[1].rstrip("-")) if "Range" in request.headers else 0
        if start >= len(data):
            return self._response(request, 416, b"")
        chunk = data[start:]
        if uri in self.truncate_once:  # the connection drops after this many bytes
            chunk = chunk[: self.truncate_once.pop(uri)]
        status = 206 if start else 200
        headers = {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"} if start else {}
        return self._response(request, status, chunk, headers)


def _hips2fits_answer(params: dict) -> bytes:
    """A FITS image as hips2fits returns it: the requested size, a TAN WCS at the requested centre."""
    width, height = int(params["width"][0]), int(params["height"][0])
    header = fits.Header()
    header.update(
        CTYPE1="RA---TAN",
        CTYPE2="DEC--TAN",
        CRVAL1=float(params["ra"][0]),
        CRVAL2=float(params["dec"][0]),
        CRPIX1=width / 2 + 0.5,
        CRPIX2=height / 2 + 0.5,
        CDELT1=-float(params["fov"][0]) / width,
        CDELT2=float(params["fov"][0]) / width,
    )
    header["HIPSID"] = params["hips"][0]
    buf = io.BytesIO()
    fits.PrimaryHDU(np.zeros((height, width), np.float32), header).writeto(buf)
    return buf.getvalue()


def install(monkeypatch) -> ArchiveReplay:
    """Route every requests session through a new `ArchiveReplay`, and let the hosts 'answer'."""
    replay = ArchiveReplay()
    monkeypatch.setattr(requests.Session, "get_adapter", lambda self, url: replay)
    monkeypatch.setattr("asteris.archive.download.check_online", lambda host, **kw: None)
    return replay
