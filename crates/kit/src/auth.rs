//! Bearer-token authentication. A token is a signed JWT carrying the subject, their roles and the
//! party they act for; every service checks it in an interceptor before any handler runs and
//! hands the handler a `Principal`. Missing, malformed, expired or wrongly signed tokens are
//! refused with UNAUTHENTICATED.
//!
//! Tokens are HMAC-signed (HS256) with a secret from configuration; a fixed development secret is
//! used only when `dev_mode` is on, and the service says so at start.

use std::{fmt, sync::Arc, time::Duration};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tonic::{Request, Status};

use crate::error::ApiError;

const DEV_SECRET: &str = "homeward-development-secret-not-for-real-data";

#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// HMAC secret for tokens; at least 32 bytes outside dev mode.
    pub secret: String,
    /// The secret in use before the last rotation: tokens it signed are still accepted (none are
    /// signed with it), so a rotation needs no moment when every service changes at once.
    pub previous_secret: String,
    pub issuer: String,
    pub audience: String,
    /// Allows the built-in development secret. Never for real data.
    pub dev_mode: bool,
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("secret", &if self.secret.is_empty() { "" } else { "***" })
            .field(
                "previous_secret",
                &if self.previous_secret.is_empty() {
                    ""
                } else {
                    "***"
                },
            )
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("dev_mode", &self.dev_mode)
            .finish()
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            secret: String::new(),
            previous_secret: String::new(),
            issuer: "homeward".into(),
            audience: "homeward".into(),
            dev_mode: false,
        }
    }
}

/// What a principal may do, by role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Registrar,
    ExchangeOfficer,
    FamilyLiaison,
    Auditor,
    TracingAgency,
    /// Another Homeward service.
    Service,
    Admin,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Registrar,
        Role::ExchangeOfficer,
        Role::FamilyLiaison,
        Role::Auditor,
        Role::TracingAgency,
        Role::Service,
        Role::Admin,
    ];

    pub fn parse(s: &str) -> Option<Role> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Claims {
    sub: String,
    roles: Vec<Role>,
    party: String,
    iss: String,
    aud: String,
    iat: u64,
    exp: u64,
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub subject: String,
    pub roles: Vec<Role>,
    pub party: String,
}

impl Principal {
    pub fn has_any(&self, roles: &[Role]) -> bool {
        self.roles.iter().any(|r| roles.contains(r))
    }

    /// PERMISSION_DENIED unless the principal holds one of `roles`.
    pub fn require_any(&self, roles: &[Role]) -> Result<(), ApiError> {
        if self.has_any(roles) {
            Ok(())
        } else {
            Err(ApiError::PermissionDenied(format!(
                "this call needs one of the roles {}",
                roles
                    .iter()
                    .map(|r| format!("{r:?}").to_lowercase())
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    }

    /// The principal a handler runs for: put there by the interceptor.
    pub fn of<T>(request: &Request<T>) -> Result<Principal, ApiError> {
        request
            .extensions()
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| ApiError::Unauthenticated("no authenticated principal".into()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(
        "no token secret is configured: set HOMEWARD_AUTH__SECRET (32+ bytes) or enable dev mode"
    )]
    NoSecret,
    #[error("the token secret must be at least 32 bytes")]
    WeakSecret,
    #[error("invalid token: {0}")]
    Invalid(String),
}

/// Signs and verifies tokens.
#[derive(Clone)]
pub struct TokenKeys {
    inner: Arc<Keys>,
}

struct Keys {
    encoding: EncodingKey,
    /// The current key first, then the previous one.
    decoding: Vec<DecodingKey>,
    validation: Validation,
    issuer: String,
    audience: String,
}

impl TokenKeys {
    pub fn from_config(config: &AuthConfig) -> Result<Self, AuthError> {
        let secret = if config.secret.is_empty() {
            if !config.dev_mode {
                return Err(AuthError::NoSecret);
            }
            DEV_SECRET
        } else {
            &config.secret
        };
        if secret.len() < 32
            || (!config.previous_secret.is_empty() && config.previous_secret.len() < 32)
        {
            return Err(AuthError::WeakSecret);
        }
        let mut decoding = vec![DecodingKey::from_secret(secret.as_bytes())];
        if !config.previous_secret.is_empty() {
            decoding.push(DecodingKey::from_secret(config.previous_secret.as_bytes()));
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        Ok(Self {
            inner: Arc::new(Keys {
                encoding: EncodingKey::from_secret(secret.as_bytes()),
                decoding,
                validation,
                issuer: config.issuer.clone(),
                audience: config.audience.clone(),
            }),
        })
    }

    /// A signed token for `subject`, valid for `ttl`.
    pub fn mint(
        &self,
        subject: &str,
        roles: &[Role],
        party: &str,
        ttl: Duration,
    ) -> Result<String, AuthError> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: subject.to_string(),
            roles: roles.to_vec(),
            party: party.to_string(),
            iss: self.inner.issuer.clone(),
            aud: self.inner.audience.clone(),
            iat: now,
            exp: now.saturating_add(ttl.as_secs()),
        };
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.inner.encoding,
        )
        .map_err(|e| AuthError::Invalid(e.to_string()))
    }

    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let mut keys = self.inner.decoding.iter();
        let data = loop {
            let Some(key) = keys.next() else {
                return Err(AuthError::Invalid("no key signed this token".into()));
            };
            match jsonwebtoken::decode::<Claims>(token, key, &self.inner.validation) {
                Ok(data) => break data,
                // Only a signature made with another key is worth trying the next key for.
                Err(e) if *e.kind() == jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                    if keys.len() == 0 {
                        return Err(AuthError::Invalid(e.to_string()));
                    }
                }
                Err(e) => return Err(AuthError::Invalid(e.to_string())),
            }
        };
        let c = data.claims;
        if c.sub.trim().is_empty() || c.roles.is_empty() {
            return Err(AuthError::Invalid(
                "token has no subject or no roles".into(),
            ));
        }
        Ok(Principal {
            subject: c.sub,
            roles: c.roles,
            party: c.party,
        })
    }
}

/// The interceptor every service wraps its gRPC service in.
#[derive(Clone)]
pub struct Authenticator {
    keys: TokenKeys,
    anonymous: bool,
}

impl Authenticator {
    pub fn new(keys: TokenKeys) -> Self {
        Self {
            keys,
            anonymous: false,
        }
    }

