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
    pub issuer: String,
    pub audience: String,
    /// Allows the built-in development secret. Never for real data.
    pub dev_mode: bool,
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("secret", &if self.secret.is_empty() { "" } else { "***" })
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
    decoding: DecodingKey,
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
        if secret.len() < 32 {
            return Err(AuthError::WeakSecret);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        Ok(Self {
            inner: Arc::new(Keys {
                encoding: EncodingKey::from_secret(secret.as_bytes()),
                decoding: DecodingKey::from_secret(secret.as_bytes()),
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
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.inner.decoding, &self.inner.validation)
                .map_err(|e| AuthError::Invalid(e.to_string()))?;
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
