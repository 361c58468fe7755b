//! Page tokens: JWTs (RFC 7519) that the integrator's backend mints for one page, in any
//! language with any JWT library.
//!
//! Claims: `sub` (the entity id), `kind` (`"biometric"` | `"kyc"`), optional `sid` (pins one
//! session), `exp` and `iat` (unix seconds) and `aud` (the proxy's audience, default
//! [`DEFAULT_AUDIENCE`]). The accepted algorithm is fixed by the proxy's configuration, never
//! read from the token: HS256 with a shared secret (the default), or EdDSA / ES256 with a public
//! key (PEM, or a JWKS file whose keys are chosen by `kid`), so a fleet of proxies can verify
//! tokens without holding the signing key. `exp` is checked with a small leeway (default 5 s),
//! `nbf` when present, and `exp` may be at most an hour after `iat` (configurable).
//! The proxy keeps no state per token, so any number of instances accept the same tokens.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// The audience a proxy accepts unless configured otherwise.
pub const DEFAULT_AUDIENCE: &str = "gu1-kyc-proxy";

/// Seconds of clock difference allowed on `exp` and `iat` unless configured otherwise.
pub const DEFAULT_LEEWAY_SECS: u64 = 5;

/// The longest a token may live (`exp` − `iat`), seconds, unless configured otherwise: a page
/// token is short-lived, and one minted for a year must not be accepted for a year.
pub const DEFAULT_MAX_LIFETIME_SECS: u64 = 3600;

/// Which gu1 object a token reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Embedded biometric sessions.
    Biometric,
    /// Session-based KYC validations.
    Kyc,
}

impl Kind {
    /// `"biometric"` or `"kyc"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Biometric => "biometric",
            Kind::Kyc => "kyc",
        }
    }
}

/// What a token grants: one entity, one kind, optionally one session, until `expires`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The entity whose session the page may read (`sub`).
    #[serde(rename = "sub")]
    pub entity_id: String,
    /// Biometric session or KYC validation (`kind`).
    pub kind: Kind,
    /// Pins the token to one session (`sid`); without it the entity's current one is used.
    #[serde(rename = "sid", default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Expiry, unix seconds (`exp`).
    #[serde(rename = "exp")]
    pub expires: u64,
}

/// The claims as they travel: the grant plus `iat` and `aud`.
#[derive(Serialize)]
struct Wire {
    #[serde(flatten)]
    grant: Claims,
    iat: u64,
    #[serde(default, skip_deserializing)]
    aud: String,
}

/// The claims as they are read: flat (serde's `flatten` would buffer every field first).
#[derive(Deserialize)]
struct Received {
    sub: String,
    kind: Kind,
    #[serde(default)]
    sid: Option<String>,
    exp: u64,
    iat: u64,
    #[serde(default)]
    nbf: Option<u64>,
}

/// Tokens verified lately, by their text, with their claims and `nbf`: a page polls with one
/// token every few seconds, and verifying it (base64, JSON, a MAC or a signature) cost more than
/// the rest of a status answer. A token's signature, audience, algorithm and lifetime are
/// checked once; its expiry and `nbf` at every use. At most [`VERIFIED_KEPT`] are kept (then
/// the lot is dropped and verified again as they come).
#[derive(Default)]
struct Verified(Mutex<HashMap<Box<str>, Kept>>);

/// A verified token's claims and `nbf`.
type Kept = (Claims, Option<u64>);

/// How many verified tokens are kept.
const VERIFIED_KEPT: usize = 10_000;

impl Verified {
    fn get(&self, token: &str) -> Option<Kept> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .cloned()
    }

    fn keep(&self, token: &str, claims: &Claims, nbf: Option<u64>) {
        let mut kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if kept.len() >= VERIFIED_KEPT {
            kept.clear();
        }
        kept.insert(token.into(), (claims.clone(), nbf));
    }
}