    /// Lets requests without any token through, with no principal: for a service with a
    /// public call (the family status check). Every other handler still asks for the
    /// principal and refuses without one; a token that is present must still be valid.
    pub fn allowing_anonymous(keys: TokenKeys) -> Self {
        Self {
            keys,
            anonymous: true,
        }
    }
}

impl tonic::service::Interceptor for Authenticator {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let unauthenticated = |why: &str| {
            ApiError::Unauthenticated(format!(
                "{why}; send `authorization: Bearer <token>` (homewardctl token mint)"
            ))
            .into_status("homeward.auth")
        };
        if self.anonymous && request.metadata().get("authorization").is_none() {
            return Ok(request);
        }
        let header = request
            .metadata()
            .get("authorization")
            .ok_or_else(|| unauthenticated("missing token"))?
            .to_str()
            .map_err(|_| unauthenticated("unreadable authorization header"))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| unauthenticated("the authorization header is not a bearer token"))?;
        let principal = self.keys.verify(token.trim()).map_err(|e| {
            tracing::debug!(error = %e, "token refused");
            unauthenticated("invalid or expired token")
        })?;
        request.extensions_mut().insert(principal);
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::from_config(&AuthConfig {
            dev_mode: true,
            ..AuthConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn after_a_rotation_tokens_of_the_previous_secret_still_verify_and_new_ones_use_the_new() {
        let (old, new) = ("o".repeat(40), "n".repeat(40));
        let before = TokenKeys::from_config(&AuthConfig {
            secret: old.clone(),
            ..AuthConfig::default()
        })
        .unwrap();
        let during = TokenKeys::from_config(&AuthConfig {
            secret: new.clone(),
            previous_secret: old.clone(),
            ..AuthConfig::default()
        })
        .unwrap();
        let after = TokenKeys::from_config(&AuthConfig {
            secret: new,
            ..AuthConfig::default()
        })
        .unwrap();
        let ttl = Duration::from_secs(60);
        let old_token = before
            .mint("officer-1", &[Role::Registrar], "UA", ttl)
            .unwrap();
        let new_token = during
            .mint("officer-2", &[Role::Registrar], "UA", ttl)
            .unwrap();
        assert_eq!(during.verify(&old_token).unwrap().subject, "officer-1");
        assert_eq!(after.verify(&new_token).unwrap().subject, "officer-2");
        assert!(
            before.verify(&new_token).is_err(),
            "signed with the new secret"
        );
        assert!(
            after.verify(&old_token).is_err(),
            "the previous secret is gone"
        );
        let short = TokenKeys::from_config(&AuthConfig {
            secret: "n".repeat(40),
            previous_secret: "short".into(),
            ..AuthConfig::default()
        });
        assert!(matches!(short, Err(AuthError::WeakSecret)));
    }

    #[test]
    fn minted_tokens_verify_and_carry_roles_and_party() {
        let k = keys();
        let t = k
            .mint(
                "registrar-7",
                &[Role::Registrar],
                "UA",
                Duration::from_secs(60),
            )
            .unwrap();
        let p = k.verify(&t).unwrap();
        assert_eq!(p.subject, "registrar-7");
        assert_eq!(p.roles, vec![Role::Registrar]);
        assert_eq!(p.party, "UA");
    }

    #[test]
    fn tampered_wrong_key_and_expired_tokens_are_refused() {
        let k = keys();
        let t = k
            .mint("a", &[Role::Auditor], "UA", Duration::from_secs(60))
            .unwrap();
        let mut parts: Vec<String> = t.split('.').map(String::from).collect();
        parts[1] = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            br#"{"sub":"a","roles":["admin"],"party":"UA","iss":"homeward","aud":"homeward","iat":1,"exp":99999999999}"#,
        );
        assert!(k.verify(&parts.join(".")).is_err());

        let other = TokenKeys::from_config(&AuthConfig {
            secret: "x".repeat(40),
            ..AuthConfig::default()
        })
        .unwrap();
        assert!(other.verify(&t).is_err());

        let expired = {
            let now = jsonwebtoken::get_current_timestamp();
            let claims = Claims {
                sub: "a".into(),
                roles: vec![Role::Auditor],
                party: "UA".into(),
                iss: "homeward".into(),
                aud: "homeward".into(),
                iat: now - 7200,
                exp: now - 3600,
            };
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &k.inner.encoding)
                .unwrap()
        };
        assert!(k.verify(&expired).is_err());
    }

    #[test]
    fn without_a_secret_outside_dev_mode_nothing_starts() {
        assert!(matches!(
            TokenKeys::from_config(&AuthConfig::default()),
            Err(AuthError::NoSecret)
        ));
        assert!(matches!(
            TokenKeys::from_config(&AuthConfig {
                secret: "short".into(),
                ..AuthConfig::default()
            }),
            Err(AuthError::WeakSecret)
        ));
    }
}
