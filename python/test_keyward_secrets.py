"""Tests of keyward_secrets (python3 -m unittest test_keyward_secrets).

A fake keyward binary (KEYWARD_BIN) stands in for the real one here; the
end-to-end run against the real binary is cmd/keyward's
testdata/script/python/*.txtar.
"""

import inspect
import os
import stat
import sys
import tempfile
import textwrap
import unittest
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import keyward_secrets  # noqa: E402
from keyward_secrets import KeywardError, get_secret, get_secret_ring  # noqa: E402

FAKE = textwrap.dedent("""\
    #!{python}
    import json, sys
    args = sys.argv[1:]
    open({log!r}, "a").write(" ".join(args) + "\\n")
    key = args[1]
    if key == "MISSING":
        print("keyward: failed to get \\"MISSING\\": not found", file=sys.stderr); sys.exit(3)
    if key == "BROKEN":
        print("keyward: failed to get \\"BROKEN\\" in vault://x: unavailable", file=sys.stderr); sys.exit(5)
    if "--ring" in args:
        print(json.dumps({{"key": key, "current": {{"value": "ring-current-canary"}},
                          "previous": [{{"value": "ring-old-canary"}}]}}))
    else:
        print(json.dumps({{"key": key, "length": 20, "value": "fallback-canary-" + key}}))
""")


class GetSecretTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.log = os.path.join(self.dir, "calls.log")
        self.fake = os.path.join(self.dir, "keyward")
        with open(self.fake, "w") as f:
            f.write(FAKE.format(python=sys.executable, log=self.log))
        os.chmod(self.fake, stat.S_IRWXU)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JWT_SECRET_KEY", "KEYWARD_"))}
        env["KEYWARD_BIN"] = self.fake
        patcher = mock.patch.dict(os.environ, env, clear=True)
        patcher.start()
        self.addCleanup(patcher.stop)

    def calls(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return f.read().splitlines()

    def test_signature_is_the_guides(self):
        params = list(inspect.signature(get_secret).parameters.values())
        self.assertEqual([p.name for p in params], ["key", "default"])
        self.assertIsNone(params[1].default)

    def test_environment_first(self):
        os.environ["JWT_SECRET_KEY"] = "env-canary-value"
        self.assertEqual(get_secret("JWT_SECRET_KEY"), "env-canary-value")
        self.assertEqual(self.calls(), [], "keyward must not be asked when the environment answers")

    def test_empty_value_in_environment_is_an_answer(self):
        os.environ["JWT_SECRET_KEY"] = ""
        self.assertEqual(get_secret("JWT_SECRET_KEY", "default"), "")

    def test_falls_back_to_keyward_get_json(self):
        self.assertEqual(get_secret("DATABASE_URL"), "fallback-canary-DATABASE_URL")
        self.assertEqual(self.calls(), ["get DATABASE_URL --json --reveal"])

    def test_missing_key_returns_default(self):
        self.assertIsNone(get_secret("MISSING"))
        self.assertEqual(get_secret("MISSING", "dflt"), "dflt")

    def test_no_keyward_installed_returns_default(self):
        os.environ["KEYWARD_BIN"] = ""
        os.environ["PATH"] = self.dir + "-nothing-here"
        self.assertEqual(get_secret("DATABASE_URL", "dflt"), "dflt")

    def test_store_failure_raises_with_keywards_message(self):
        with self.assertRaises(KeywardError) as cm:
            get_secret("BROKEN")
        self.assertIn("unavailable", str(cm.exception))
        self.assertNotIn("canary", str(cm.exception))

    def test_ring_from_environment(self):
        os.environ["JWT_SECRET_KEY"] = "cur-canary"
        self.assertEqual(get_secret_ring("JWT_SECRET_KEY"), ["cur-canary"])
        os.environ["JWT_SECRET_KEY_OLD"] = "old-canary"
        self.assertEqual(get_secret_ring("JWT_SECRET_KEY"), ["cur-canary", "old-canary"])
        self.assertEqual(self.calls(), [])

    def test_ring_numbered(self):
        os.environ.update({"JWT_SECRET_KEY": "a", "JWT_SECRET_KEY_0": "a", "JWT_SECRET_KEY_1": "b", "JWT_SECRET_KEY_2": "c"})
        self.assertEqual(get_secret_ring("JWT_SECRET_KEY"), ["a", "b", "c"])

    def test_ring_falls_back_to_keyward_get_ring(self):
        self.assertEqual(get_secret_ring("JWT_SECRET_KEY"), ["ring-current-canary", "ring-old-canary"])
        self.assertEqual(self.calls(), ["get JWT_SECRET_KEY --ring --json --reveal"])
        self.assertEqual(get_secret_ring("MISSING"), [])

    def test_no_network_code(self):
        with open(keyward_secrets.__file__) as f:
            src = f.read()
        for mod in ("socket", "urllib", "http", "requests", "ssl"):
            self.assertNotRegex(src, r"(?m)^\s*(import|from)\s+" + mod)


if __name__ == "__main__":
    unittest.main()
