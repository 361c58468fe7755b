import { SignJWT, importPKCS8 } from "jose";

// A page token for one entity (and optionally one session), as gu1-kyc-proxy verifies it:
// HS256 with the shared secret, or EdDSA / ES256 with a private key whose public half the
// proxy holds (PEM or JWKS; name the key with `kid` for a JWKS).
export async function mintToken({ entityId, kind, sessionId, secret, privateKeyPem, alg = "HS256",
                                  kid, audience = "gu1-kyc-proxy", ttlSecs = 900 }) {
  const now = Math.floor(Date.now() / 1000);
  const key = alg === "HS256" ? new TextEncoder().encode(secret) : await importPKCS8(privateKeyPem, alg);
  return new SignJWT({ kind, ...(sessionId ? { sid: sessionId } : {}) })
    .setProtectedHeader({ alg, ...(kid ? { kid } : {}) })
    .setSubject(entityId)
    .setAudience(audience)
    .setIssuedAt(now)
    .setExpirationTime(now + ttlSecs)
    .sign(key);
}
