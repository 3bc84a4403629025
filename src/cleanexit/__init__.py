"""cleanexit: full session termination for JWT-based web APIs.

``cleanexit.server`` (framework-free core), ``cleanexit.integrations.fastapi`` (HTTP),
``cleanexit.client`` (Python SDK), ``cleanexit.cli`` (the ``cleanexit`` command).
"""

from __future__ import annotations

__all__ = ["__version__"]
__version__ = "0.1.0"
