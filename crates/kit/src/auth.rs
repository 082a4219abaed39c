//! Bearer-token authentication. A token is a signed JWT carrying the subject, their roles and the
//! party they act for; every service checks it in an interceptor before any handler runs and
//! hands the handler a `Principal`. Missing, malformed, expired or wrongly signed tokens are
//! refused with UNAUTHENTICATED.
//!
//! Tokens are signed with an Ed25519 private key (JWS `EdDSA`) and name it in their `kid` header;
//! a service verifies with the public key of that kid, from the set it was configured with. Only
//! `EdDSA` is accepted: the algorithm is checked before any key is touched, so `none` and HMAC
//! tokens (including ones "signed" with a public key as the HMAC secret) never reach a verifier.
//! Rotation is adding a public key everywhere, then signing with its private half, then removing
//! the old public key. A fixed development key pair (kid `dev`) exists only for dev mode and is
//! refused as configuration anywhere else. This module must never log or print a private key.

use std::{
    collections::BTreeMap,
    fmt, fs,
    path::{Path, PathBuf},
    sync::{Arc, LazyLock},
    time::Duration,
};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use ed25519_dalek::{
    SigningKey, VerifyingKey,
    pkcs8::{
        DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, KeypairBytes,
        spki::der::pem::LineEnding,
    },
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use tonic::{Request, Status};

use crate::error::ApiError;

/// The only algorithm tokens are signed and accepted with.
const ALGORITHM: Algorithm = Algorithm::EdDSA;
const ALGORITHM_NAME: &str = "EdDSA";

/// How far clocks of the services and of whoever minted a token may disagree.
const LEEWAY_SECS: u64 = 30;

/// The kid of the built-in development key, reserved for it.
pub const DEV_KEY_ID: &str = "dev";

/// The development key pair's private half. Public on purpose: it signs only for services in dev
/// mode, and a service outside dev mode refuses it as configuration.
const DEV_SIGNING_KEY: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIIsOo64MvFRcl67do7r9HbhOnTFDGmBcbra/sDSm5Wl/
-----END PRIVATE KEY-----";

static DEV_KEY: LazyLock<SigningKey> = LazyLock::new(|| {
    SigningKey::from_pkcs8_pem(DEV_SIGNING_KEY).expect("the built-in development key parses")
});

const MAX_KEY_ID_LEN: usize = 64;

#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// PKCS#8 PEM of the Ed25519 private key this service signs its tokens with. A secret.
    pub signing_key: String,
    /// A file holding that PEM instead (a mounted Secret); set this or `signing_key`.
    pub signing_key_file: Option<PathBuf>,
    /// The kid of the signing key, put in every token it signs.
    pub signing_key_id: String,
    /// kid → SPKI PEM public key: the keys whose tokens are accepted. The signing key's public
    /// half is always among them.
    pub verification_keys: BTreeMap<String, String>,
    /// A directory of `<kid>.pem` public keys (a mounted ConfigMap), added to
    /// `verification_keys`. Names starting with `.` are skipped, as Kubernetes' own entries are.
    pub verification_keys_dir: Option<PathBuf>,
    pub issuer: String,
    pub audience: String,
    /// Allows the built-in development key when no key is configured. Never for real data.
    pub dev_mode: bool,
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field(
                "signing_key",
                &if self.signing_key.is_empty() {
                    ""
                } else {
                    "***"
                },
            )
            .field("signing_key_file", &self.signing_key_file)
            .field("signing_key_id", &self.signing_key_id)
            .field(
                "verification_keys",
                &self.verification_keys.keys().collect::<Vec<_>>(),
            )
            .field("verification_keys_dir", &self.verification_keys_dir)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("dev_mode", &self.dev_mode)
            .finish()
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            signing_key: String::new(),
            signing_key_file: None,
            signing_key_id: String::new(),
            verification_keys: BTreeMap::new(),
            verification_keys_dir: None,
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

/// The registered claims default when absent so that their absence is reported by the validation
/// as a missing claim, not as an unreadable token.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Claims {
    #[serde(default)]
    sub: String,
    #[serde(default)]
    roles: Vec<Role>,
    party: String,
    #[serde(default)]
    iss: String,
    #[serde(default)]
    aud: String,
    #[serde(default)]
    iat: u64,
    #[serde(default)]
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
        "no token signing key is configured: set HOMEWARD_AUTH__SIGNING_KEY_FILE (or \
         HOMEWARD_AUTH__SIGNING_KEY) and HOMEWARD_AUTH__SIGNING_KEY_ID (`homewardctl token \
         keygen` makes a key pair), or enable dev mode"
    )]
    NoSigningKey,
    #[error("token keys: {0}")]
    KeyConfig(String),
    #[error("could not sign the token: {0}")]
    Signing(String),
    #[error("token refused: {0}")]
    Refused(#[from] Refusal),
}

