import time

import jwt  # PyJWT, with its "crypto" extra for EdDSA and ES256


def mint_token(entity_id, kind, secret=None, private_key_pem=None, algorithm="HS256",
               kid=None, session_id=None, audience="gu1-kyc-proxy", ttl_secs=900):
    """A page token for one entity (and optionally one session), as gu1-kyc-proxy verifies it."""
    now = int(time.time())
    claims = {"sub": entity_id, "kind": kind, "aud": audience, "iat": now, "exp": now + ttl_secs}
    if session_id:
        claims["sid"] = session_id
    key = secret if algorithm == "HS256" else private_key_pem
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid} if kid else None)
