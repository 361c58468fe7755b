//! Short-lived tokens the integrator's backend mints for one page.
//!
//! Format: `v1.<claims>.<mac>`, both parts base64url without padding; `claims` is JSON
//! `{"e": entityId, "k": "biometric"|"kyc", "s": sessionId?, "x": expiry (unix seconds)}` and
//! `mac` is HMAC-SHA256 over `v1.<claims>` with the proxy's secret. The proxy keeps no state
//! per token, so any number of instances sharing the secret accept the same tokens.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Which gu1 object a token reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    /// The entity whose session the page may read.
    #[serde(rename = "e")]
    pub entity_id: String,
    /// Biometric session or KYC validation.
    #[serde(rename = "k")]
    pub kind: Kind,
    /// Pins the token to one session; without it the entity's current one is used.
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Expiry, unix seconds.
    #[serde(rename = "x")]
    pub expires: u64,
}

/// Why a token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenError {
    /// Not of the `v1.<claims>.<mac>` shape, or the claims are not valid.
    Malformed,
    /// The MAC does not match: forged or signed with another secret.
    BadSignature,
    /// Past its expiry.
    Expired,
    /// Well signed but not for this proxy.
    Rejected,
}

/// How this proxy checks (and, where it holds the key, signs) page tokens.
#[derive(Clone)]
pub struct Tokens {
    secret: Vec<u8>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tokens(<secret>)")
    }
}

impl Tokens {
    /// Tokens signed with a shared secret.
    pub fn shared_secret(secret: &[u8]) -> Tokens {
        Tokens {
            secret: secret.to_vec(),
        }
    }

    /// The claims of a valid token.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        verify(token, &self.secret, unix_now())
    }

    /// Signs claims; `None` when this proxy only holds a public key.
    pub fn mint(&self, claims: &Claims) -> Option<String> {
        Some(mint(claims, &self.secret))
    }
}

const PREFIX: &str = "v1.";

fn mac(secret: &[u8], signed: &str) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
    m.update(signed.as_bytes());
    m
}

/// Signs claims with the secret.
pub fn mint(claims: &Claims, secret: &[u8]) -> String {
    let body = serde_json::to_vec(claims).expect("claims serialise");
    let signed = format!("{PREFIX}{}", B64.encode(body));
    let tag = mac(secret, &signed).finalize().into_bytes();
    format!("{signed}.{}", B64.encode(tag))
}

/// Checks the MAC (in constant time), then the expiry against `now` (unix seconds).
pub fn verify(token: &str, secret: &[u8], now: u64) -> Result<Claims, TokenError> {
    if token.len() > 4096 || !token.starts_with(PREFIX) {
        return Err(TokenError::Malformed);
    }
    let (signed, tag) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let tag = B64.decode(tag).map_err(|_| TokenError::Malformed)?;
    mac(secret, signed)
        .verify_slice(&tag)
        .map_err(|_| TokenError::BadSignature)?;
    let body = B64
        .decode(&signed[PREFIX.len()..])
        .map_err(|_| TokenError::Malformed)?;
    let claims: Claims = serde_json::from_slice(&body).map_err(|_| TokenError::Malformed)?;
    if claims.expires <= now {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

/// Seconds since the epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            entity_id: "e1".into(),
            kind: Kind::Biometric,
            session_id: Some("s1".into()),
            expires: 1_000,
        }
    }

    #[test]
    fn round_trip() {
        let t = mint(&claims(), b"secret");
        assert!(t.starts_with("v1."));
        assert_eq!(verify(&t, b"secret", 999), Ok(claims()));
    }

    #[test]
    fn expired_forged_and_malformed_are_refused() {
        let t = mint(&claims(), b"secret");
        assert_eq!(verify(&t, b"secret", 1_000), Err(TokenError::Expired));
        assert_eq!(verify(&t, b"other", 10), Err(TokenError::BadSignature));
        // Claims swapped for another entity's, MAC kept.
        let other = mint(
            &Claims {
                entity_id: "e2".into(),
                ..claims()
            },
            b"secret",
        );
        let (_, mac) = t.rsplit_once('.').unwrap();
        let (signed, _) = other.rsplit_once('.').unwrap();
        assert_eq!(
            verify(&format!("{signed}.{mac}"), b"secret", 10),
            Err(TokenError::BadSignature)
        );
        for bad in ["", "v1.", "v2.a.b", "v1.abc", "v1.!!.!!", "Bearer x"] {
            assert!(verify(bad, b"secret", 10).is_err(), "{bad}");
        }
    }
}
