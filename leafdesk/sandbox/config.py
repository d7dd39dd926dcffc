"""Settings of one Leaf sandbox, and the demo logins it accepts.

`SandboxConfig` is what the command line and the tests set. `DEMO` contains the default API-owner
login and the Panorama partner logins (one per environment) that a sandbox accepts.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

ENVIRONMENTS = ("STAGE", "PRODUCTION")
FAULT_KINDS = ("500", "503", "reset", "malformed", "slow")
EMBED_MODES = ("full", "id")


@dataclass(frozen=True, slots=True)
class PartnerLogin:
    """A Panorama partner application's login and its Share Initiation URL id."""

    client_id: str
    username: str
    password: str
    sharing_url_id: str
    app_name: str


@dataclass(frozen=True, slots=True)
class DemoLogins:
    """The logins every sandbox accepts: the Leaf API owner and one Panorama partner per environment."""

    owner_username: str
    owner_password: str
    partners: Mapping[str, PartnerLogin] = field(default_factory=dict)


DEMO = DemoLogins(
    owner_username="demo@leafdesk.example",
    owner_password="leafdesk-demo",
    partners=MappingProxyType({
        "STAGE": PartnerLogin(
            client_id="4q1k0c7sandboxstage0client",
            username="partner-stage@agpartner.example",
            password="stage-partner-demo",
            sharing_url_id="5b0d7c1e-3f4a-4e8b-9c2d-6a1f0e9b8c7d",
            app_name="leafdesk-demo-stage",
        ),
        "PRODUCTION": PartnerLogin(
            client_id="7h2m5r9sandboxprod0client",
            username="partner@agpartner.example",
            password="production-partner-demo",
            sharing_url_id="c3e8a2f4-91b6-4d7e-8a05-2f6b9d4e1c38",
            app_name="leafdesk-demo",
        ),
    }),
)


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """Start settings of a sandbox: demo size and seed, fault knobs, clock speed, persistence.

    Latencies are milliseconds, `rate_limit` is requests per second over all API routes (None for
    no limit), `fault_rate` is the probability in [0, 1] that an API request meets one of
    `faults`. `clock_speed` multiplies real time on the sandbox clock. `health` turns the
    background process that breaks and heals credentials on or off. `logins` are the API-owner
    and partner logins the sandbox accepts, `DEMO` unless changed.
    """

    users: int = 250
    seed: int = 1
    controls: bool = False
    embed_credentials: str = "full"
    clock_speed: float = 1.0
    latency_ms: float = 0
    latency_jitter_ms: float = 0
    rate_limit: float | None = None
    fault_rate: float = 0.0
    faults: tuple[str, ...] = ()
    state_file: str | Path | None = None
    share_expiry_seconds: float = 900
    health: bool = True
    slow_seconds: float = 5.0
    logins: DemoLogins = DEMO

    def __post_init__(self) -> None:
        for name in ("clock_speed", "latency_ms", "latency_jitter_ms", "fault_rate",
                     "share_expiry_seconds", "slow_seconds", "rate_limit"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, not {value}")
        if self.users < 0:
            raise ValueError(f"users must be 0 or more, not {self.users}")
        if self.embed_credentials not in EMBED_MODES:
            raise ValueError(
                f"embed_credentials must be 'full' or 'id', not {self.embed_credentials!r}"
            )
        # Past these, sandbox dates would soon leave the range datetime can format.
        if not 0 < self.clock_speed <= 1_000_000:
            raise ValueError(f"clock_speed must be above 0 and at most 1000000, "
                             f"not {self.clock_speed}")
        if self.latency_ms < 0 or self.latency_jitter_ms < 0:
            raise ValueError("latency_ms and latency_jitter_ms must be 0 or more")
        if self.rate_limit is not None and self.rate_limit <= 0:
            raise ValueError(f"rate_limit must be above 0 or None, not {self.rate_limit}")
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ValueError(f"fault_rate must be between 0 and 1, not {self.fault_rate}")
        unknown = [kind for kind in self.faults if kind not in FAULT_KINDS]
        if unknown:
            raise ValueError(f"unknown fault kinds {unknown}: use one of "
                             f"{', '.join(FAULT_KINDS)}")
        if not 0 < self.share_expiry_seconds <= 365 * 24 * 3600:
            raise ValueError("share_expiry_seconds must be above 0 and at most a year")
        if self.slow_seconds < 0:
            raise ValueError("slow_seconds must be 0 or more")
        if set(self.logins.partners) != set(ENVIRONMENTS):
            raise ValueError("logins.partners must have one partner login for STAGE and one "
                             "for PRODUCTION")
        for environment, partner in self.logins.partners.items():
            try:
                uuid.UUID(partner.sharing_url_id)
            except ValueError:
                raise ValueError(f"the {environment} partner's sharing_url_id "
                                 f"{partner.sharing_url_id!r} is not a UUID") from None