/// Why a token was refused. Callers only ever see UNAUTHENTICATED; this is for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("not a well-formed token: {0}")]
    Malformed(String),
    #[error("algorithm {0:?} is not accepted, only EdDSA")]
    Algorithm(String),
    #[error("the token names no key (kid)")]
    NoKeyId,
    #[error("key {0:?} is not one this service accepts")]
    UnknownKey(String),
    #[error("the signature is not one of key {0:?}")]
    BadSignature(String),
    #[error("the token has expired")]
    Expired,
    #[error("the token is from another issuer")]
    WrongIssuer,
    #[error("the token is for another audience")]
    WrongAudience,
    #[error("the token has no {0:?} claim")]
    MissingClaim(String),
    #[error("the token grants no roles")]
    NoRoles,
}

/// Signs and verifies tokens.
#[derive(Clone)]
pub struct TokenKeys {
    inner: Arc<Keys>,
}

struct Keys {
    signing: EncodingKey,
    signing_kid: String,
    development: bool,
    verifying: BTreeMap<String, DecodingKey>,
    validation: Validation,
    issuer: String,
    audience: String,
}

impl TokenKeys {
    pub fn from_config(config: &AuthConfig) -> Result<Self, AuthError> {
        if config.issuer.trim().is_empty() || config.audience.trim().is_empty() {
            return Err(AuthError::KeyConfig(
                "the issuer and the audience must not be empty".into(),
            ));
        }
        let dev_public = DEV_KEY.verifying_key();
        let (signing_kid, signing, development) = match configured_signing_key(config)? {
            Some((kid, key)) => (kid, key, false),
            None if config.dev_mode => (DEV_KEY_ID.to_string(), DEV_KEY.clone(), true),
            None => return Err(AuthError::NoSigningKey),
        };
        let mut public = configured_verification_keys(config)?;
        if !config.dev_mode
            && (signing.verifying_key() == dev_public || public.values().any(|k| *k == dev_public))
        {
            return Err(AuthError::KeyConfig(
                "the built-in development key is configured, but dev mode is off".into(),
            ));
        }
        match public.get(&signing_kid) {
            Some(listed) if *listed != signing.verifying_key() => {
                return Err(AuthError::KeyConfig(format!(
                    "verification key {signing_kid:?} is not the public half of the signing key \
                     of that kid"
                )));
            }
            _ => {
                public.insert(signing_kid.clone(), signing.verifying_key());
            }
        }
        let der = signing
            .to_pkcs8_der()
            .map_err(|e| AuthError::KeyConfig(format!("the signing key: {e}")))?;
        let verifying = public
            .into_iter()
            .map(|(kid, key)| (kid, DecodingKey::from_ed_der(key.as_bytes())))
            .collect::<BTreeMap<_, _>>();

        let mut validation = Validation::new(ALGORITHM);
        validation.algorithms = vec![ALGORITHM];
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.leeway = LEEWAY_SECS;

        tracing::info!(
            signing_kid = %signing_kid,
            verification_kids = ?verifying.keys().collect::<Vec<_>>(),
            "token keys loaded"
        );
        Ok(Self {
            inner: Arc::new(Keys {
                signing: EncodingKey::from_ed_der(der.as_bytes()),
                signing_kid,
                development,
                verifying,
                validation,
                issuer: config.issuer.clone(),
                audience: config.audience.clone(),
            }),
        })
    }

    /// The kid new tokens carry.
    pub fn signing_key_id(&self) -> &str {
        &self.inner.signing_kid
    }

