"""The tracker's collector: one ASGI app serving the demo site, the build and (later) events.

Run it with ``python -m collector``; embed it with :func:`create_app`.
"""

from collector.app import create_app
from collector.settings import Settings

__all__ = ["Settings", "create_app"]
