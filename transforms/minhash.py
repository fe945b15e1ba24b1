"""Moved to :mod:`core.minhash` (Beam-free core). This name stays an alias of that
same module object so existing imports, and tests that patch it, keep working."""
import sys

from core import minhash as _core

sys.modules[__name__] = _core