/// Why a token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenError {
    /// Not a JWT, or its claims are missing or of the wrong type.
    Malformed,
    /// The signature does not match: forged, tampered with, or signed with another key.
    BadSignature,
    /// Past its expiry (and the leeway).
    Expired,
    /// Well formed but not for this proxy: another audience or algorithm, an unknown key,
    /// issued in the future, not valid yet (`nbf`), or living longer than allowed.
    Rejected,
}

/// How tokens are verified: the key, or the keys by `kid` of a JWKS file.
#[derive(Clone)]
enum Keys {
    One(DecodingKey),
    ById(HashMap<String, DecodingKey>),
}

/// How this proxy checks (and, where it holds the key, signs) page tokens.
#[derive(Clone)]
pub struct Tokens {
    algorithm: Algorithm,
    keys: Keys,
    signing: Option<EncodingKey>,
    audience: String,
    leeway: u64,
    max_lifetime: u64,
    verified: Arc<Verified>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("algorithm", &self.algorithm)
            .field("audience", &self.audience)
            .field("leeway", &self.leeway)
            .field("max_lifetime", &self.max_lifetime)
            .finish_non_exhaustive()
    }
}

/// The algorithms a proxy can be configured with.
pub fn parse_algorithm(name: &str) -> Result<Algorithm, String> {
    match name {
        "HS256" => Ok(Algorithm::HS256),
        "EdDSA" => Ok(Algorithm::EdDSA),
        "ES256" => Ok(Algorithm::ES256),
        _ => Err(format!(
            "unsupported token algorithm {name:?}: use HS256, EdDSA or ES256"
        )),
    }
}

impl Tokens {
    /// HS256 tokens signed with a shared secret; this proxy can mint them too.
    pub fn shared_secret(secret: &[u8]) -> Tokens {
        Tokens {
            algorithm: Algorithm::HS256,
            keys: Keys::One(DecodingKey::from_secret(secret)),
            signing: Some(EncodingKey::from_secret(secret)),
            audience: DEFAULT_AUDIENCE.to_owned(),
            leeway: DEFAULT_LEEWAY_SECS,
            max_lifetime: DEFAULT_MAX_LIFETIME_SECS,
            verified: Arc::default(),
        }
    }

    /// EdDSA (Ed25519) or ES256 (P-256) tokens, verified with a PEM public key.
    pub fn public_key_pem(algorithm: Algorithm, pem: &[u8]) -> Result<Tokens, String> {
        let key = match algorithm {
            Algorithm::EdDSA => DecodingKey::from_ed_pem(pem),
            Algorithm::ES256 => DecodingKey::from_ec_pem(pem),
            _ => return Err("a public key is for EdDSA or ES256".into()),
        }
        .map_err(|e| format!("the public key is not a {algorithm:?} PEM key: {e}"))?;
        Ok(Self::verify_only(algorithm, Keys::One(key)))
    }

