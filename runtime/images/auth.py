"""Registry credentials and the token dance of the distribution spec.

Credentials come from ``stack image login`` (stored in ``~/.config/stack/auth.json``,
or ``$STACK_AUTH_FILE``, in Docker's config format: ``{"auths": {host: {"auth":
base64("user:password")}}}``), then from Docker's own ``~/.docker/config.json``
(``$DOCKER_CONFIG/config.json``). Docker Hub is keyed
``https://index.docker.io/v1/`` there, as Docker does.

``Authenticator`` answers a 401's ``WWW-Authenticate`` challenge: Basic sends
the credentials; Bearer fetches a token from the realm (anonymously or with
the credentials) for the requested scope, cached until it expires.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from runtime.errors import Failed, InvalidArgument, Unauthorized, Unavailable
from runtime.images.reference import DEFAULT_REGISTRY

log = logging.getLogger(__name__)

DOCKER_HUB_KEY = "https://index.docker.io/v1/"
_CHALLENGE = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^,\s]*))')


@dataclass(frozen=True, slots=True, kw_only=True)
class Credentials:
    username: str = ""
    password: str = ""  # or an identity token (username "<token>")


def stack_auth_file() -> Path:
    env = os.environ.get("STACK_AUTH_FILE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "stack" / "auth.json"


def docker_config_file() -> Path:
    base = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
    return Path(base) / "config.json"


def _keys(registry: str) -> tuple[str, ...]:
    if registry == DEFAULT_REGISTRY:
        return (DOCKER_HUB_KEY, "docker.io", "index.docker.io", "registry-1.docker.io")
    return (registry, f"https://{registry}", f"http://{registry}", f"https://{registry}/v2/")


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable credentials file %s: %s", path, exc)
        return {}
    return doc if isinstance(doc, dict) else {}


def _decode(entry: Any) -> Credentials | None:
    if not isinstance(entry, dict):
        return None
    if entry.get("identitytoken"):
        return Credentials(username="<token>", password=str(entry["identitytoken"]))
    if entry.get("auth"):
        try:
            user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return Credentials(username=user, password=password)
    if entry.get("username"):
        return Credentials(username=str(entry["username"]), password=str(entry.get("password", "")))
    return None


def lookup(registry: str) -> Credentials | None:
    """Credentials for ``registry`` ("docker.io", "host:5000"), ours first, then Docker's."""
    for path in (stack_auth_file(), docker_config_file()):
        auths = _read(path).get("auths") or {}
        for key in _keys(registry):
            creds = _decode(auths.get(key))
            if creds is not None:
                return creds
    return None


def store(registry: str, creds: Credentials) -> Path:
    """Save credentials in our auth file (mode 0600, written atomically)."""
    path = stack_auth_file()
    doc = _read(path)
    auths = doc.setdefault("auths", {})
    key = DOCKER_HUB_KEY if registry == DEFAULT_REGISTRY else registry
    token = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
    auths[key] = {"auth": token}
    _write(path, doc)
    return path


def remove(registry: str) -> bool:
    path = stack_auth_file()
    doc = _read(path)
    auths = doc.get("auths") or {}
    found = False
    for key in _keys(registry):
        if key in auths:
            del auths[key]
            found = True
    if found:
        _write(path, doc)
    return found


def _write(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="...",service="..."`` -> ("bearer", {realm, service, ...})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
              for m in _CHALLENGE.finditer(rest)}
    return scheme.lower(), params


class Authenticator:
    """Per-registry auth state: the scheme learnt from the last challenge, cached tokens."""

    def __init__(self, registry: str, creds: Credentials | None) -> None:
        self.registry = registry
        self.creds = creds
        self._lock = threading.Lock()
        self._scheme = ""
        self._params: dict[str, str] = {}
        self._tokens: dict[str, tuple[str, float]] = {}

    def header(self, scope: str) -> str | None:
        """The Authorization value to send for ``scope``, if we know one already."""
        with self._lock:
            if self._scheme == "basic" and self.creds is not None:
                return _basic(self.creds)
            if self._scheme == "bearer":
                token = self._tokens.get(scope)
                if token is not None and token[1] > time.monotonic():
                    return f"Bearer {token[0]}"
        return None

    def challenge(self, client: httpx.Client, header: str, scope: str) -> str:
        """Answer a 401: returns the Authorization value to retry with."""
        scheme, params = parse_challenge(header)
        with self._lock:
            self._scheme, self._params = scheme, params
        if scheme == "basic":
            if self.creds is None:
                raise Unauthorized(f'registry "{self.registry}" requires a login: '
                                   f"run `stack image login {self.registry}`")
            return _basic(self.creds)
        if scheme != "bearer" or "realm" not in params:
            raise Failed(f'registry "{self.registry}": unsupported auth challenge "{header}"')
        return f"Bearer {self._fetch_token(client, params, scope)}"

    def _fetch_token(self, client: httpx.Client, params: dict[str, str], scope: str) -> str:
        # Several scopes (a cross-repo mount) go as repeated "scope" parameters.
        query = httpx.QueryParams({"service": params.get("service", ""),
                                   "scope": scope.split()})
        headers = {}
        if self.creds is not None:
            headers["Authorization"] = _basic(self.creds)
        try:
            resp = client.get(params["realm"], params=query, headers=headers)
        except httpx.HTTPError as exc:
            raise Unavailable(f'cannot reach the token service of registry "{self.registry}" '
                              f"({params['realm']}): {exc}") from exc
        if resp.status_code in (401, 403):
            raise Unauthorized(f'registry "{self.registry}": credentials rejected by the token '
                               f"service (run `stack image login {self.registry}`)")
        if resp.status_code >= 400:
            raise Unavailable(f'registry "{self.registry}": token service answered '
                              f"{resp.status_code}")
        try:
            doc = resp.json()
            token = str(doc.get("token") or doc.get("access_token") or "")
            expires = float(doc.get("expires_in") or 60)
        except ValueError as exc:
            raise Failed(f'registry "{self.registry}": token service sent no JSON') from exc
        if not token:
            raise Failed(f'registry "{self.registry}": token service sent no token')
        with self._lock:
            # Renew a little before the expiry the server gave us.
            self._tokens[scope] = (token, time.monotonic() + max(expires - 10, 5))
        return token


def _basic(creds: Credentials) -> str:
    return "Basic " + base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()


def validate_login(username: str, password: str) -> None:
    if not username or not password:
        raise InvalidArgument("login needs a username and a password")
