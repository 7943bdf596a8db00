#!/usr/bin/env python3
"""DharmaMind's token service, the guide's way, standard library only.

It signs HS256 JWTs with JWT_SECRET_KEY and verifies them against
JWT_SECRET_KEY and, during a rotation's grace period, JWT_SECRET_KEY_OLD --
both given by keyward:

    keyward run --env production -- python3 verifier.py serve --port 8000
    keyward run -- python3 verifier.py issue alice          # prints a token
    keyward run -- python3 verifier.py verify TOKEN          # exit 0 if valid

After ``keyward rotate JWT_SECRET_KEY --grace 24h`` tokens signed with the old
key keep verifying (against JWT_SECRET_KEY_OLD) until the grace ends or
``keyward rotate JWT_SECRET_KEY --revoke-previous``; restart the service (or
run it under ``keyward run --watch``) to pick the new ring up.

HTTP: ``POST /token`` with ``{"sub": "..."}`` returns ``{"token": "..."}``;
``GET /verify`` with ``Authorization: Bearer TOKEN`` returns 200 and the
claims, or 401.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
try:
    from keyward_secrets import get_secret_ring
except ImportError:  # keyward_secrets.py copied next to this file
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from keyward_secrets import get_secret_ring

KEY = "JWT_SECRET_KEY"
TOKEN_TTL = 3600


class InvalidToken(Exception):
    pass


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def sign(claims: dict, key: str) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    mac = hmac.new(key.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(mac)}"


def verify(token: str, keys: list) -> tuple:
    """Returns (claims, index of the key that verified it); raises InvalidToken."""
    try:
        header_b64, payload_b64, sig_b64 = token.split(".")
        header = json.loads(_unb64(header_b64))
        sig = _unb64(sig_b64)
    except (ValueError, TypeError):
        raise InvalidToken("malformed token") from None
    if header.get("alg") != "HS256":
        raise InvalidToken("not an HS256 token")
    signed = f"{header_b64}.{payload_b64}".encode()
    for i, key in enumerate(keys):
        if hmac.compare_digest(hmac.new(key.encode(), signed, hashlib.sha256).digest(), sig):
            claims = json.loads(_unb64(payload_b64))
            if "exp" in claims and time.time() > claims["exp"]:
                raise InvalidToken("token expired")
            return claims, i
    raise InvalidToken("signature does not match any key in the ring")


def keys() -> list:
    ring = get_secret_ring(KEY)
    if not ring:
        sys.exit(f"{KEY} is not set: run this under keyward run")
    return ring


def key_name(i: int) -> str:
    return KEY if i == 0 else f"{KEY}_OLD" if i == 1 else f"{KEY}_{i}"


class Handler(BaseHTTPRequestHandler):
    ring = []

    def _reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        if self.path != "/token":
            return self._reply(404, {"error": "not found"})
        n = int(self.headers.get("Content-Length") or 0)
        try:
            sub = json.loads(self.rfile.read(n) or b"{}").get("sub", "anonymous")
        except ValueError:
            return self._reply(400, {"error": "body is not JSON"})
        now = int(time.time())
        self._reply(200, {"token": sign({"sub": sub, "iat": now, "exp": now + TOKEN_TTL}, self.ring[0])})

    def do_GET(self):
        if self.path != "/verify":
            return self._reply(404, {"error": "not found"})
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return self._reply(401, {"error": "no bearer token"})
        try:
            claims, i = verify(auth[len("Bearer "):], self.ring)
        except InvalidToken as e:
            return self._reply(401, {"error": str(e)})
        self._reply(200, {"claims": claims, "verified_with": key_name(i)})

    def log_message(self, fmt, *args):  # no tokens in logs
        sys.stderr.write("%s %s\n" % (self.command, self.path))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--host", default="127.0.0.1")
    i = sub.add_parser("issue")
    i.add_argument("sub")
    v = sub.add_parser("verify")
    v.add_argument("token")
    a = p.parse_args(argv)

    ring = keys()
    if a.cmd == "issue":
        now = int(time.time())
        print(sign({"sub": a.sub, "iat": now, "exp": now + TOKEN_TTL}, ring[0]))
        return 0
    if a.cmd == "verify":
        try:
            claims, i = verify(a.token, ring)
        except InvalidToken as e:
            print(f"invalid: {e}")
            return 1
        print(f"valid: sub={claims.get('sub')} verified with {key_name(i)}")
        return 0
    Handler.ring = ring
    srv = ThreadingHTTPServer((a.host, a.port), Handler)
    print(f"listening on {srv.server_address[0]}:{srv.server_address[1]}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
