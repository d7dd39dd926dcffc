"""After a full run against a loopback sandbox, no password or token is in any file LeafDesk wrote.

The run goes through the real parts with logging at DEBUG. It saves settings with an account and a
partner preset and puts the passwords in the keychain. It runs `leafdesk status` and `leafdesk
events` as the terminal does, then a sign-in, a full sync that reads every credential, a one-click
start and a manual credential create, and archives events in the cache. Then every file under the
temporary data, config, cache and log folders is searched for each secret that went over the wire.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from leafdesk import cli
from leafdesk.core import paths
from leafdesk.core.cache import Cache
from leafdesk.core.client import LeafClient
from leafdesk.core.connect import ConnectService
from leafdesk.core.logsetup import configure_logging, shutdown_logging
from leafdesk.core.secrets import LEAF_PASSWORD, LEAF_TOKEN, PARTNER_PASSWORD, SecretStore
from leafdesk.core.settings import LeafAccount, PartnerPreset, Settings, SettingsStore
from leafdesk.core.sync import SyncService
from leafdesk.core.validation import validate_manual, validate_one_click
from leafdesk.sandbox import DEMO, SandboxConfig, start_background_server

pytestmark = pytest.mark.loopback

ACCOUNT = "Sandbox"
PRESET = "Demo partner STAGE"
PARTNER = DEMO.partners["STAGE"]
MANUAL_PASSWORD = "manual-partner-password-5f1c"
MANUAL_REFRESH_TOKEN = "manual-cognito-refresh-token-9d2e7a"


@pytest.fixture
def sandbox():
    # Credentials embedded by id only, so the sync reads each credential, tokens included.
    server = start_background_server(
        SandboxConfig(users=15, seed=11, controls=True, embed_credentials="id", health=False)
    )
    yield server
    server.stop()


@pytest.fixture
def debug_logging():
    yield configure_logging(logging.DEBUG)
    shutdown_logging()


def save_account(base_url: str) -> None:
    settings = Settings(
        accounts=[LeafAccount(ACCOUNT, base_url=base_url, username=DEMO.owner_username)],
        presets=[PartnerPreset(PRESET, PARTNER.client_id, PARTNER.username,
                               PARTNER.sharing_url_id, "STAGE")],
        last_account=ACCOUNT,
    )
    SettingsStore().save(settings)
    secrets = SecretStore()
    secrets.set(LEAF_PASSWORD, ACCOUNT, DEMO.owner_password)
    secrets.set(PARTNER_PASSWORD, PRESET, PARTNER.password)


async def services_run(base_url: str) -> list[str]:
    """Sign in, sync, start a one-click and attach a credential by hand; return secrets seen."""
    seen: list[str] = []
    secrets = SecretStore()
    client = LeafClient(base_url, DEMO.owner_username, secrets.get(LEAF_PASSWORD, ACCOUNT))
    cache = Cache(paths.cache_path(ACCOUNT, base_url))
    try:
        await client.sign_in()
        # The token is private to the client; the test reads it to know what to search for.
        token = str(client._token)
        seen.append(token)
        secrets.set(LEAF_TOKEN, ACCOUNT, token)

        result = await SyncService(client, cache, concurrency=4).refresh_all()
        assert result.complete
        rows = result.rows
        connected = [row for row in rows if row.user.panorama is not None]
        unconnected = [row for row in rows if row.user.panorama is None]
        assert len(connected) >= 2
        assert len(unconnected) >= 2

        for row in connected:
            credential = await client.get_panorama_credential(row.user.id)
            seen.extend(str(t) for t in (credential.access_token, credential.refresh_token) if t)
            cache.save_credential(credential)
            cache.save_events(row.user.id, await client.list_panorama_events(row.user.id))

        connect = ConnectService(client, cache, "staff@leafdesk.test")
        one_click = validate_one_click(
            client_id=PARTNER.client_id, username=PARTNER.username,
            password=secrets.get(PARTNER_PASSWORD, PRESET), client_environment="STAGE",
            sharing_url_id=PARTNER.sharing_url_id,
        )
        await connect.start_one_click(unconnected[0].user, one_click)

        manual = validate_manual(
            client_id=PARTNER.client_id, username=PARTNER.username, password=MANUAL_PASSWORD,
            organization_code="ORG-7731", refresh_token=MANUAL_REFRESH_TOKEN,
            client_environment="STAGE",
        )
        credential = await connect.create_manual(unconnected[1].user, manual)
        seen.extend(str(t) for t in (credential.access_token, credential.refresh_token) if t)
        cache.save_credential(credential)
        cache.save_events(unconnected[1].user.id,
                          await client.list_panorama_events(unconnected[1].user.id))

        logging.getLogger("leafdesk.test").debug("Client after the run: %r", client)
    finally:
        await client.aclose()
        cache.close()
    return seen


def written_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def test_full_run_leaves_no_secrets(sandbox, debug_logging, isolated_folders, capsys):
    save_account(sandbox.base_url)

    status_exit = cli.run(["status", "--account", ACCOUNT, "--format", "json"])
    configure_logging(logging.DEBUG)  # the terminal command set its own level
    seen_tokens = asyncio.run(services_run(sandbox.base_url))
    rows = Cache(paths.cache_path(ACCOUNT, sandbox.base_url))
    try:
        cached = rows.load_rows()
        user_with_events = next(row.user for row in cached if row.user.panorama is not None)
    finally:
        rows.close()
    events_exit = cli.run(["events", user_with_events.id, "--account", ACCOUNT])
    output = capsys.readouterr()

    assert status_exit in (0, 1), output.err
    assert events_exit == 0, output.err
    assert len(cached) == 15
    # The Leaf token, plus an access and a refresh token per Panorama credential read.
    assert len(seen_tokens) >= 5, "too few tokens seen for the search below to prove much"

    secrets = {
        "Leaf password": DEMO.owner_password,
        "partner password": PARTNER.password,
        "manual credential password": MANUAL_PASSWORD,
        "manual refresh token": MANUAL_REFRESH_TOKEN,
    }
    for number, token in enumerate(seen_tokens):
        secrets[f"token {number}"] = token
        # A token cut in two by a log line would still leak its signature part.
        secrets[f"token {number} tail"] = token[-16:]

    files = written_files(isolated_folders)
    names = {path.name for path in files}
    assert "settings.json" in names
    assert "leafdesk.log" in names
    assert any(name.endswith(".sqlite3") for name in names)
    log_text = (paths.log_dir() / "leafdesk.log").read_text(encoding="utf-8")
    assert log_text.count("\n") > 10
    assert "DEBUG" in log_text

    leaks = []
    for path in files:
        content = path.read_bytes()
        leaks.extend(f"{label} in {path.relative_to(isolated_folders)}"
                     for label, secret in secrets.items() if secret.encode() in content)
    assert leaks == []

    # The keychain (the in-memory test backend) is where the secrets went instead.
    assert SecretStore().get(LEAF_PASSWORD, ACCOUNT) == DEMO.owner_password
    assert SecretStore().get(LEAF_TOKEN, ACCOUNT) == seen_tokens[0]
