"""The package's version: the installed distribution's metadata (``importlib.metadata``), so that
it is the version pip installed, and no module has to import the package's ``__init__`` for it.

>>> VERSION.count(".") >= 1
True
"""

from importlib.metadata import PackageNotFoundError, version

__all__ = ["VERSION"]

try:
    VERSION = version("asteris")
except PackageNotFoundError:  # a source tree put on sys.path by hand, never installed
    VERSION = "0+unknown"
