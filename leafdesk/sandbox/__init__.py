"""The Leaf sandbox: a local server that plays the Leaf API for Panorama, with demo data,
fault knobs and test controls. It shares nothing with LeafDesk's client side.
"""

from __future__ import annotations

from .app import create_app
from .config import DEMO, DemoLogins, PartnerLogin, SandboxConfig
from .server import BackgroundServer, start_background_server

__all__ = ["DEMO", "BackgroundServer", "DemoLogins", "PartnerLogin", "SandboxConfig",
           "create_app", "start_background_server"]