    /// The kids of the keys whose tokens are accepted.
    pub fn verification_key_ids(&self) -> impl Iterator<Item = &str> {
        self.inner.verifying.keys().map(String::as_str)
    }

    /// Whether tokens are signed with the built-in development key.
    pub fn uses_development_key(&self) -> bool {
        self.inner.development
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
        let mut header = Header::new(ALGORITHM);
        header.kid = Some(self.inner.signing_kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.inner.signing)
            .map_err(|e| AuthError::Signing(e.to_string()))
    }

    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        // The header is read before the library sees the token, so that the algorithm allowlist
        // and the choice of key depend on nothing but this code.
        let header = peek_header(token)?;
        if header.alg != ALGORITHM_NAME {
            return Err(Refusal::Algorithm(printable(&header.alg)).into());
        }
        let kid = header.kid.ok_or(Refusal::NoKeyId)?;
        let key = self
            .inner
            .verifying
            .get(&kid)
            .ok_or_else(|| Refusal::UnknownKey(printable(&kid)))?;
        let data = jsonwebtoken::decode::<Claims>(token, key, &self.inner.validation)
            .map_err(|e| refusal(e, &kid))?;
        let c = data.claims;
        if c.sub.trim().is_empty() {
            return Err(Refusal::MissingClaim("sub".into()).into());
        }
        if c.roles.is_empty() {
            return Err(Refusal::NoRoles.into());
        }
        Ok(Principal {
            subject: c.sub,
            roles: c.roles,
            party: c.party,
        })
    }
}

/// The header fields verification depends on. Any other header parameter (`jku`, `jwk`, `x5u`)
/// is ignored: keys come only from configuration.
#[derive(Deserialize)]
struct PeekedHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

fn peek_header(token: &str) -> Result<PeekedHeader, Refusal> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refusal::Malformed("a token has three parts".into()));
    };
    let json = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|e| Refusal::Malformed(format!("header: {e}")))?;
    serde_json::from_slice(&json).map_err(|e| Refusal::Malformed(format!("header: {e}")))
}

fn refusal(e: jsonwebtoken::errors::Error, kid: &str) -> AuthError {
    let refusal = match e.kind() {
        ErrorKind::InvalidSignature => Refusal::BadSignature(kid.to_string()),
        ErrorKind::ExpiredSignature => Refusal::Expired,
        ErrorKind::InvalidIssuer => Refusal::WrongIssuer,
        ErrorKind::InvalidAudience => Refusal::WrongAudience,
        ErrorKind::MissingRequiredClaim(claim) => Refusal::MissingClaim(claim.clone()),
        ErrorKind::InvalidAlgorithm => Refusal::Algorithm("not EdDSA".into()),
        _ => Refusal::Malformed(e.to_string()),
    };
    refusal.into()
}

/// A value from a token, cut short and stripped of control characters before it goes in a log.
fn printable(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(MAX_KEY_ID_LEN)
        .collect()
}

/// A kid is 1 to 64 of `a-z 0-9 . _ -`, starting with a letter or digit: lower case because
/// environment variable names are read lower-cased, and no leading dot so that it can name a
/// file in a mounted directory.
pub fn check_key_id(kid: &str) -> Result<(), AuthError> {
    let ok = !kid.is_empty()
        && kid.len() <= MAX_KEY_ID_LEN
        && kid.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && kid
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(AuthError::KeyConfig(format!(
            "key id {:?} is not 1 to {MAX_KEY_ID_LEN} of a-z, 0-9, '.', '_', '-' starting with a \
             letter or digit",
            printable(kid)
        )))
    }
}

fn check_configured_key_id(kid: &str) -> Result<(), AuthError> {
    check_key_id(kid)?;
    if kid == DEV_KEY_ID {
        return Err(AuthError::KeyConfig(format!(
            "key id {DEV_KEY_ID:?} is reserved for the built-in development key"
        )));
    }
    Ok(())
}

/// PEM as written in an environment variable may have its line breaks escaped as `\n` (compose
/// `.env` files); PEM itself never holds a backslash.
fn unescape_pem(pem: &str) -> String {
    pem.trim().replace("\\n", "\n")
}

