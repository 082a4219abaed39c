//! Token verification against forged, misdirected and stale tokens, and key rotation. The
//! forgeries are built by hand here, not with the code under test, so that a fault in how it signs
//! cannot hide the same fault in how it verifies.

use std::{collections::BTreeMap, time::Duration};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use ed25519_dalek::{Signer as _, SigningKey, pkcs8::DecodePrivateKey};
use homeward_kit::auth::{
    AuthConfig, AuthError, GeneratedKeyPair, Refusal, Role, TokenKeys, generate_key_pair,
};
use serde_json::{Value, json};

const MINUTE: Duration = Duration::from_secs(60);

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// Keys that sign with `pair` under `kid` and also accept `also`.
fn keys(kid: &str, pair: &GeneratedKeyPair, also: &[(&str, &GeneratedKeyPair)]) -> TokenKeys {
    TokenKeys::from_config(&AuthConfig {
        signing_key: pair.private_key_pem.clone(),
        signing_key_id: kid.into(),
        verification_keys: also
            .iter()
            .map(|(kid, p)| (kid.to_string(), p.public_key_pem.clone()))
            .collect(),
        ..AuthConfig::default()
    })
    .expect("keys load")
}

fn claims() -> Value {
    json!({
        "sub": "officer-1",
        "roles": ["auditor"],
        "party": "UA",
        "iss": "homeward",
        "aud": "homeward",
        "iat": now(),
        "exp": now() + 600,
    })
}

