"""Data manifests: the exact archive products a data set is made of.

A manifest is a YAML file in ``data_manifests/`` (installed with the package,
`asteris.resources`) holding the archive query (program, observation, visit,
filters, detectors, product type) and, where known, the resolved products (file
name, data URI, size, SHA-256). Resolving a query online writes a lock file
(``NAME.lock.yaml``), like a package lock, so that later runs fetch the same
bytes: for a shipped manifest in ``<data folder>/manifests/`` (the package's
own folder may not be writable), for a manifest of your own beside it.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from ..config import reject_unknown_keys
from ..errors import ConfigError
from ..fileio import atomic_write, data_dir, writable_folder
from ..resources import shipped_folder

__all__ = [
    "MANIFEST_SCHEMA",
    "Product",
    "Manifest",
    "load_manifest",
    "lock_path",
    "write_lock",
    "manifest_dir",
]

MANIFEST_SCHEMA = 1
ARCHIVES = ("mast", "hsc")


@dataclass
class Product:
    """One archive file: what to fetch and how to check it."""

    filename: str
    uri: str
    size: int | None = None
    sha256: str | None = None
    filter: str | None = None
    detector: str | None = None
    visit: str | None = None

    @classmethod
    def from_dict(cls, data: dict) -> Product:
        reject_unknown_keys(data, cls, "product")
        return cls(**data)


@dataclass
class Manifest:
    """A data set: its archive, query, resolved products and where it came from."""

    name: str
    archive: str
    description: str = ""
    query: dict = field(default_factory=dict)
    products: list[Product] = field(default_factory=list)
    path: Path | None = None
    schema_version: int = MANIFEST_SCHEMA

    @property
    def resolved(self) -> bool:
        return bool(self.products)

    def to_dict(self) -> dict:
        out = {k: v for k, v in asdict(self).items() if k != "path"}
        out["products"] = [{k: v for k, v in asdict(p).items() if v is not None} for p in self.products]
        return out

    def choices(self, what: str) -> list[str]:
        """The ``filter`` or ``detector`` values this manifest asks for: its query's, or where the query
        names none, its products' (none at all allows any)."""
        asked = list(self.query.get(f"{what}s") or [])
        return asked or sorted({v for p in self.products if (v := getattr(p, what))})

    def checked(self, what: str, asked) -> list[str] | None:
        """``asked`` values of ``what`` spelled as the manifest spells them (case-insensitively); a
        value it does not hold is refused with the ones it does, before any download."""
        if asked is None:
            return None
        held = self.choices(what)
        if not held:
            return list(asked)
        by_lower = {h.lower(): h for h in held}
        unknown = [a for a in asked if a.lower() not in by_lower]
        if unknown:
            raise ConfigError(f"manifest {self.name} has no {what} {', '.join(unknown)}; "
                              f"choose from {', '.join(held)}")  # fmt: skip
        return [by_lower[a.lower()] for a in asked]

    def select(self, *, filters=None, detectors=None) -> list[Product]:
        """The products of the given filters and detectors (all if ``None``; case-insensitive, and a
        value the manifest does not hold is refused with the ones it does)."""
        filters, detectors = self.checked("filter", filters), self.checked("detector", detectors)
        return [
            p
            for p in self.products
            if (filters is None or p.filter in filters) and (detectors is None or p.detector in detectors)
        ]


def manifest_dir() -> Path:
    """The folder of the manifests that ship with the package (``data_manifests/``)."""
    return shipped_folder("data_manifests")


def lock_path(path: str | os.PathLike) -> Path:
    """The lock file of the manifest at ``path``: ``NAME.lock.yaml`` in ``<data folder>/manifests/``
    for a shipped manifest, beside the manifest for any other."""
    path = Path(path)
    name = path.name.removesuffix(".yaml") + ".lock.yaml"
    shipped = path.resolve().parent == manifest_dir().resolve()
    return data_dir() / "manifests" / name if shipped else path.with_name(name)


def _read_yaml(path: Path):
    try:
        return yaml.safe_load(path.read_text(errors="replace"))
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        problem = (getattr(exc, "problem", None) or str(exc)).splitlines()[0]
        raise ConfigError(f"{path} is not valid YAML{line}: {problem}") from None


def _parse(data: dict, path: Path) -> Manifest:
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a manifest (a YAML mapping)")
    reject_unknown_keys({**data, "path": None}, Manifest, "manifest", where=str(path))
    if data.get("schema_version", MANIFEST_SCHEMA) != MANIFEST_SCHEMA:
        raise ConfigError(f"{path}: manifest schema {data['schema_version']} is not {MANIFEST_SCHEMA}")
    if data.get("archive") not in ARCHIVES:
        raise ConfigError(f"{path}: archive must be one of {ARCHIVES}, got {data.get('archive')!r}")
    products = [Product.from_dict(p) for p in data.get("products") or []]
    return Manifest(**{**data, "products": products, "path": path})


def load_manifest(name_or_path: str | os.PathLike) -> Manifest:
    """Read a manifest by path, or by name from the shipped ``data_manifests/``.

    If its lock file exists (`lock_path`), the lock's resolved products (with
    sizes and checksums) take the place of the manifest's own list.

    Examples
    --------
    >>> m = load_manifest("smacs0723_nircam")
    >>> m.archive, m.query["proposal_id"], len(m.select(filters=["F444W"], detectors=["nrcalong"]))
    ('mast', '2736', 9)
    """
    path = Path(name_or_path)
    if not path.suffix:
        path = manifest_dir() / f"{path.name}.yaml"
    if not path.is_file():
        shipped = sorted(p.stem for p in manifest_dir().glob("*.yaml") if not p.name.endswith(".lock.yaml"))
        raise FileNotFoundError(f"no manifest at {path}; the shipped ones are {', '.join(shipped)}")
    manifest = _parse(_read_yaml(path), path)
    lock = lock_path(path)
    if lock.is_file():
        locked = _parse(_read_yaml(lock), lock)
        manifest.products = locked.products
    return manifest


def write_lock(manifest: Manifest) -> Path:
    """Atomically write the manifest's resolved products to its lock file."""
    if manifest.path is None:
        raise ConfigError("this manifest was not read from a file, so it has no lock file")
    text = yaml.safe_dump(manifest.to_dict(), sort_keys=False)
    lock = lock_path(manifest.path)
    writable_folder(lock.parent)
    return atomic_write(lock, lambda p: p.write_text(text), overwrite=True)