    /// EdDSA or ES256 tokens, verified with the key of a JWKS document named by the token's
    /// `kid`. Keys of another type or algorithm are refused when the file is read.
    pub fn jwks(algorithm: Algorithm, json: &str) -> Result<Tokens, String> {
        let set: JwkSet =
            serde_json::from_str(json).map_err(|e| format!("the JWKS file is not valid: {e}"))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let id = jwk.common.key_id.clone().unwrap_or_default();
            let fits = match (&jwk.algorithm, algorithm) {
                (AlgorithmParameters::OctetKeyPair(_), Algorithm::EdDSA) => true,
                (AlgorithmParameters::EllipticCurve(p), Algorithm::ES256) => {
                    p.curve == EllipticCurve::P256
                }
                _ => false,
            };
            let stated = jwk
                .common
                .key_algorithm
                .map(|a| format!("{a:?}"))
                .unwrap_or_else(|| format!("{algorithm:?}"));
            if !fits || stated != format!("{algorithm:?}") {
                return Err(format!(
                    "JWKS key {id:?} is not an {algorithm:?} public key"
                ));
            }
            let key = DecodingKey::from_jwk(jwk)
                .map_err(|e| format!("JWKS key {id:?} is not valid: {e}"))?;
            keys.insert(id, key);
        }
        if keys.is_empty() {
            return Err("the JWKS file has no keys".into());
        }
        Ok(Self::verify_only(algorithm, Keys::ById(keys)))
    }

    fn verify_only(algorithm: Algorithm, keys: Keys) -> Tokens {
        Tokens {
            algorithm,
            keys,
            signing: None,
            audience: DEFAULT_AUDIENCE.to_owned(),
            leeway: DEFAULT_LEEWAY_SECS,
            max_lifetime: DEFAULT_MAX_LIFETIME_SECS,
            verified: Arc::default(),
        }
    }

    /// Accepts tokens for `audience` only.
    pub fn with_audience(mut self, audience: &str) -> Tokens {
        self.audience = audience.to_owned();
        self.verified = Arc::default();
        self
    }

    /// Allows `secs` of clock difference on `exp` and `iat`.
    pub fn with_leeway(mut self, secs: u64) -> Tokens {
        self.leeway = secs;
        self.verified = Arc::default();
        self
    }

    /// Accepts tokens whose `exp` is at most `secs` after their `iat`.
    pub fn with_max_lifetime(mut self, secs: u64) -> Tokens {
        self.max_lifetime = secs;
        self.verified = Arc::default();
        self
    }

    /// Also signs tokens with `key` (for a proxy that mints, like the simulator).
    pub fn with_signing_key(mut self, key: EncodingKey) -> Tokens {
        self.signing = Some(key);
        self
    }

    /// The accepted audience.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The allowed clock difference, seconds.
    pub fn leeway(&self) -> u64 {
        self.leeway
    }

    /// The claims of a valid token.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        self.verify_at(token, unix_now())
    }

    fn verify_at(&self, token: &str, now: u64) -> Result<Claims, TokenError> {
        if token.len() > 4096 {
            return Err(TokenError::Malformed);
        }
        if let Some((claims, nbf)) = self.verified.get(token) {
            let begun = nbf.is_none_or(|nbf| nbf <= now + self.leeway);
            if now <= claims.expires + self.leeway && begun {
                return Ok(claims);
            }
            // Expired or not begun yet: the full check below says which.
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != self.algorithm {
            return Err(TokenError::Rejected);
        }
        let key = match &self.keys {
            Keys::One(k) => k,
            Keys::ById(keys) => match header.kid.as_deref().and_then(|id| keys.get(id)) {
                Some(k) => k,
                None if header.kid.is_none() && keys.len() == 1 => {
                    keys.values().next().ok_or(TokenError::Rejected)?
                }
                None => return Err(TokenError::Rejected),
            },
        };
        let mut v = Validation::new(self.algorithm);
        v.leeway = self.leeway;
        v.validate_nbf = true;
        v.set_audience(&[&self.audience]);
        v.set_required_spec_claims(&["exp", "aud", "sub"]);
        let data =
            jsonwebtoken::decode::<Received>(token, key, &v).map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::InvalidAudience
                | ErrorKind::InvalidAlgorithm
                | ErrorKind::ImmatureSignature
                | ErrorKind::MissingRequiredClaim(_) => TokenError::Rejected,
                _ => TokenError::Malformed,
            })?;
        let c = data.claims;
        if c.iat > now + self.leeway || c.exp.saturating_sub(c.iat) > self.max_lifetime {
            return Err(TokenError::Rejected);
        }
        let claims = Claims {
            entity_id: c.sub,
            kind: c.kind,
            session_id: c.sid,
            expires: c.exp,
        };
        self.verified.keep(token, &claims, c.nbf);
        Ok(claims)
    }

    /// Signs claims (with `iat` now and this proxy's audience); `None` when this proxy only
    /// holds a public key.
    pub fn mint(&self, claims: &Claims) -> Option<String> {
        let key = self.signing.as_ref()?;
        let wire = Wire {
            grant: claims.clone(),
            iat: unix_now(),
            aud: self.audience.clone(),
        };
        jsonwebtoken::encode(&Header::new(self.algorithm), &wire, key).ok()
    }
}

