"""Moved to :mod:`core.words` (Beam-free core). This name stays an alias of that
same module object so existing imports, and tests that patch it, keep working."""
import sys

from core import words as _core

sys.modules[__name__] = _core