fn configured_signing_key(config: &AuthConfig) -> Result<Option<(String, SigningKey)>, AuthError> {
    let pem = match (
        &config.signing_key_file,
        config.signing_key.trim().is_empty(),
    ) {
        (Some(_), false) => {
            return Err(AuthError::KeyConfig(
                "set the signing key or its file, not both".into(),
            ));
        }
        (Some(file), true) => read(file)?,
        (None, false) => config.signing_key.clone(),
        (None, true) => {
            if !config.signing_key_id.is_empty() {
                return Err(AuthError::KeyConfig(format!(
                    "a signing key id ({:?}) is set without a signing key",
                    config.signing_key_id
                )));
            }
            return Ok(None);
        }
    };
    if config.signing_key_id.is_empty() {
        return Err(AuthError::KeyConfig(
            "the signing key has no key id: set HOMEWARD_AUTH__SIGNING_KEY_ID".into(),
        ));
    }
    check_configured_key_id(&config.signing_key_id)?;
    let key = SigningKey::from_pkcs8_pem(&unescape_pem(&pem)).map_err(|e| {
        AuthError::KeyConfig(format!(
            "the signing key is not a PKCS#8 PEM Ed25519 private key ({e})"
        ))
    })?;
    Ok(Some((config.signing_key_id.clone(), key)))
}

fn configured_verification_keys(
    config: &AuthConfig,
) -> Result<BTreeMap<String, VerifyingKey>, AuthError> {
    let mut keys = BTreeMap::new();
    let mut add = |kid: String, pem: &str, source: &str| -> Result<(), AuthError> {
        check_configured_key_id(&kid)?;
        let pem = unescape_pem(pem);
        if pem.contains("PRIVATE KEY") {
            return Err(AuthError::KeyConfig(format!(
                "verification key {kid:?} ({source}) is a private key: give its public half \
                 (`homewardctl token keygen` writes both)"
            )));
        }
        let key = VerifyingKey::from_public_key_pem(&pem).map_err(|e| {
            AuthError::KeyConfig(format!(
                "verification key {kid:?} ({source}) is not an SPKI PEM Ed25519 public key ({e})"
            ))
        })?;
        match keys.insert(kid.clone(), key) {
            Some(other) if other != key => Err(AuthError::KeyConfig(format!(
                "verification key {kid:?} is configured twice, with different keys"
            ))),
            _ => Ok(()),
        }
    };
    for (kid, pem) in &config.verification_keys {
        add(kid.clone(), pem, "verification_keys")?;
    }
    if let Some(dir) = &config.verification_keys_dir {
        for (kid, file) in key_files(dir)? {
            add(kid, &read(&file)?, &file.display().to_string())?;
        }
    }
    Ok(keys)
}

/// The `<kid>.pem` files of a directory. Hidden entries are Kubernetes' own (`..data` and the
/// timestamped directory behind it) and are skipped; so is anything else not ending in `.pem`.
fn key_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, AuthError> {
    let entries = fs::read_dir(dir).map_err(|e| {
        AuthError::KeyConfig(format!(
            "verification keys directory {}: {e}",
            dir.display()
        ))
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| AuthError::KeyConfig(format!("{}: {e}", dir.display())))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') {
            continue;
        }
        let Some(kid) = name.strip_suffix(".pem") else {
            tracing::warn!(file = name, "not a <kid>.pem file: ignored");
            continue;
        };
        // `metadata` follows the symbolic links a mounted ConfigMap is made of.
        if fs::metadata(entry.path()).is_ok_and(|m| m.is_file()) {
            files.push((kid.to_string(), entry.path()));
        }
    }
    Ok(files)
}

fn read(file: &Path) -> Result<String, AuthError> {
    fs::read_to_string(file)
        .map_err(|e| AuthError::KeyConfig(format!("cannot read {}: {e}", file.display())))
}

/// A new Ed25519 key pair as PEM: the private key as PKCS#8 (what `openssl genpkey -algorithm
/// ed25519` writes), the public key as SPKI.
pub struct GeneratedKeyPair {
    pub private_key_pem: String,
    pub public_key_pem: String,
}

impl fmt::Debug for GeneratedKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedKeyPair")
            .field("private_key_pem", &"***")
            .field("public_key_pem", &self.public_key_pem)
            .finish()
    }
}