fn part(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// A JWS signed with Ed25519 over whatever header and claims are given.
fn ed25519_token(pair: &GeneratedKeyPair, header: Value, claims: &Value) -> String {
    let key = SigningKey::from_pkcs8_pem(&pair.private_key_pem).unwrap();
    let input = format!("{}.{}", part(&header), part(claims));
    let signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

fn eddsa(kid: &str) -> Value {
    json!({ "alg": "EdDSA", "typ": "JWT", "kid": kid })
}

fn refusal(result: Result<homeward_kit::auth::Principal, AuthError>) -> Refusal {
    match result {
        Err(AuthError::Refused(why)) => why,
        Err(e) => panic!("expected a refusal, got {e}"),
        Ok(p) => panic!("expected a refusal, the token verified for {}", p.subject),
    }
}

fn kid_of(token: &str) -> Option<String> {
    jsonwebtoken::decode_header(token).unwrap().kid
}

#[test]
fn a_token_made_by_the_keys_verifies_and_names_its_key() {
    let pair = generate_key_pair().unwrap();
    let k = keys("k1", &pair, &[]);
    let token = k.mint("officer-1", &[Role::Auditor], "UA", MINUTE).unwrap();
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    assert_eq!(header.kid.as_deref(), Some("k1"));
    assert_eq!(k.verify(&token).unwrap().roles, vec![Role::Auditor]);

    // The hand-built form is accepted too, so the refusals below are about what they change.
    let by_hand = ed25519_token(&pair, eddsa("k1"), &claims());
    assert_eq!(k.verify(&by_hand).unwrap().subject, "officer-1");
}

#[test]
fn an_unsigned_token_with_alg_none_is_refused() {
    let k = keys("k1", &generate_key_pair().unwrap(), &[]);
    for header in [
        json!({ "alg": "none", "typ": "JWT" }),
        json!({ "alg": "none", "typ": "JWT", "kid": "k1" }),
        json!({ "alg": "None", "typ": "JWT", "kid": "k1" }),
    ] {
        let alg = header["alg"].as_str().unwrap().to_string();
        let token = format!("{}.{}.", part(&header), part(&claims()));
        assert_eq!(refusal(k.verify(&token)), Refusal::Algorithm(alg));
    }
}

#[test]
fn an_hs256_token_keyed_with_the_public_key_is_refused() {
    let pair = generate_key_pair().unwrap();
    let k = keys("k1", &pair, &[]);
    let public_raw =
        ed25519_dalek::pkcs8::DecodePublicKey::from_public_key_pem(&pair.public_key_pem)
            .map(|key: ed25519_dalek::VerifyingKey| key.to_bytes())
            .unwrap();
    // The classic confusion: a verifier that lets the token pick the algorithm would check this
    // HMAC with the public key it holds, which anyone can know.
    for secret in [pair.public_key_pem.as_bytes(), &public_raw[..]] {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some("k1".into());
        let token = jsonwebtoken::encode(
            &header,
            &claims(),
            &jsonwebtoken::EncodingKey::from_secret(secret),
        )
        .unwrap();
        assert_eq!(
            refusal(k.verify(&token)),
            Refusal::Algorithm("HS256".into())
        );
    }
}

#[test]
fn a_token_signed_by_another_key_under_a_known_kid_is_refused() {
    let (ours, theirs) = (generate_key_pair().unwrap(), generate_key_pair().unwrap());
    let k = keys("k1", &ours, &[]);
    let forged = ed25519_token(&theirs, eddsa("k1"), &claims());
    assert_eq!(
        refusal(k.verify(&forged)),
        Refusal::BadSignature("k1".into())
    );
    let minted_elsewhere = keys("k1", &theirs, &[])
        .mint("officer-1", &[Role::Admin], "UA", MINUTE)
        .unwrap();
    assert_eq!(
        refusal(k.verify(&minted_elsewhere)),
        Refusal::BadSignature("k1".into())
    );
}

#[test]
fn a_token_naming_an_unknown_kid_or_none_is_refused() {
    let pair = generate_key_pair().unwrap();
    let k = keys("k1", &pair, &[]);
    let token = ed25519_token(&pair, eddsa("k2"), &claims());
    assert_eq!(refusal(k.verify(&token)), Refusal::UnknownKey("k2".into()));
    let token = ed25519_token(&pair, json!({ "alg": "EdDSA", "typ": "JWT" }), &claims());
    assert_eq!(refusal(k.verify(&token)), Refusal::NoKeyId);
}

#[test]
fn a_token_for_another_audience_is_refused() {
    let pair = generate_key_pair().unwrap();
    let k = keys("k1", &pair, &[]);
    let mut c = claims();
    c["aud"] = json!("someone-else");
    let token = ed25519_token(&pair, eddsa("k1"), &c);
    assert_eq!(refusal(k.verify(&token)), Refusal::WrongAudience);
}

#[test]
fn a_token_from_another_issuer_is_refused() {
    let pair = generate_key_pair().unwrap();
    let k = keys("k1", &pair, &[]);
    let mut c = claims();
    c["iss"] = json!("someone-else");
    let token = ed25519_token(&pair, eddsa("k1"), &c);
    assert_eq!(refusal(k.verify(&token)), Refusal::WrongIssuer);
}

#[test]
fn a_token_expired_beyond_the_leeway_is_refused_and_one_within_it_is_not() {
    let pair = generate_key_pair().unwrap();
    let k = keys("k1", &pair, &[]);
    let mut c = claims();
    c["iat"] = json!(now() - 3_600);
    c["exp"] = json!(now() - 31);
    let token = ed25519_token(&pair, eddsa("k1"), &c);
    assert_eq!(refusal(k.verify(&token)), Refusal::Expired);

    // Clocks a few seconds apart must not refuse a token that has only just run out.
    c["exp"] = json!(now() - 10);
    let token = ed25519_token(&pair, eddsa("k1"), &c);
    assert!(k.verify(&token).is_ok());
}

#[test]
fn tokens_without_exp_or_sub_are_refused() {
    let pair = generate_key_pair().unwrap();
    let k = keys("k1", &pair, &[]);
    for claim in ["exp", "sub", "iss", "aud"] {
        let mut c = claims();
        c.as_object_mut().unwrap().remove(claim);
        let token = ed25519_token(&pair, eddsa("k1"), &c);
        assert_eq!(
            refusal(k.verify(&token)),
            Refusal::MissingClaim(claim.into())
        );
    }
    let mut c = claims();
    c["sub"] = json!("  ");
    let token = ed25519_token(&pair, eddsa("k1"), &c);
    assert_eq!(
        refusal(k.verify(&token)),
        Refusal::MissingClaim("sub".into())
    );
    c["sub"] = json!("officer-1");
    c["roles"] = json!([]);
    let token = ed25519_token(&pair, eddsa("k1"), &c);
    assert_eq!(refusal(k.verify(&token)), Refusal::NoRoles);
}

#[test]
fn changing_the_roles_in_a_signed_token_breaks_its_signature() {
    let pair = generate_key_pair().unwrap();
    let k = keys("k1", &pair, &[]);
    let token = k.mint("officer-1", &[Role::Auditor], "UA", MINUTE).unwrap();
    let mut parts: Vec<String> = token.split('.').map(String::from).collect();
    let mut c: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    c["roles"] = json!(["admin"]);
    parts[1] = part(&c);
    assert_eq!(
        refusal(k.verify(&parts.join("."))),
        Refusal::BadSignature("k1".into())
    );
}

#[test]
fn after_a_rotation_old_tokens_verify_until_the_old_public_key_is_removed() {
    let (old, new) = (generate_key_pair().unwrap(), generate_key_pair().unwrap());
    let before = keys("2025-01", &old, &[]);
    // Step 1: every service learns the new public key, still signing with the old key.
    let learning = keys("2025-01", &old, &[("2025-07", &new)]);
    // Step 2: they sign with the new key and still accept the old one.
    let switched = keys("2025-07", &new, &[("2025-01", &old)]);
    // Step 3: the old public key is removed.
    let after = keys("2025-07", &new, &[]);

    let old_token = before
        .mint("officer-1", &[Role::Registrar], "UA", MINUTE)
        .unwrap();
    let new_token = switched
        .mint("officer-2", &[Role::Registrar], "UA", MINUTE)
        .unwrap();
    assert_eq!(kid_of(&old_token).as_deref(), Some("2025-01"));
    assert_eq!(kid_of(&new_token).as_deref(), Some("2025-07"));
    assert_eq!(
        kid_of(&learning.mint("s", &[Role::Service], "UA", MINUTE).unwrap()).as_deref(),
        Some("2025-01")
    );

    // A service that has not switched yet accepts what a switched one signs, and back.
    assert_eq!(learning.verify(&new_token).unwrap().subject, "officer-2");
    assert_eq!(switched.verify(&old_token).unwrap().subject, "officer-1");
    assert_eq!(after.verify(&new_token).unwrap().subject, "officer-2");
    assert_eq!(
        refusal(after.verify(&old_token)),
        Refusal::UnknownKey("2025-01".into())
    );
    assert_eq!(
        refusal(before.verify(&new_token)),
        Refusal::UnknownKey("2025-07".into())
    );
}

#[test]
fn a_token_signed_with_the_development_key_is_refused_outside_dev_mode() {
    let dev = TokenKeys::from_config(&AuthConfig {
        dev_mode: true,
        ..AuthConfig::default()
    })
    .unwrap();
    let token = dev.mint("me", &[Role::Admin], "UA", MINUTE).unwrap();
    assert_eq!(kid_of(&token).as_deref(), Some("dev"));
    let real = keys("k1", &generate_key_pair().unwrap(), &[]);
    assert_eq!(
        refusal(real.verify(&token)),
        Refusal::UnknownKey("dev".into())
    );
    // Dev mode with a configured key does not fall back to the development key either.
    let configured_in_dev_mode = TokenKeys::from_config(&AuthConfig {
        signing_key: generate_key_pair().unwrap().private_key_pem,
        signing_key_id: "k1".into(),
        dev_mode: true,
        ..AuthConfig::default()
    })
    .unwrap();
    assert_eq!(
        refusal(configured_in_dev_mode.verify(&token)),
        Refusal::UnknownKey("dev".into())
    );
}

#[test]
fn keys_mounted_as_files_work_like_keys_given_inline() {
    let (old, new) = (generate_key_pair().unwrap(), generate_key_pair().unwrap());
    let secret = tempfile::tempdir().unwrap();
    let signing_file = secret.path().join("signing.key");
    std::fs::write(&signing_file, &new.private_key_pem).unwrap();

    // A mounted ConfigMap: `<kid>.pem` links into a hidden, timestamped directory.
    let public = tempfile::tempdir().unwrap();
    let data = public.path().join("..2025_07_01_00_00_00.000000000");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("2025-01.pem"), &old.public_key_pem).unwrap();
    std::fs::write(data.join("2025-07.pem"), &new.public_key_pem).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::symlink;
        symlink(&data, public.path().join("..data")).unwrap();
        for name in ["2025-01.pem", "2025-07.pem"] {
            symlink(
                public.path().join("..data").join(name),
                public.path().join(name),
            )
            .unwrap();
        }
    }
    #[cfg(not(unix))]
    for name in ["2025-01.pem", "2025-07.pem"] {
        std::fs::copy(data.join(name), public.path().join(name)).unwrap();
    }

    let mounted = TokenKeys::from_config(&AuthConfig {
        signing_key_file: Some(signing_file),
        signing_key_id: "2025-07".into(),
        verification_keys_dir: Some(public.path().to_path_buf()),
        ..AuthConfig::default()
    })
    .unwrap();
    assert_eq!(
        mounted.verification_key_ids().collect::<Vec<_>>(),
        ["2025-01", "2025-07"]
    );
    let old_token = keys("2025-01", &old, &[])
        .mint("officer-1", &[Role::Registrar], "UA", MINUTE)
        .unwrap();
    assert_eq!(mounted.verify(&old_token).unwrap().subject, "officer-1");
    let new_token = mounted
        .mint("officer-2", &[Role::Registrar], "UA", MINUTE)
        .unwrap();
    assert_eq!(
        keys("2025-07", &new, &[])
            .verify(&new_token)
            .unwrap()
            .subject,
        "officer-2"
    );

    // The same kid inline and in the directory must be the same key.
    let clash = TokenKeys::from_config(&AuthConfig {
        signing_key: new.private_key_pem.clone(),
        signing_key_id: "2025-07".into(),
        verification_keys: BTreeMap::from([(
            "2025-01".to_string(),
            generate_key_pair().unwrap().public_key_pem,
        )]),
        verification_keys_dir: Some(public.path().to_path_buf()),
        ..AuthConfig::default()
    });
    assert!(
        matches!(&clash, Err(AuthError::KeyConfig(why)) if why.contains("configured twice")),
        "{:?}",
        clash.err()
    );
}
