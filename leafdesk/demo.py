"""Start LeafDesk's Leaf sandbox on a free loopback port, for `leafdesk --demo` and `--self-test`.

This is the only module outside the sandbox that imports it: the window and the core reach Leaf
only through a base URL, so the demo is a Leaf account like any other, pointing at 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leafdesk.core.paths import cache_path
from leafdesk.core.secrets import PARTNER_PASSWORD, SecretStore
from leafdesk.core.settings import LeafAccount, PartnerPreset, Settings
from leafdesk.sandbox import DEMO, SandboxConfig, start_background_server

log = logging.getLogger(__name__)

DEMO_ACCOUNT_NAME = "Demo sandbox"
DEMO_USERS = 250
# The demo's colour in the account switcher: amber, so it is never mistaken for production.
DEMO_COLOUR = "#f9a825"
# The cache key ignores the port, which changes every run, so every demo run shares one file.
DEMO_CACHE_URL = "http://127.0.0.1"
# One partner app preset per environment of the sandbox's demo partner logins.
DEMO_PRESET_NAMES = {
    "STAGE": "Demo sandbox partner (STAGE)",
    "PRODUCTION": "Demo sandbox partner (PRODUCTION)",
}


@dataclass
class DemoSandbox:
    """A running demo sandbox: its server, the Leaf account pointing at it and its password."""

    server: Any
    account: LeafAccount
    password: str = field(repr=False)
    cache_file: Path | None
    controls: bool

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def partner(self, environment: str = "STAGE") -> Any:
        """Return the demo partner login of an environment (client id, username, password...)."""
        return DEMO.partners[environment]

    def control(self, method: str, path: str, body: Any = None) -> Any:
        """Call a sandbox test control (only with `controls=True`) and return its JSON response."""
        if not self.controls:
            raise RuntimeError("this demo sandbox was started without test controls. Start it "
                               "with controls=True to call them")
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(
            f"{self.base_url}/_sandbox/{path.lstrip('/')}", data=data, method=method,
            headers={"Content-Type": "application/json"})
        # The sandbox listens on 127.0.0.1 only, so no proxy may stand in between.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=10) as response:
            content = response.read()
        return json.loads(content) if content else None

    def preset_name(self, environment: str = "STAGE") -> str:
        """Return the name of the demo's partner app preset of an environment."""
        return DEMO_PRESET_NAMES[environment]

    def install_presets(self, settings: Settings, secrets: SecretStore) -> list[PartnerPreset]:
        """Add a partner app preset per demo partner login to `settings`, passwords to `secrets`.

        Only the settings object in memory changes, so the demo presets reach the settings file
        only when the operator saves the settings, and then without their passwords. An earlier
        preset of the same name is replaced, because its login may be out of date.
        """
        installed = []
        for environment, name in DEMO_PRESET_NAMES.items():
            login = DEMO.partners[environment]
            preset = PartnerPreset(name, client_id=login.client_id,
                                   partner_username=login.username,
                                   sharing_url_id=login.sharing_url_id,
                                   client_environment=environment)
            settings.presets = [existing for existing in settings.presets
                                if existing.name != name]
            settings.presets.append(preset)
            secrets.set(PARTNER_PASSWORD, name, login.password)
            installed.append(preset)
        log.info("Added the demo partner app presets: %s", ", ".join(DEMO_PRESET_NAMES.values()))
        return installed

    def approve_one_click(self, user_id: str) -> None:
        """Approve the newest pending share of a Leaf user, as the grower would."""
        self.control("POST", f"one-clicks/{user_id}/approve")

    def stop(self) -> None:
        log.info("Stopping the demo sandbox at %s", self.base_url)
        self.server.stop()


def start_demo(*, users: int = DEMO_USERS, controls: bool = False,
               cache_file: Path | None = None) -> DemoSandbox:
    """Start the sandbox with demo data on 127.0.0.1 and a free port; block until it responds.

    `cache_file` defaults to the demo account's cache in the platform data folder.
    """
    server = start_background_server(SandboxConfig(users=users, seed=1, controls=controls),
                                     host="127.0.0.1", port=0)
    log.info("Demo sandbox with %d users at %s", users, server.base_url)
    account = LeafAccount(
        DEMO_ACCOUNT_NAME,
        base_url=server.base_url,
        username=DEMO.owner_username,
        environment_colour=DEMO_COLOUR,
        remember=False,
    )
    return DemoSandbox(
        server=server,
        account=account,
        password=DEMO.owner_password,
        cache_file=cache_file or cache_path(DEMO_ACCOUNT_NAME, DEMO_CACHE_URL),
        controls=controls,
    )


async def start_demo_in_background(**options: Any) -> tuple[LeafAccount, str, DemoSandbox]:
    """Start the demo sandbox without blocking the event loop; return account, password, handle."""
    loop = asyncio.get_running_loop()
    demo = await loop.run_in_executor(None, lambda: start_demo(**options))
    return demo.account, demo.password, demo
