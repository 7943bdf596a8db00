#!/usr/bin/env python3
"""The token service with PyJWT (Debian: python3-jwt), as the guide's backend would.

Same commands as verifier.py (issue SUB, verify TOKEN); verification tries
JWT_SECRET_KEY, then JWT_SECRET_KEY_OLD while a rotation's grace period
lasts -- both given by ``keyward run``:

    keyward run -- python3 verifier_pyjwt.py verify TOKEN
"""

import os
import sys
import time

import jwt  # PyJWT

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from keyward_secrets import get_secret_ring  # noqa: E402

KEY = "JWT_SECRET_KEY"


def verify(token, ring):
    """Returns (claims, index of the key that verified it); raises jwt.InvalidTokenError."""
    last = None
    for i, key in enumerate(ring):
        try:
            return jwt.decode(token, key, algorithms=["HS256"]), i
        except jwt.InvalidSignatureError as e:
            last = e
    raise last or jwt.InvalidTokenError("no key")


def main(argv):
    ring = get_secret_ring(KEY)
    if not ring:
        sys.exit(f"{KEY} is not set: run this under keyward run")
    if len(argv) == 2 and argv[0] == "issue":
        now = int(time.time())
        token = jwt.encode({"sub": argv[1], "iat": now, "exp": now + 3600}, ring[0], algorithm="HS256")
        print(token if isinstance(token, str) else token.decode())
        return 0
    if len(argv) == 2 and argv[0] == "verify":
        try:
            claims, i = verify(argv[1], ring)
        except jwt.InvalidTokenError as e:
            print(f"invalid: {e.__class__.__name__}")
            return 1
        print(f"valid: sub={claims.get('sub')} verified with {KEY if i == 0 else KEY + '_OLD'}")
        return 0
    sys.exit("usage: verifier_pyjwt.py issue SUB | verify TOKEN")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
