"""Local stand-ins of the archives, on 127.0.0.1, speaking their wire formats.

Each is a real HTTP server in a thread, started and stopped by the tests
(``with MastStandin() as mast: ...``); the package reaches it through its own
settings, never through patched functions:

- `MastStandin`: MAST's Mashup API as astroquery speaks to it
  (``POST /portal/Mashup/Mashup.asmx/columnsconfig``, ``POST /api/v0/invoke``
  with ``Mast.Caom.Filtered`` and ``Mast.Caom.Products``: paging, a bounded
  number of ``EXECUTING`` replies, typed ``fields``) and
  ``GET /api/v0.1/Download/file`` with HTTP Range, a connection that drops
  half-way, corrupt bytes, busy or failing answers (429, 5xx) and protected
  products (401 without the token), a server that stops after some files
  (``stop_after``) and query answers cut short, claiming more bytes than they
  hold or altered (``answer_fault``) on request. Its rows are made from ``_cal``
  files (`MastStandin.add_cal_files`). astroquery is pointed at it by its
  ``[mast] server`` setting in ``astroquery.cfg`` (`astroquery_config`).
- `HscStandin`: the HSC-SSP das_cutout service (multipart coordinate list,
  Basic authentication, a tar of warps, 401 on bad credentials, and the
  faults of a file: busy, failing, cut short, stopping) and the
  hips2fits preview service (`HscStandin.environment`).
- `ZenodoStandin`: Zenodo's records API with the published weights' files.

The envelopes follow the responses astroquery records for its own tests
(``astroquery/mast/tests/data/``, in its wheel): the Caom column
configuration is read from there.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import socket
import tarfile
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
from astropy.io import fits

ASTROQUERY_RECORDED = "mast/tests/data/columnsconfig.json"


class Standin(BaseHTTPRequestHandler):
    """A stand-in server: subclasses answer ``do_GET``/``do_POST``; class state is per server."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def setup(self) -> None:
        super().setup()
        self.server.owner.connections.add(self.connection)

    def finish(self) -> None:
        super().finish()
        self.server.owner.connections.discard(self.connection)

    @property
    def state(self):
        return self.server.state

    def body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def start(self, status: int, kind: str, length: int, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(length))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()

    def send(self, status: int, body: bytes, kind: str = "application/json", headers: dict | None = None):
        self.start(status, kind, len(body), headers)
        self.wfile.write(body)

    def send_file(self, key: str) -> None:
        """File ``key`` from the Range asked for (``served`` instead of ``files`` where set), cut
        half-way once for keys in ``drop_first``."""
        data = self.state.served.get(key, self.state.files.get(key))
        if data is None:
            return self.send(404, b"Not Found", "text/plain")
        if self.state.fail_next.get(key):  # a busy or broken archive: these answers first
            return self.send(self.state.fail_next[key].pop(0), b"try again later", "text/plain")
        if key in self.state.protected and self.headers.get("Authorization") != f"token {self.state.token}":
            return self.send(401, b"Unauthorized", "text/plain")
        start = int(self.headers["Range"].split("=")[1].split("-")[0]) if self.headers.get("Range") else 0
        if start >= len(data):
            return self.send(416, b"", "text/plain", {"Content-Range": f"bytes */{len(data)}"})
        body = data[start:]
        status, kind = (206 if start else 200), "application/octet-stream"
        headers = {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"} if start else {}
        self.stop_if_due()
        if key not in self.state.drop_first:
            return self.send(status, body, kind, headers)
        self.state.drop_first.discard(key)
        self.send_cut(status, body[: len(body) // 2], kind, len(body), headers)

    def send_cut(self, status: int, body: bytes, kind: str, length: int, headers: dict | None = None) -> None:
        """``body`` under a Content-Length of ``length``; where that is longer, the connection then
        drops (an answer cut short, or one that claims more than it holds)."""
        self.start(status, kind, length, headers)
        self.wfile.write(body)
        self.wfile.flush()
        if length > len(body):
            self.close_connection = True
            self.connection.shutdown(2)

    def stop_if_due(self) -> None:
        """After ``stop_after`` files the server stops: this answer still goes out, the next is refused."""
        if self.state.stop_after is None:
            return
        self.state.stop_after -= 1
        if self.state.stop_after <= 0:
            self.state.stop_after = None
            self.close_connection = True
            self.server.owner.stop(keep=self.connection)


class _State:
    def __init__(self) -> None:
        self.log: list[tuple] = []
        self.files: dict[str, bytes] = {}
        self.served: dict[str, bytes] = {}  # what is sent instead of ``files`` (corruption)
        self.drop_first: set[str] = set()  # keys whose next download is cut half-way
        self.fail_next: dict[str, list[int]] = {}  # keys answered with these statuses (429, 503...) first
        self.protected: set[str] = set()  # keys that need "Authorization: token <token>"
        self.token = "good-token"
        self.stop_after: int | None = None  # files served before the server stops (mid-run)
        self.lock = threading.Lock()


class _Server:
    handler: type[Standin]

    def __init__(self) -> None:
        self.state = self.new_state()
        self.port = 0
        self.running = False
        self.connections: set = set()  # open client connections, closed when the server stops

    def new_state(self) -> _State:
        return _State()

    def reset(self) -> None:
        """Forget every file, row and request; a stopped server starts again."""
        self.state = self.server.state = self.new_state()
        if not self.running:
            self.start_again()

    def __enter__(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self.handler)
        self.port = self.server.server_address[1]
        self.server.daemon_threads = True
        self.server.state, self.server.owner = self.state, self
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.running = True
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self, keep=None) -> None:
        """Stop serving, close the port and every open connection (but ``keep``, which is answering):
        a new connection is refused, as by a server that is down."""
        if self.running:
            self.running = False
            self.server.shutdown()
            self.server.server_close()
            for connection in list(self.connections - {keep}):
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def start_again(self) -> None:
        """Serve again on the same port, with the same state."""
        self.__enter__()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def log(self) -> list:
        return self.state.log


# --------------------------------------------------------------------------- MAST

#: (name, type) of the rows of each service, typed as MAST types them.
OBSERVATION_FIELDS = [
    ("intentType", "string"), ("obs_collection", "string"), ("provenance_name", "string"),
    ("instrument_name", "string"), ("project", "string"), ("filters", "string"),
    ("wavelength_region", "string"), ("target_name", "string"), ("obs_id", "string"), ("s_ra", "float"),
    ("s_dec", "float"), ("dataproduct_type", "string"), ("proposal_pi", "string"), ("calib_level", "int"),
    ("t_min", "float"), ("t_max", "float"), ("t_exptime", "float"), ("em_min", "float"), ("em_max", "float"),
    ("obs_title", "string"), ("proposal_id", "string"), ("obsid", "string"), ("objID", "string"),
]  # fmt: skip
PRODUCT_FIELDS = [
    ("obsID", "string"), ("obs_collection", "string"), ("dataproduct_type", "string"), ("obs_id", "string"),
    ("description", "string"), ("type", "string"), ("dataURI", "string"), ("productType", "string"),
    ("productGroupDescription", "string"), ("productSubGroupDescription", "string"),
    ("productDocumentationURL", "string"), ("project", "string"), ("prvversion", "string"),
    ("proposal_id", "string"), ("productFilename", "string"), ("size", "int"), ("parent_obsid", "string"),
    ("dataRights", "string"), ("calib_level", "int"), ("filters", "string"), ("_selected_", "boolean"),
]  # fmt: skip
_VOT = {"string": "char", "int": "int", "float": "double", "boolean": "boolean"}


def _products_columns_config() -> dict:
    config = {"_selected_": {"text": "selected", "add": True, "type": "boolean", "hidden": True}}
    for name, kind in PRODUCT_FIELDS[:-1]:
        arraysize = {"vot.arraysize": "*"} if kind == "string" else {}
        config[name] = {"text": name, "vot.datatype": _VOT[kind], "vot.ID": name, "vot.name": name,
                        "vot.description": name, **arraysize}  # fmt: skip
    return config


def _caom_columns_config() -> dict:
    """The Caom observation column configuration astroquery recorded from MAST for its own tests."""
    import astroquery

    return json.loads((Path(astroquery.__file__).parent / ASTROQUERY_RECORDED).read_text())


class MastState(_State):
    def __init__(self) -> None:
        super().__init__()
        self.observations: list[dict] = []
        self.products: list[dict] = []
        self.executing = 2  # EXECUTING replies before each page is COMPLETE
        # a fault in every COMPLETE answer: (answer) -> (the bytes sent, the Content-Length claimed)
        self.answer_fault = None
        self.pending: dict[str, int] = {}


def _matches(row: dict, mashup_filters: list[dict]) -> bool:
    for entry in mashup_filters:
        value = row.get(entry["paramName"])
        wanted = entry["values"]
        if wanted and isinstance(wanted[0], dict):  # continuous: [{"min", "max"}]
            if value is None or not wanted[0]["min"] <= value <= wanted[0]["max"]:
                return False
            continue
        have = str(value).split(entry["separator"]) if entry.get("separator") else [str(value)]
        if not set(have) & {str(v) for v in wanted}:
            return False
    return True


class MastHandler(Standin):
    def do_POST(self):  # noqa: N802 (http.server's name)
        path, body = urlsplit(self.path).path, self.body().decode()
        self.state.log.append(("POST", self.path, dict(self.headers)))
        if path == "/portal/Mashup/Mashup.asmx/columnsconfig":
            name = parse_qs(body)["colConfigId"][0]
            configs = {"Mast.Caom.Cone": _caom_columns_config, "Mast.Caom.Filtered": _caom_columns_config,
                       "Mast.Caom.Products": _products_columns_config}  # fmt: skip
            return self.send(200, json.dumps(configs[name]() if name in configs else {}).encode())
        if path == "/api/v0/invoke":
            answer = self._invoke(json.loads(parse_qs(body)["request"][0]))
            if self.state.answer_fault is None or answer["status"] != "COMPLETE":
                return self.send(200, json.dumps(answer).encode())
            sent, length = self.state.answer_fault(answer)
            return self.send_cut(200, sent, "application/json", length)
        self.send(404, b"Not Found", "text/plain")

    def _invoke(self, request: dict) -> dict:
        service, params = request["service"], request.get("params", {})
        if service == "Mast.Caom.Filtered":
            rows = [r for r in self.state.observations if _matches(r, params["filters"])]
            fields = OBSERVATION_FIELDS
        elif service == "Mast.Caom.Products":
            wanted = set(str(params["obsid"]).split(","))
            rows, fields = [r for r in self.state.products if r["parent_obsid"] in wanted], PRODUCT_FIELDS
        else:
            return {"status": "ERROR", "msg": f"unknown service {service}", "data": [], "fields": []}
        key = json.dumps([service, params, request.get("page")], sort_keys=True)
        with self.state.lock:
            left = self.state.pending.setdefault(key, self.state.executing)
            self.state.pending[key] = max(0, left - 1)
        if left:
            return {"status": "EXECUTING", "msg": "", "data": [], "fields": []}
        size, page = int(request.get("pagesize", 50000)), int(request.get("page", 1))
        pages = max(1, -(-len(rows) // size))
        chunk = rows[(page - 1) * size : page * size]
        return {"status": "COMPLETE", "msg": "", "data": chunk,
                "fields": [{"name": n, "type": t} for n, t in fields],
                "paging": {"page": page, "pageSize": len(chunk), "pagesFiltered": pages, "rows": len(chunk),
                           "rowsFiltered": len(rows), "rowsTotal": len(rows)}}  # fmt: skip

    def do_GET(self):  # noqa: N802
        url = urlsplit(self.path)
        self.state.log.append(("GET", self.path, dict(self.headers)))
        if url.path != "/api/v0.1/Download/file":
            return self.send(404, b"Not Found", "text/plain")
        self.send_file(parse_qs(url.query)["uri"][0])


class MastStandin(_Server):
    """MAST, as astroquery and the package's downloader speak to it."""

    handler = MastHandler

    def new_state(self) -> MastState:
        return MastState()

    def add_cal_files(
        self, paths, *, proposal: str = "1210", observation: str = "001", visit: str = "001",
        decoys: bool = True,
    ) -> list[str]:  # fmt: skip
        """Serve ``_cal`` files as one program's stage-2 products, one observation per filter.

        Each file is named as the archive names it
        (``jw<program><obs><visit>_<group>_<exposure>_<detector>_cal.fits``) from
        its FILTER and DETECTOR keywords. ``decoys`` adds what a real product list
        holds beside them: ``_rate`` files, the level-3 ``_i2d`` mosaic, a
        repeated row. Returns the served file names.
        """
        by_filter: dict[str, list] = {}
        for path in sorted(paths):
            header = fits.getheader(path)
            by_filter.setdefault(header["FILTER"], []).append((path, header["DETECTOR"].lower()))
        names, stem = [], f"jw{int(proposal):05d}{observation}{visit}"
        for index, (band, files) in enumerate(sorted(by_filter.items())):
            obsid = str(87_000_000 + 1000 * int(proposal) + index)
            self.state.observations.append(self._observation_row(proposal, band, obsid, index))
            for exposure, (path, detector) in enumerate(files, start=1):
                name = f"{stem}_{2101 + index:05d}_{exposure:05d}_{detector}_cal.fits"
                data = Path(path).read_bytes()
                self.state.files[f"mast:JWST/product/{name}"] = data
                self.state.products.append(_product_row(proposal, name, "CAL", 2, len(data), obsid, band))
                names.append(name)
                if decoys:
                    rate = name.replace("_cal", "_rate")
                    row = _product_row(proposal, rate, "RATE", 2, len(data), obsid, band)
                    self.state.products.append(row)
            if decoys:
                i2d = f"jw{int(proposal):05d}-o{observation}_t001_nircam_clear-{band.lower()}_i2d.fits"
                self.state.products.append(_product_row(proposal, i2d, "I2D", 3, 10_000, obsid, band))
                self.state.products.append(dict(self.state.products[-2]))  # the archive lists some rows twice
        return names

    @staticmethod
    def _observation_row(proposal: str, band: str, obsid: str, index: int) -> dict:
        return {"intentType": "science", "obs_collection": "JWST", "provenance_name": "CALJWST",
                "instrument_name": "NIRCAM/IMAGE", "project": "JWST", "filters": band,
                "wavelength_region": "INFRARED", "target_name": "GOODS-S", "s_ra": 53.16, "s_dec": -27.78,
                "obs_id": f"jw{int(proposal):05d}-o001_t001_nircam_clear-{band.lower()}",
                "dataproduct_type": "image", "proposal_pi": "Stand-in", "calib_level": 3,
                "t_min": 59880.0 + index, "t_max": 59880.5 + index, "t_exptime": 16000.0, "em_min": 1800.0,
                "em_max": 2200.0, "obs_title": "stand-in program", "proposal_id": proposal, "obsid": obsid,
                "objID": str(int(obsid) + 500)}  # fmt: skip

    def astroquery_config(self, folder: Path, *, pagesize: int = 50000) -> Path:
        """Write ``astroquery.cfg`` pointing ``[mast]`` at this stand-in; return the folder to give
        as ``ASTROPY_CONFIG_DIR`` (read when ``astroquery.mast`` is first imported)."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "astroquery.cfg").write_text(f"[mast]\nserver = {self.url}\npagesize = {pagesize}\n")
        return folder


def _product_row(proposal, name, subgroup, level, size, obsid, band) -> dict:
    member = str(int(obsid) * 1000 + zlib.crc32(name.encode()) % 1000)
    return {"obsID": member, "obs_collection": "JWST", "dataproduct_type": "image",
            "obs_id": name.rsplit("_", 1)[0], "description": f"exposure/target ({subgroup})", "type": "S",
            "dataURI": f"mast:JWST/product/{name}", "productType": "SCIENCE", "productGroupDescription": None,
            "productSubGroupDescription": subgroup, "productDocumentationURL": "", "project": "CALJWST",
            "prvversion": "1.14.0", "proposal_id": proposal, "productFilename": name, "size": size,
            "parent_obsid": obsid, "dataRights": "PUBLIC", "calib_level": level, "filters": band,
            "_selected_": None}  # fmt: skip


# --------------------------------------------------------------------------- HSC


CUTOUT = "cutout"  #: the key of the cutout service's answer among the stand-in's files


class HscState(_State):
    def __init__(self) -> None:
        super().__init__()
        self.credentials = ("astro", "s3cret")
        self.files[CUTOUT] = b""
        self.requests: list[bytes] = []


class HscHandler(Standin):
    def do_POST(self):  # noqa: N802
        body = self.body()
        self.state.log.append(("POST", self.path, dict(self.headers)))
        if not self.path.endswith("/cgi-bin/cutout"):
            return self.send(404, b"Not Found", "text/plain")
        self.state.requests.append(body)
        user, password = self.state.credentials
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            return self.send(401, b"Unauthorized", "text/plain", {"WWW-Authenticate": 'Basic realm="HSC"'})
        if b'name="list"' not in body or b"#?" not in body:
            return self.send(400, b"no coordinate list", "text/plain")
        self.send_file(CUTOUT)  # the tar, with the faults of any file (fail_next, drop_first, stop_after)

    def do_GET(self):  # noqa: N802
        url = urlsplit(self.path)
        self.state.log.append(("GET", self.path, dict(self.headers)))
        if not url.path.endswith("/hips2fits"):
            return self.send(404, b"Not Found", "text/plain")
        self.send(200, _hips2fits_answer(parse_qs(url.query)), "application/fits")


def _hips2fits_answer(params: dict) -> bytes:
    """A FITS image as hips2fits returns it: the requested size, a TAN WCS at the requested centre."""
    width, height = int(params["width"][0]), int(params["height"][0])
    header = fits.Header()
    fov = float(params["fov"][0])
    header.update(CTYPE1="RA---TAN", CTYPE2="DEC--TAN", CRVAL1=float(params["ra"][0]),
                  CRVAL2=float(params["dec"][0]), CRPIX1=width / 2 + 0.5, CRPIX2=height / 2 + 0.5,
                  CDELT1=-fov / width, CDELT2=fov / width)  # fmt: skip
    header["HIPSID"] = params["hips"][0]
    buf = io.BytesIO()
    fits.PrimaryHDU(np.zeros((height, width), np.float32), header).writeto(buf)
    return buf.getvalue()


class HscStandin(_Server):
    """The HSC-SSP das_cutout service and the hips2fits preview service."""

    handler = HscHandler

    def new_state(self) -> HscState:
        return HscState()

    def serve_warps(self, warps: dict[str, bytes], *, band: str = "HSC-I", tract: int = 9813) -> None:
        """Answer a cutout request with these warps (visit -> FITS bytes), as das_cutout packs them."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for visit, payload in warps.items():
                folder = f"arch-230101-120000/2-warps-{band}-{tract}-pdr3_dud_rev"
                info = tarfile.TarInfo(f"{folder}/warp-{visit}.fits")
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
        self.state.files[CUTOUT] = buf.getvalue()

    def environment(self) -> dict[str, str]:
        """The settings that point the package at this stand-in, with the accepted credentials."""
        user, password = self.state.credentials
        return {"ASTERIS_HSC_CUTOUT_URL": f"{self.url}/das_cutout/{{release}}/cgi-bin/cutout",
                "ASTERIS_HIPS2FITS_URL": f"{self.url}/hips-image-services/hips2fits",
                "HSC_SSP_USER": user, "HSC_SSP_PASSWORD": password}  # fmt: skip


# --------------------------------------------------------------------------- Zenodo

RECORD_ID = "17114980"


class ZenodoHandler(Standin):
    def do_GET(self):  # noqa: N802
        self.state.log.append((self.path, self.headers.get("Range")))
        record = f"/api/records/{RECORD_ID}"
        if self.path == record:
            return self.send(200, json.dumps(self._record()).encode())
        prefix = f"{record}/files/"
        if self.path.startswith(prefix) and self.path.endswith("/content"):
            key = self.path[len(prefix) : -len("/content")]
            return self.send_file(key)
        self.send(404, b'{"status": 404, "message": "not found"}')

    def _record(self) -> dict:
        base = f"http://{self.headers['Host']}/api/records/{RECORD_ID}"
        entries = [{"id": f"id-{key}", "key": key, "size": len(data),
                    "checksum": "md5:" + hashlib.md5(data).hexdigest(),
                    "links": {"self": f"{base}/files/{key}/content"}}
                   for key, data in self.state.files.items()]  # fmt: skip
        entries.append({"key": "README.md", "size": 3, "checksum": "md5:0", "links": {"self": f"{base}/r"}})
        return {"id": int(RECORD_ID), "doi": f"10.5281/zenodo.{RECORD_ID}", "files": entries,
                "metadata": {"title": "ASTERIS trained models"}}  # fmt: skip


class ZenodoStandin(_Server):
    """Zenodo's records API (``GET /api/records/ID``, files with Range) serving published weights."""

    handler = ZenodoHandler

    @property
    def api(self) -> str:
        return f"{self.url}/api"
