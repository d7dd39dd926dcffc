"""The folders where LeafDesk keeps its settings, offline caches and logs, resolved per platform.

Everything goes through platformdirs, so each OS gets its usual place. The data folder is the
machine-local one (on Windows `%LOCALAPPDATA%`, never the roaming profile), because a cache that
roamed would be copied at every sign-in and could be opened by two machines at once.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import platformdirs

APP_NAME = "LeafDesk"

# The readable part of a cache file name; the hash suffix keeps names unique.
_MAX_READABLE_LENGTH = 48
_UNSAFE_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")


def data_dir() -> Path:
    """Return the local (non-roaming) data folder, creating it when missing."""
    path = platformdirs.user_data_path(APP_NAME, appauthor=False, roaming=False)
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    """Return the folder of the settings file, creating it when missing."""
    path = platformdirs.user_config_path(APP_NAME, appauthor=False, roaming=False)
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_dir() -> Path:
    """Return the folder of the log files, creating it when missing."""
    path = platformdirs.user_log_path(APP_NAME, appauthor=False)
    # Owner-only on POSIX, like the log files in it; Windows profiles are private already.
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def normalize_base_url(base_url: str) -> str:
    """Return the base URL in the form used to tell accounts apart.

    The scheme and host are lowercased and a trailing slash dropped, so `https://API.withleaf.io/`
    and `https://api.withleaf.io` share one cache.
    """
    parts = urlsplit(base_url.strip())
    scheme = parts.scheme.lower()
    netloc = parts.netloc.lower()
    path = parts.path.rstrip("/")
    return f"{scheme}://{netloc}{path}"


def cache_file_name(account_name: str, base_url: str) -> str:
    """Return the cache file name for one Leaf account and base URL.

    The name is a readable part (account name and host, reduced to safe characters) plus a short
    hash of the exact account name and normalized base URL, so two accounts never share a file even
    when their readable parts collide.
    """
    normalized = normalize_base_url(base_url)
    digest = hashlib.sha256(f"{account_name}\n{normalized}".encode()).hexdigest()[:12]

    host = urlsplit(normalized).netloc.replace(":", "-")
    readable = _UNSAFE_CHARACTERS.sub("-", f"{account_name.strip()}-{host}").strip("-.")
    readable = readable[:_MAX_READABLE_LENGTH].rstrip("-.") or "account"
    return f"{readable}-{digest}.sqlite3"


def cache_path(account_name: str, base_url: str) -> Path:
    """Return the offline cache file of one Leaf account and base URL, under the data folder."""
    folder = data_dir() / "cache"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / cache_file_name(account_name, base_url)


def unused_aside_path(path: Path, label: str) -> Path:
    """Return a free name beside `path` to move it aside to: `<name>.<label>-<UTC time>`.

    A `-2`, `-3`, ... suffix is added while that name is taken, so an earlier file moved aside in
    the same second is never overwritten.
    """
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = path.with_name(f"{path.name}.{label}-{stamp}")
    counter = 1
    while aside.exists():
        counter += 1
        aside = path.with_name(f"{path.name}.{label}-{stamp}-{counter}")
    return aside
