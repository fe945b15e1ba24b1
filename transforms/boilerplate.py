"""Moved to :mod:`core.boilerplate` (Beam-free core). This name stays an alias of that
same module object so existing imports, and tests that patch it, keep working."""
import sys

from core import boilerplate as _core

sys.modules[__name__] = _core
