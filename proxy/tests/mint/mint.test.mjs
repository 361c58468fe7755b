// Tokens minted with jose (mint.mjs, the README's Node snippet) against gu1-kyc-proxy in
// upstream mode in front of the simulator: three proxies (HS256 secret, EdDSA PEM, ES256 JWKS).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { SignJWT, UnsecuredJWT } from "jose";
import { mintToken } from "./mint.mjs";

const env = (k) => {
  assert.ok(process.env[k], `${k} is not set (run through proxy/tests/external.sh)`);
  return process.env[k];
};
const here = new URL(".", import.meta.url);
const file = (p) => readFileSync(new URL(p, here), "utf8");
const sim = env("GU1_SIM_URL");
const proxies = { HS256: env("GU1_MINT_HS256_URL"), EdDSA: env("GU1_MINT_EDDSA_URL"), ES256: env("GU1_MINT_ES256_URL") };
const secret = env("GU1_MINT_SECRET");
const audience = env("GU1_MINT_AUDIENCE");
const edKey = file("../keys/ed25519-private.pem");
const esKey = file("../keys/es256-1-private.pem");

async function entity(kind = "biometric") {
  const r = await fetch(`${sim}/__control/sessions`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ kind }),
  });
  assert.equal(r.status, 200);
  return r.json();
}

async function status(alg, token) {
  const r = await fetch(`${proxies[alg]}/kyc/status`, { headers: { authorization: `Bearer ${token}` } });
  return { code: r.status, body: await r.json().catch(() => null) };
}

const hs = (e, extra = {}) => mintToken({ entityId: e.entityId, kind: e.kind, secret, audience, ...extra });

test("the README's Node snippet is mint.mjs", () => {
  assert.ok(file("../../../README.md").includes(file("mint.mjs").trim()), "README and mint.mjs differ");
});

test("HS256 with the shared secret is accepted and reads the entity's session", async () => {
  const e = await entity();
  const { code, body } = await status("HS256", await hs(e));
  assert.equal(code, 200);
  assert.equal(body.id, e.id);
});

test("HS256 pinned to a session (sid) reads that session", async () => {
  const e = await entity("kyc");
  const { code, body } = await status("HS256", await hs(e, { sessionId: e.id }));
  assert.equal(code, 200);
  assert.equal(body.id, e.id);
  assert.equal(body.kind, "kyc");
});

test("EdDSA with a private key is accepted by a proxy holding the PEM public key", async () => {
  const e = await entity();
  const token = await mintToken({ entityId: e.entityId, kind: "biometric", privateKeyPem: edKey, alg: "EdDSA", audience });
  const { code, body } = await status("EdDSA", token);
  assert.equal(code, 200);
  assert.equal(body.id, e.id);
});

test("ES256 named by kid is accepted by a proxy holding the JWKS", async () => {
  const e = await entity();
  const token = await mintToken({ entityId: e.entityId, kind: "biometric", privateKeyPem: esKey, alg: "ES256", kid: "es256-1", audience });
  const { code, body } = await status("ES256", token);
  assert.equal(code, 200);
  assert.equal(body.id, e.id);
});

test("claims swapped for another entity's, signature kept: refused", async () => {
  const [mine, theirs] = [await entity(), await entity()];
  const [h, , sig] = (await hs(mine)).split(".");
  const [, body] = (await hs(theirs)).split(".");
  assert.equal((await status("HS256", `${h}.${body}.${sig}`)).code, 401);
});

test("a signature with one character changed: refused", async () => {
  const t = await hs(await entity());
  const flipped = t.slice(0, -2) + (t.at(-2) === "A" ? "B" : "A") + t.at(-1);
  assert.equal((await status("HS256", flipped)).code, 401);
});

test("expired (a minute ago): refused", async () => {
  const { code, body } = await status("HS256", await hs(await entity(), { ttlSecs: -60 }));
  assert.equal(code, 401);
  assert.equal(body.code, "UNAUTHORIZED");
});

test("another audience: refused", async () => {
  assert.equal((await status("HS256", await hs(await entity(), { audience: "another-proxy" }))).code, 401);
});

test("another algorithm with the right secret (HS512): refused", async () => {
  const e = await entity();
  const t = await new SignJWT({ kind: "biometric" }).setProtectedHeader({ alg: "HS512" }).setSubject(e.entityId)
    .setAudience(audience).setIssuedAt().setExpirationTime("5m").sign(new TextEncoder().encode(secret));
  assert.equal((await status("HS256", t)).code, 401);
});

test("HS256 signed with the proxy's public key as the secret (algorithm confusion): refused", async () => {
  const e = await entity();
  const t = await mintToken({ entityId: e.entityId, kind: "biometric", secret: file("../keys/ed25519-public.pem"), audience });
  assert.equal((await status("EdDSA", t)).code, 401);
});

test("an unsigned token (alg none): refused", async () => {
  const e = await entity();
  const t = new UnsecuredJWT({ kind: "biometric" }).setSubject(e.entityId).setAudience(audience).setIssuedAt().setExpirationTime("5m").encode();
  assert.equal((await status("HS256", t)).code, 401);
});

test("EdDSA signed with a key the proxy does not hold: refused", async () => {
  const e = await entity();
  const t = await mintToken({ entityId: e.entityId, kind: "biometric", privateKeyPem: esKey, alg: "ES256", audience });
  assert.equal((await status("EdDSA", t)).code, 401);
});
