"""keyward_secrets: the secret-management guide's ``get_secret``, answered by keyward.

Drop-in replacement for the guide's ``backend/app/config/secrets.py``::

    from keyward_secrets import get_secret

    JWT_SECRET_KEY = get_secret("JWT_SECRET_KEY")
    SENTRY_DSN = get_secret("SENTRY_DSN", default=None)

``get_secret(key, default=None)`` has the guide's signature. It answers from
the environment first -- what ``keyward run -- python app.py`` gave the
process, or what the platform injected (Kubernetes ``envFrom``, compose) --
and otherwise asks the ``keyward`` command line (``keyward get KEY --json
--reveal``), which picks the store the usual way (``--env`` is not needed:
``KEYWARD_STORE``, the guide's ``SECRET_PROVIDER`` variables, or
keyward.yaml's default environment). A key that does not exist returns
``default``, as the guide's does; so does every key when ``keyward`` is not
installed (the guide's ``SECRET_PROVIDER=env`` behaviour).

``get_secret_ring(key)`` returns the key's ring for verifiers: the current
value first, then the previous values still inside their rotation grace
period (``KEY_OLD`` from ``keyward run``, or ``keyward get KEY --ring``).
Services that verify what they sign (JWT HMAC keys, webhook secrets) accept
any of them and sign with the first, so a rotation never rejects a token
signed just before it.

Only the standard library is used, and this module has no network code of
its own: the keyward binary does the fetching. Errors never contain a
secret value (keyward's never do, and this module does not add any).
"""

import json
import os
import shutil
import subprocess

__all__ = ["get_secret", "get_secret_ring", "KeywardError", "OLD_SUFFIX"]

#: The suffix ``keyward run`` gives the previous value of a key in grace
#: (keyward.yaml ``delivery.old_suffix``; set ``KEYWARD_OLD_SUFFIX`` to match
#: a project that changed it).
OLD_SUFFIX = os.environ.get("KEYWARD_OLD_SUFFIX", "_OLD")

# keyward's exit code for "the key does not exist".
_EXIT_NOT_FOUND = 3


class KeywardError(RuntimeError):
    """keyward could not answer (the store is unreachable, access denied, ...)."""


def _keyward_binary():
    return os.environ.get("KEYWARD_BIN") or shutil.which("keyward")


def _keyward_json(args):
    """Runs keyward with args; returns the parsed JSON, or None for a missing key
    (or no keyward installed)."""
    binary = _keyward_binary()
    if not binary:
        return None
    try:
        proc = subprocess.run(
            [binary, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            check=False,
            timeout=float(os.environ.get("KEYWARD_TIMEOUT", "60")),
        )
    except FileNotFoundError:
        return None
    except (OSError, subprocess.TimeoutExpired) as e:
        raise KeywardError(f"keyward could not be run: {e.__class__.__name__}") from None
    if proc.returncode == _EXIT_NOT_FOUND:
        return None
    if proc.returncode != 0:
        # keyward's messages name keys and stores, never values.
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise KeywardError(msg[0] if msg else f"keyward exited with status {proc.returncode}")
    try:
        return json.loads(proc.stdout)
    except ValueError:
        raise KeywardError("keyward printed output that is not JSON") from None


def get_secret(key: str, default: str = None) -> str:
    """Returns the secret ``key``: from the environment, else from keyward;
    ``default`` when it does not exist."""
    value = os.environ.get(key)
    if value is not None:
        return value
    out = _keyward_json(["get", key, "--json", "--reveal"])
    if out is None or out.get("value") is None:
        return default
    return out["value"]


def get_secret_ring(key: str) -> list:
    """Returns ``key``'s ring, current value first, then the previous values
    still in grace, newest first; ``[]`` when the key does not exist.

    From the environment: ``KEY`` then ``KEY_OLD``, or the numbered
    ``KEY_0``, ``KEY_1``, ... that ``keyward run --numbered-ring`` gives.
    Otherwise ``keyward get KEY --ring --json --reveal``.
    """
    if f"{key}_0" in os.environ:
        ring, i = [], 0
        while f"{key}_{i}" in os.environ:
            ring.append(os.environ[f"{key}_{i}"])
            i += 1
        return ring
    if key in os.environ:
        ring = [os.environ[key]]
        old = os.environ.get(key + OLD_SUFFIX) if OLD_SUFFIX else None
        if old:
            ring.append(old)
        return ring
    out = _keyward_json(["get", key, "--ring", "--json", "--reveal"])
    if out is None:
        return []
    ring = [out["current"]["value"]]
    ring.extend(p["value"] for p in out.get("previous") or [])
    return ring
