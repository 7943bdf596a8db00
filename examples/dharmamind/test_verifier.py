"""Tests of the token services (python3 -m unittest test_verifier).

The stdlib verifier always runs; the PyJWT one when ``import jwt`` works
(Debian: python3-jwt). The rotation end to end, through keyward run, is
cmd/keyward's testdata/script/python/dharmamind.txtar.
"""

import json
import os
import sys
import threading
import unittest
import urllib.request
from http.server import ThreadingHTTPServer
from urllib.error import HTTPError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import verifier  # noqa: E402

try:
    import jwt  # noqa: F401
    import verifier_pyjwt
except ImportError:
    verifier_pyjwt = None

NEW = "test-verifier-new-key-0123456789abcdef0123"
OLD = "test-verifier-old-key-0123456789abcdef0123"


class StdlibVerifierTest(unittest.TestCase):
    def test_ring(self):
        tok = verifier.sign({"sub": "alice"}, OLD)
        claims, i = verifier.verify(tok, [NEW, OLD])
        self.assertEqual((claims["sub"], i), ("alice", 1))
        with self.assertRaises(verifier.InvalidToken):
            verifier.verify(tok, [NEW])

    def test_rejects_tampering_and_alg_none(self):
        tok = verifier.sign({"sub": "alice"}, NEW)
        h, p, s = tok.split(".")
        forged = verifier._b64(json.dumps({"sub": "mallory"}).encode())
        for bad in (f"{h}.{forged}.{s}", verifier._b64(b'{"alg":"none"}') + f".{p}.", "garbage", f"{h}.{p}"):
            with self.assertRaises(verifier.InvalidToken):
                verifier.verify(bad, [NEW])

    def test_expired(self):
        tok = verifier.sign({"sub": "alice", "exp": 1}, NEW)
        with self.assertRaises(verifier.InvalidToken):
            verifier.verify(tok, [NEW])

    def test_http(self):
        verifier.Handler.ring = [NEW, OLD]
        srv = ThreadingHTTPServer(("127.0.0.1", 0), verifier.Handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.addCleanup(srv.shutdown)
        base = f"http://127.0.0.1:{srv.server_address[1]}"
        req = urllib.request.Request(base + "/token", data=b'{"sub": "bob"}', method="POST")
        tok = json.load(urllib.request.urlopen(req))["token"]
        for token, want in ((tok, "JWT_SECRET_KEY"), (verifier.sign({"sub": "old"}, OLD), "JWT_SECRET_KEY_OLD")):
            r = urllib.request.Request(base + "/verify", headers={"Authorization": "Bearer " + token})
            self.assertEqual(json.load(urllib.request.urlopen(r))["verified_with"], want)
        r = urllib.request.Request(base + "/verify", headers={"Authorization": "Bearer " + verifier.sign({}, "other-key")})
        with self.assertRaises(HTTPError) as cm:
            urllib.request.urlopen(r)
        self.assertEqual(cm.exception.code, 401)


@unittest.skipIf(verifier_pyjwt is None, "PyJWT not installed (Debian: python3-jwt)")
class PyJWTVerifierTest(unittest.TestCase):
    def test_interoperates_with_stdlib(self):
        claims, i = verifier_pyjwt.verify(verifier.sign({"sub": "alice"}, OLD), [NEW, OLD])
        self.assertEqual((claims["sub"], i), ("alice", 1))
        tok = jwt.encode({"sub": "bob"}, NEW, algorithm="HS256")
        tok = tok if isinstance(tok, str) else tok.decode()
        self.assertEqual(verifier.verify(tok, [NEW])[0]["sub"], "bob")
        with self.assertRaises(jwt.InvalidTokenError):
            verifier_pyjwt.verify(tok, [OLD])


if __name__ == "__main__":
    unittest.main()