/// A new key pair from the operating system's random source.
pub fn generate_key_pair() -> Result<GeneratedKeyPair, AuthError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|e| AuthError::KeyConfig(format!("no randomness for a new key: {e}")))?;
    let key = SigningKey::from_bytes(&seed);
    seed.fill(0);
    let private_key_pem = KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    }
    .to_pkcs8_pem(LineEnding::LF)
    .map_err(|e| AuthError::KeyConfig(e.to_string()))?;
    let public_key_pem = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| AuthError::KeyConfig(e.to_string()))?;
    Ok(GeneratedKeyPair {
        private_key_pem: private_key_pem.to_string(),
        public_key_pem,
    })
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

    fn dev_keys() -> TokenKeys {
        TokenKeys::from_config(&AuthConfig {
            dev_mode: true,
            ..AuthConfig::default()
        })
        .unwrap()
    }

    fn key_config(kid: &str, pair: &GeneratedKeyPair) -> AuthConfig {
        AuthConfig {
            signing_key: pair.private_key_pem.clone(),
            signing_key_id: kid.into(),
            ..AuthConfig::default()
        }
    }

    fn config_error(config: &AuthConfig) -> String {
        match TokenKeys::from_config(config) {
            Err(AuthError::KeyConfig(why)) => why,
            Err(e) => panic!("expected a key configuration error, got {e}"),
            Ok(_) => panic!("expected a key configuration error, the keys loaded"),
        }
    }

    #[test]
    fn minted_tokens_verify_and_carry_roles_and_party() {
        let k = dev_keys();
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
        assert!(k.uses_development_key());
        assert_eq!(k.signing_key_id(), DEV_KEY_ID);
    }

    #[test]
    fn without_a_signing_key_outside_dev_mode_nothing_starts() {
        assert!(matches!(
            TokenKeys::from_config(&AuthConfig::default()),
            Err(AuthError::NoSigningKey)
        ));
        // Verification keys alone do not make a service: it signs its own calls to its peers.
        let pair = generate_key_pair().unwrap();
        assert!(matches!(
            TokenKeys::from_config(&AuthConfig {
                verification_keys: BTreeMap::from([("k1".into(), pair.public_key_pem)]),
                ..AuthConfig::default()
            }),
            Err(AuthError::NoSigningKey)
        ));
    }

    #[test]
    fn a_configured_key_is_used_even_in_dev_mode() {
        let pair = generate_key_pair().unwrap();
        let keys = TokenKeys::from_config(&AuthConfig {
            dev_mode: true,
            ..key_config("k1", &pair)
        })
        .unwrap();
        assert!(!keys.uses_development_key());
        assert_eq!(keys.signing_key_id(), "k1");
        assert_eq!(keys.verification_key_ids().collect::<Vec<_>>(), ["k1"]);
    }

    #[test]
    fn misconfigured_keys_stop_the_service_at_start() {
        let pair = generate_key_pair().unwrap();
        let other = generate_key_pair().unwrap();

        let why = config_error(&AuthConfig {
            signing_key_id: String::new(),
            ..key_config("k1", &pair)
        });
        assert!(why.contains("SIGNING_KEY_ID"), "{why}");

        let why = config_error(&AuthConfig {
            signing_key_id: "k1".into(),
            ..AuthConfig::default()
        });
        assert!(why.contains("without a signing key"), "{why}");

        for kid in ["K1", ".k1", "k 1", "k/1", &"k".repeat(65)] {
            let why = config_error(&key_config(kid, &pair));
            assert!(why.contains("is not 1 to 64"), "{kid}: {why}");
        }

        let why = config_error(&key_config(DEV_KEY_ID, &pair));
        assert!(why.contains("reserved"), "{why}");

        let why = config_error(&AuthConfig {
            signing_key: "not a key".into(),
            ..key_config("k1", &pair)
        });
        assert!(why.contains("not a PKCS#8 PEM"), "{why}");

        let why = config_error(&AuthConfig {
            signing_key_file: Some("/nonexistent/k1.key".into()),
            ..key_config("k1", &pair)
        });
        assert!(why.contains("not both"), "{why}");

        let why = config_error(&AuthConfig {
            verification_keys: BTreeMap::from([("k1".into(), other.public_key_pem.clone())]),
            ..key_config("k1", &pair)
        });
        assert!(why.contains("not the public half"), "{why}");

        let why = config_error(&AuthConfig {
            verification_keys: BTreeMap::from([("k0".into(), other.private_key_pem.clone())]),
            ..key_config("k1", &pair)
        });
        assert!(why.contains("is a private key"), "{why}");

        let why = config_error(&AuthConfig {
            verification_keys_dir: Some("/nonexistent/token-keys".into()),
            ..key_config("k1", &pair)
        });
        assert!(why.contains("/nonexistent/token-keys"), "{why}");

        let why = config_error(&AuthConfig {
            audience: String::new(),
            ..key_config("k1", &pair)
        });
        assert!(why.contains("audience"), "{why}");
    }

    #[test]
    fn the_development_key_is_refused_as_configuration_outside_dev_mode() {
        let dev_public = DEV_KEY
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        let why = config_error(&AuthConfig {
            signing_key: DEV_SIGNING_KEY.into(),
            signing_key_id: "not-dev".into(),
            ..AuthConfig::default()
        });
        assert!(why.contains("dev mode is off"), "{why}");
        let why = config_error(&AuthConfig {
            verification_keys: BTreeMap::from([("old".into(), dev_public)]),
            ..key_config("k1", &generate_key_pair().unwrap())
        });
        assert!(why.contains("dev mode is off"), "{why}");
    }

    #[test]
    fn private_keys_never_show_in_debug_output() {
        let pair = generate_key_pair().unwrap();
        let config = AuthConfig {
            verification_keys: BTreeMap::from([("k0".into(), pair.public_key_pem.clone())]),
            ..key_config("k1", &pair)
        };
        let shown = format!("{config:?} {pair:?}");
        let secret_body = pair.private_key_pem.lines().nth(1).unwrap();
        assert!(!shown.contains(secret_body), "{shown}");
        assert!(!shown.contains("PRIVATE KEY"), "{shown}");
        assert!(shown.contains("k0") && shown.contains("k1"), "{shown}");
    }

    #[test]
    fn generated_key_pairs_are_pkcs8_and_spki_pem_of_one_key() {
        let pair = generate_key_pair().unwrap();
        assert!(
            pair.private_key_pem
                .starts_with("-----BEGIN PRIVATE KEY-----\n")
        );
        assert!(
            pair.public_key_pem
                .starts_with("-----BEGIN PUBLIC KEY-----\n")
        );
        let private = SigningKey::from_pkcs8_pem(&pair.private_key_pem).unwrap();
        let public = VerifyingKey::from_public_key_pem(&pair.public_key_pem).unwrap();
        assert_eq!(private.verifying_key(), public);
        let again = generate_key_pair().unwrap();
        assert_ne!(pair.public_key_pem, again.public_key_pem);
    }

    #[derive(Debug, Default, Serialize, Deserialize)]
    #[serde(default)]
    struct WithAuth {
        auth: AuthConfig,
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn keys_come_from_the_environment_with_line_breaks_plain_or_escaped() {
        let (old, new) = (generate_key_pair().unwrap(), generate_key_pair().unwrap());
        let old_token = TokenKeys::from_config(&key_config("2025-01", &old))
            .unwrap()
            .mint("a", &[Role::Auditor], "UA", Duration::from_secs(60))
            .unwrap();
        figment::Jail::expect_with(|jail| {
            jail.set_env("HOMEWARD_AUTH__SIGNING_KEY", &new.private_key_pem);
            jail.set_env("HOMEWARD_AUTH__SIGNING_KEY_ID", "2025-07");
            jail.set_env(
                "HOMEWARD_AUTH__VERIFICATION_KEYS__2025-01",
                old.public_key_pem.replace('\n', "\\n"),
            );
            let config: WithAuth = crate::config::load(None).map_err(|e| e.to_string())?;
            let keys = TokenKeys::from_config(&config.auth).map_err(|e| e.to_string())?;
            assert_eq!(keys.signing_key_id(), "2025-07");
            assert_eq!(
                keys.verification_key_ids().collect::<Vec<_>>(),
                ["2025-01", "2025-07"]
            );
            assert_eq!(keys.verify(&old_token).unwrap().subject, "a");
            Ok(())
        });
    }
}
