"""Moved to :mod:`core.logtally` (Beam-free core); this name is an alias of that module."""
import sys

from core import logtally as _core

sys.modules[__name__] = _core
