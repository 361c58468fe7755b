"""Tokens minted with PyJWT (mint.py, the README's Python snippet) against gu1-kyc-proxy in
upstream mode in front of the simulator: three proxies (HS256 secret, EdDSA PEM, ES256 JWKS)."""

import base64
import hashlib
import hmac
import json
import os
import pathlib
import time
import unittest
import urllib.error
import urllib.request

import jwt

from mint import mint_token

HERE = pathlib.Path(__file__).parent


def env(key):
    value = os.environ.get(key)
    if not value:
        raise RuntimeError(f"{key} is not set (run through proxy/tests/external.sh)")
    return value


SIM = env("GU1_SIM_URL")
PROXIES = {"HS256": env("GU1_MINT_HS256_URL"), "EdDSA": env("GU1_MINT_EDDSA_URL"),
           "ES256": env("GU1_MINT_ES256_URL")}
SECRET = env("GU1_MINT_SECRET")
AUDIENCE = env("GU1_MINT_AUDIENCE")
ED_KEY = (HERE / "../keys/ed25519-private.pem").read_text()
ES_KEY = (HERE / "../keys/es256-1-private.pem").read_text()


def request(url, method="GET", body=None, token=None):
    headers = {"content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def entity(kind="biometric"):
    code, body = request(f"{SIM}/__control/sessions", "POST", {"kind": kind})
    assert code == 200, code
    return body


def status(alg, token):
    return request(f"{PROXIES[alg]}/kyc/status", token=token)


def hs(e, **extra):
    return mint_token(e["entityId"], e["kind"], **{"secret": SECRET, "audience": AUDIENCE, **extra})


def b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class MintedByPyJWT(unittest.TestCase):
    def test_the_readme_snippet_is_mint_py(self):
        readme = (HERE / "../../../README.md").read_text()
        snippet = (HERE / "mint.py").read_text().strip()
        self.assertTrue(snippet in readme, "the README's Python snippet differs from mint.py")

    def test_hs256_is_accepted_and_reads_the_entitys_session(self):
        e = entity()
        code, body = status("HS256", hs(e))
        self.assertEqual((code, body["id"]), (200, e["id"]))

    def test_hs256_pinned_to_a_session_reads_that_session(self):
        e = entity("kyc")
        code, body = status("HS256", hs(e, session_id=e["id"]))
        self.assertEqual((code, body["id"], body["kind"]), (200, e["id"], "kyc"))

    def test_eddsa_is_accepted_by_a_proxy_holding_the_pem_public_key(self):
        e = entity()
        token = mint_token(e["entityId"], "biometric", private_key_pem=ED_KEY, algorithm="EdDSA",
                           audience=AUDIENCE)
        code, body = status("EdDSA", token)
        self.assertEqual((code, body["id"]), (200, e["id"]))

    def test_es256_named_by_kid_is_accepted_by_a_proxy_holding_the_jwks(self):
        e = entity()
        token = mint_token(e["entityId"], "biometric", private_key_pem=ES_KEY, algorithm="ES256",
                           kid="es256-1", audience=AUDIENCE)
        code, body = status("ES256", token)
        self.assertEqual((code, body["id"]), (200, e["id"]))

    def test_claims_swapped_for_another_entitys_are_refused(self):
        header, _, sig = hs(entity()).split(".")
        _, body, _ = hs(entity()).split(".")
        self.assertEqual(status("HS256", f"{header}.{body}.{sig}")[0], 401)

    def test_a_changed_signature_is_refused(self):
        token = hs(entity())
        flipped = token[:-2] + ("B" if token[-2] == "A" else "A") + token[-1]
        self.assertEqual(status("HS256", flipped)[0], 401)

    def test_expired_is_refused(self):
        code, body = status("HS256", hs(entity(), ttl_secs=-60))
        self.assertEqual((code, body["code"]), (401, "UNAUTHORIZED"))

    def test_another_audience_is_refused(self):
        self.assertEqual(status("HS256", hs(entity(), audience="another-proxy"))[0], 401)

    def test_another_algorithm_with_the_right_secret_is_refused(self):
        e = entity()
        now = int(time.time())
        claims = {"sub": e["entityId"], "kind": "biometric", "aud": AUDIENCE, "iat": now,
                  "exp": now + 300}
        self.assertEqual(status("HS256", jwt.encode(claims, SECRET, algorithm="HS384"))[0], 401)

    def test_hs256_signed_with_the_public_key_as_secret_is_refused(self):
        # PyJWT itself refuses to do this, so the token is put together by hand.
        e = entity()
        now = int(time.time())
        claims = {"sub": e["entityId"], "kind": "biometric", "aud": AUDIENCE, "iat": now,
                  "exp": now + 300}
        signed = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + b64(
            json.dumps(claims).encode())
        public = (HERE / "../keys/ed25519-public.pem").read_bytes()
        sig = b64(hmac.new(public, signed.encode(), hashlib.sha256).digest())
        self.assertEqual(status("EdDSA", f"{signed}.{sig}")[0], 401)

    def test_an_unsigned_token_is_refused(self):
        e = entity()
        now = int(time.time())
        claims = {"sub": e["entityId"], "kind": "biometric", "aud": AUDIENCE, "iat": now,
                  "exp": now + 300}
        self.assertEqual(status("HS256", jwt.encode(claims, None, algorithm="none"))[0], 401)


if __name__ == "__main__":
    unittest.main(verbosity=2)