/// An HS256 token for `claims`, for the proxy whose secret is `secret` and audience `audience`
/// (usually [`DEFAULT_AUDIENCE`]).
pub fn mint(claims: &Claims, audience: &str, secret: &[u8]) -> String {
    Tokens::shared_secret(secret)
        .with_audience(audience)
        .mint(claims)
        .unwrap_or_default()
}

/// Seconds since the epoch.
pub fn unix_now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use base64::Engine;

    fn claims(expires: u64) -> Claims {
        Claims {
            entity_id: "e1".into(),
            kind: Kind::Biometric,
            session_id: Some("s1".into()),
            expires,
        }
    }

    fn later() -> u64 {
        unix_now() + 60
    }

    #[test]
    fn round_trip_with_the_documented_claims() {
        let t = mint(&claims(later()), DEFAULT_AUDIENCE, b"secret");
        let payload: serde_json::Value =
            serde_json::from_slice(&B64.decode(t.split('.').nth(1).unwrap()).unwrap()).unwrap();
        let mut keys: Vec<_> = payload.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["aud", "exp", "iat", "kind", "sid", "sub"]);
        assert_eq!(payload["aud"], DEFAULT_AUDIENCE);
        let tokens = Tokens::shared_secret(b"secret");
        assert_eq!(tokens.verify(&t), Ok(claims(claims(later()).expires)));
    }

    #[test]
    fn expiry_has_a_small_leeway() {
        let tokens = Tokens::shared_secret(b"secret").with_leeway(5);
        let now = unix_now();
        let t = mint(&claims(now - 3), DEFAULT_AUDIENCE, b"secret");
        assert!(tokens.verify(&t).is_ok(), "3 s late is within the leeway");
        let t = mint(&claims(now - 30), DEFAULT_AUDIENCE, b"secret");
        assert_eq!(tokens.verify(&t), Err(TokenError::Expired));
    }

    #[test]
    fn forged_tampered_foreign_and_malformed_are_refused() {
        let tokens = Tokens::shared_secret(b"secret");
        let t = mint(&claims(later()), DEFAULT_AUDIENCE, b"secret");
        assert_eq!(
            tokens.verify(&mint(&claims(later()), DEFAULT_AUDIENCE, b"other")),
            Err(TokenError::BadSignature)
        );
        // Claims swapped for another entity's, signature kept.
        let other = mint(
            &Claims {
                entity_id: "e2".into(),
                ..claims(later())
            },
            DEFAULT_AUDIENCE,
            b"secret",
        );
        let (signed, _) = other.rsplit_once('.').unwrap();
        let (_, sig) = t.rsplit_once('.').unwrap();
        assert_eq!(
            tokens.verify(&format!("{signed}.{sig}")),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            tokens.verify(&mint(&claims(later()), "another-proxy", b"secret")),
            Err(TokenError::Rejected)
        );
        for bad in ["", "v1.", "a.b.c", "v1.abc", "!!.!!.!!", "Bearer x"] {
            assert_eq!(tokens.verify(bad), Err(TokenError::Malformed), "{bad}");
        }
        assert_eq!(tokens.verify(&"a".repeat(5000)), Err(TokenError::Malformed));
    }

    #[test]
    fn the_algorithm_comes_from_configuration_never_from_the_token() {
        let tokens = Tokens::shared_secret(b"secret");
        let wire = Wire {
            grant: claims(later()),
            iat: unix_now(),
            aud: DEFAULT_AUDIENCE.into(),
        };
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &wire,
            &EncodingKey::from_secret(b"secret"),
        )
        .unwrap();
        assert_eq!(tokens.verify(&hs512), Err(TokenError::Rejected));
        let body = B64.encode(serde_json::to_vec(&wire).unwrap());
        for header in [r#"{"alg":"none","typ":"JWT"}"#, r#"{"alg":"None"}"#] {
            let none = format!("{}.{body}.", B64.encode(header));
            assert!(tokens.verify(&none).is_err(), "{header}");
        }
    }

    /// A token with these claims (all of `sub`, `kind`, `aud` set as valid), signed HS256.
    fn signed(extra: serde_json::Value) -> String {
        let mut claims = serde_json::json!({"sub": "e1", "kind": "biometric",
            "aud": DEFAULT_AUDIENCE});
        for (k, v) in extra.as_object().unwrap() {
            claims[k] = v.clone();
        }
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"secret"),
        )
        .unwrap()
    }

    #[test]
    fn a_token_lives_at_most_its_maximum_lifetime() {
        let now = unix_now();
        let tokens = Tokens::shared_secret(b"secret");
        let hour = signed(serde_json::json!({"iat": now, "exp": now + 3600}));
        assert!(
            tokens.verify(&hour).is_ok(),
            "an hour is the default maximum"
        );
        let year = signed(serde_json::json!({"iat": now, "exp": now + 365 * 86400}));
        assert_eq!(tokens.verify(&year), Err(TokenError::Rejected));
        let longer = signed(serde_json::json!({"iat": now, "exp": now + 7200}));
        assert_eq!(tokens.verify(&longer), Err(TokenError::Rejected));
        let tokens = tokens.with_max_lifetime(7200);
        assert!(tokens.verify(&longer).is_ok(), "configurable");
    }

    #[test]
    fn not_before_is_honoured() {
        let now = unix_now();
        let tokens = Tokens::shared_secret(b"secret");
        let later = signed(serde_json::json!({"iat": now, "exp": now + 600, "nbf": now + 300}));
        assert_eq!(tokens.verify(&later), Err(TokenError::Rejected));
        let begun = signed(serde_json::json!({"iat": now, "exp": now + 600, "nbf": now - 1}));
        assert!(tokens.verify(&begun).is_ok());
        let skew = signed(serde_json::json!({"iat": now, "exp": now + 600, "nbf": now + 3}));
        assert!(tokens.verify(&skew).is_ok(), "within the leeway");
    }

    #[test]
    fn a_verified_token_is_kept_but_still_expires_and_waits_for_nbf() {
        let now = unix_now();
        let tokens = Tokens::shared_secret(b"secret").with_leeway(0);
        let t = signed(serde_json::json!({"iat": now, "exp": now + 1, "nbf": now}));
        assert!(tokens.verify(&t).is_ok());
        assert_eq!(tokens.verified.0.lock().unwrap().len(), 1, "kept");
        assert_eq!(
            tokens.verify_at(&t, now - 30),
            Err(TokenError::Rejected),
            "kept, but not used before nbf"
        );
        let (signed_part, _) = t.rsplit_once('.').unwrap();
        let forged = format!("{signed_part}.AAAA");
        assert_eq!(tokens.verify(&forged), Err(TokenError::BadSignature));
        let other = tokens.clone().with_audience("another-proxy");
        assert_eq!(
            other.verify(&t),
            Err(TokenError::Rejected),
            "a configuration's verifications are its own"
        );
        std::thread::sleep(std::time::Duration::from_millis(2100));
        assert_eq!(
            tokens.verify(&t),
            Err(TokenError::Expired),
            "kept, but expired"
        );
    }

    #[test]
    fn issued_in_the_future_is_refused() {
        let tokens = Tokens::shared_secret(b"secret");
        let wire = Wire {
            grant: claims(later() + 600),
            iat: unix_now() + 300,
            aud: DEFAULT_AUDIENCE.into(),
        };
        let t = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &wire,
            &EncodingKey::from_secret(b"secret"),
        )
        .unwrap();
        assert_eq!(tokens.verify(&t), Err(TokenError::Rejected));
    }
}
