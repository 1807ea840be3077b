//! Whether a worker may run a plan: the plan's hash and the proof that its
//! sender holds the control token.
//!
//! The token itself never travels: the coordinator sends an HMAC of the
//! plan's hash under it, which the worker recomputes with its own copy. A
//! plan altered on the way no longer matches its hash; a sender without the
//! token cannot make a proof for it.

use cliffload_scenario::Scenario;
use ring::{digest, hmac};

/// SHA-256 of the scenario's canonical JSON (fields in declaration order,
/// no spaces), hex.
pub fn plan_hash(scenario: &Scenario) -> String {
    let json = serde_json::to_vec(scenario).unwrap_or_default();
    hex(digest::digest(&digest::SHA256, &json).as_ref())
}

/// HMAC-SHA-256 of `plan_hash` under `token`, hex.
pub fn proof(token: &str, plan_hash: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, token.as_bytes());
    hex(hmac::sign(&key, plan_hash.as_bytes()).as_ref())
}

/// Whether `proof` was made with `token` for `plan_hash` (constant time).
pub fn verify(token: &str, plan_hash: &str, proof: &str) -> bool {
    let key = hmac::Key::new(hmac::HMAC_SHA256, token.as_bytes());
    let Some(tag) = unhex(proof) else {
        return false;
    };
    hmac::verify(&key, plan_hash.as_bytes(), &tag).is_ok()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_holds_only_for_its_token_and_its_plan() {
        let p = proof("s3cret", "abc");
        assert!(verify("s3cret", "abc", &p));
        assert!(!verify("other", "abc", &p));
        assert!(!verify("s3cret", "abd", &p));
        assert!(!verify("s3cret", "abc", "zz"));
        assert!(!verify("s3cret", "abc", ""));
    }

    #[test]
    fn the_hash_changes_with_the_plan() {
        let file = cliffload_scenario::catalog::builtin();
        let mut s = file.get("ping").expect("ping").clone();
        let before = plan_hash(&s);
        assert_eq!(before.len(), 64);
        assert_eq!(before, plan_hash(&s.clone()));
        s.seed += 1;
        assert_ne!(before, plan_hash(&s));
    }
}
