//! Self-contained signed tokens, like Keystone's Fernet tokens: the payload travels in
//! the token and an HMAC key kept in the data dir signs it, so tokens stay valid across
//! restarts until they expire. Revocation is a list of audit ids in the store.

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// What a token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenPayload {
    #[serde(rename = "u")]
    pub user_id: String,
    #[serde(rename = "p", default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    #[serde(rename = "m")]
    pub methods: Vec<String>,
    /// Unix time, microseconds.
    #[serde(rename = "i")]
    pub issued_at_us: i64,
    #[serde(rename = "e")]
    pub expires_at_us: i64,
    #[serde(rename = "a")]
    pub audit_id: String,
    /// The application credential the token was made from, if any.
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    pub app_cred_id: Option<String>,
}

#[derive(Clone)]
pub struct TokenSigner {
    key: [u8; 32],
}

impl TokenSigner {
    /// Loads the key from `dir/token.key`, creating it (0600) on first start.
    pub fn open(dir: &Path) -> std::io::Result<TokenSigner> {
        let path = dir.join("token.key");
        match std::fs::read(&path) {
            Ok(bytes) if bytes.len() == 32 => {
                let mut key = [0u8; 32];
                key.copy_from_slice(&bytes);
                Ok(TokenSigner { key })
            }
            Ok(_) => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} is not a 32-byte key", path.display()),
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut key);
                write_private(&path, &key)?;
                Ok(TokenSigner { key })
            }
            Err(e) => Err(e),
        }
    }

    pub fn from_key(key: [u8; 32]) -> TokenSigner {
        TokenSigner { key }
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length")
    }

    pub fn sign(&self, payload: &TokenPayload) -> String {
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(payload).expect("payload serializes"));
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("cbx1.{body}.{sig}")
    }

    /// The payload, if the token was made with this key. Expiry is the caller's check.
    pub fn verify(&self, token: &str) -> Option<TokenPayload> {
        if token.len() > 4096 {
            return None;
        }
        let rest = token.strip_prefix("cbx1.")?;
        let (body, sig) = rest.split_once('.')?;
        let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        mac.verify_slice(&sig).ok()?;
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).ok()?).ok()
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// A fresh audit id, as Keystone makes them (22 url-safe characters).
pub fn new_audit_id() -> String {
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload() -> TokenPayload {
        TokenPayload {
            user_id: "u".into(),
            project_id: Some("p".into()),
            methods: vec!["password".into()],
            issued_at_us: 1,
            expires_at_us: 2,
            audit_id: new_audit_id(),
            app_cred_id: None,
        }
    }

    #[test]
    fn tokens_verify_only_with_their_key_and_unaltered() {
        let a = TokenSigner::from_key([1; 32]);
        let b = TokenSigner::from_key([2; 32]);
        let t = a.sign(&payload());
        assert_eq!(
            a.verify(&t),
            Some(payload()).map(|mut p| {
                p.audit_id = a.verify(&t).unwrap().audit_id;
                p
            })
        );
        assert_eq!(b.verify(&t), None);
        let mut tampered = t.clone();
        tampered.insert(10, 'x');
        assert_eq!(a.verify(&tampered), None);
        for junk in ["", "cbx1.", "cbx1..", "gAAAA", "cbx1.%%%.%%%"] {
            assert_eq!(a.verify(junk), None, "{junk}");
        }
    }

    #[test]
    fn the_key_persists_in_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let t = TokenSigner::open(dir.path()).unwrap().sign(&payload());
        assert!(TokenSigner::open(dir.path()).unwrap().verify(&t).is_some());
    }
}
