//! The driver's one error type: each variant says what failed and what the operator should check.

use std::fmt;

/// A configuration problem, located by file, section, key and (when known) line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: Option<usize>,
    pub section: String,
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        match (self.section.is_empty(), self.key.is_empty()) {
            (false, false) => write!(f, ": [{}] {}", self.section, self.key)?,
            (false, true) => write!(f, ": [{}]", self.section)?,
            (true, false) => write!(f, ": {}", self.key)?,
            (true, true) => {}
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Every failure the driver reports. Messages never contain passwords, secrets or tokens.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// Not `#[from]`: the message already includes the `ConfigError`, which is therefore
    /// not also its source (an error chain would print it twice).
    #[error("configuration error: {0}")]
    Config(ConfigError),

    #[error("Keystone authentication for store '{store}' at {auth_url} failed: {message}; check cinder_store_auth_address, the user name, password, project and domains (or the application credential) of this store")]
    Auth {
        store: String,
        auth_url: String,
        message: String,
    },

    #[error("no Cinder endpoint for store '{store}': {message}; check cinder_catalog_info, cinder_os_region_name or cinder_endpoint_template")]
    Endpoint { store: String, message: String },

    #[error("Cinder answered HTTP {status} to {method} {path} (store '{store}'): {message}")]
    Http {
        store: String,
        method: String,
        path: String,
        status: u16,
        message: String,
    },

    #[error("cannot reach {service} for store '{store}' ({method} {url}): {message}; check that the service is running and the address in the configuration is right")]
    Unreachable {
        store: String,
        service: &'static str,
        method: String,
        url: String,
        message: String,
    },

    #[error("{method} {url} (store '{store}') got no answer within {timeout_s} s; check the health of Cinder/Keystone or raise cinder_http_timeout")]
    RequestTimeout {
        store: String,
        method: String,
        url: String,
        timeout_s: u64,
    },

    #[error("volume {volume_id} did not become '{expected}' within {waited_s} s (last status '{last_status}'); check the cinder-volume service or raise cinder_state_transition_timeout")]
    Timeout {
        volume_id: String,
        expected: String,
        last_status: String,
        waited_s: u64,
    },

    #[error("volume {volume_id} is '{status}' while waiting for '{expected}'; check the cinder-volume logs for this volume")]
    UnexpectedStatus {
        volume_id: String,
        expected: String,
        status: String,
    },

    #[error("store '{store}' is disabled for {operation}: {reason}")]
    StoreDisabled {
        store: String,
        operation: &'static str,
        reason: String,
    },

    #[error("unknown store '{0}'; check enabled_backends in the configuration")]
    UnknownStore(String),

    #[error("{what} was not found in Cinder")]
    NotFound { what: String },

    #[error("Cinder refused {method} {path} (store '{store}'): {message}; check the roles of the store's service user and the volume's project")]
    Forbidden {
        store: String,
        method: String,
        path: String,
        message: String,
    },

    #[error("{0}")]
    BadLocation(String),

    #[error("store '{store}' is full: {message}; check the project's Cinder quotas (gigabytes, volumes) and backend capacity")]
    StorageFull { store: String, message: String },

    #[error("{0}")]
    SizeMismatch(String),

    #[error("unsupported connection type '{driver_volume_type}': {message}")]
    UnsupportedConnector {
        driver_volume_type: String,
        message: String,
    },

    #[error("I/O error on {path}: {source}; check the attached device and the local disk")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("invalid request: {0}")]
    InvalidInput(String),

    /// The md5 of the image could not be computed (OpenSSL failed mid-stream).
    #[error("cannot compute the image's md5: {0}")]
    Hashing(String),

    #[error("Cinder answered inconsistently: {0}; the deployment may be misbehaving, check the Cinder logs")]
    Inconsistent(String),
}

impl From<ConfigError> for DriverError {
    fn from(err: ConfigError) -> DriverError {
        DriverError::Config(err)
    }
}

impl DriverError {
    /// The HTTP status Cinder answered, for errors that carry one.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            DriverError::Http { status, .. } => Some(*status),
            DriverError::Forbidden { .. } => Some(403),
            DriverError::StorageFull { .. } => Some(413),
            _ => None,
        }
    }

    /// Whether a retry of the same request may succeed (transient server or network trouble).
    pub fn is_transient(&self) -> bool {
        match self {
            DriverError::Http { status, .. } => matches!(status, 500 | 502 | 503 | 504),
            DriverError::Unreachable { .. } | DriverError::RequestTimeout { .. } => true,
            _ => false,
        }
    }
}

/// Blanks every credential out of text that came from a server: a proxy or a
/// misbehaving service may echo the request, token or password included.
pub fn redact(text: String, secrets: &[&str]) -> String {
    secrets
        .iter()
        .filter(|s| !s.is_empty())
        .fold(text, |t, s| t.replace(s, "***"))
}

/// Pulls the human message out of an OpenStack fault body
/// (`{"itemNotFound":{"code":404,"message":".."}}`, Keystone's `{"error":{..}}`),
/// or falls back to a short prefix of the body.
pub fn envelope_message(body: &str) -> String {
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(body) {
        for value in map.values() {
            if let Some(message) = value.get("message").and_then(|m| m.as_str()) {
                return message.to_string();
            }
        }
        if let Some(message) = map.get("message").and_then(|m| m.as_str()) {
            return message.to_string();
        }
    }
    let trimmed = body.trim();
    if trimmed.is_empty() {
        return "(empty response body)".to_string();
    }
    trimmed.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(body: &str, expected: &str) {
        assert_eq!(envelope_message(body), expected, "body: {body}");
    }

    #[test]
    fn envelope_messages() {
        let long = "x".repeat(300);
        let cases: &[(&str, &str)] = &[
            (
                r#"{"itemNotFound": {"code": 404, "message": "Volume v could not be found."}}"#,
                "Volume v could not be found.",
            ),
            (
                r#"{"overLimit": {"code": 413, "message": "VolumeLimitExceeded: x", "retryAfter": "0"}}"#,
                "VolumeLimitExceeded: x",
            ),
            (
                r#"{"error": {"code": 401, "title": "Unauthorized", "message": "requires authentication."}}"#,
                "requires authentication.",
            ),
            (r#"{"message": "flat"}"#, "flat"),
            ("", "(empty response body)"),
            ("<html>bad gateway</html>", "<html>bad gateway</html>"),
            (&long, &long[..200]),
        ];
        for (body, expected) in cases {
            check(body, expected);
        }
    }

    #[test]
    fn config_error_display_names_file_section_key_line() {
        let err = ConfigError {
            file: "g.conf".into(),
            line: Some(7),
            section: "fast".into(),
            key: "cinder_http_retries".into(),
            message: "not an integer".into(),
        };
        assert_eq!(
            err.to_string(),
            "g.conf:7: [fast] cinder_http_retries: not an integer"
        );
        let whole_file = ConfigError {
            file: "missing.conf".into(),
            line: None,
            section: String::new(),
            key: String::new(),
            message: "cannot read the file".into(),
        };
        let shown = DriverError::from(whole_file);
        assert_eq!(
            shown.to_string(),
            "configuration error: missing.conf: cannot read the file"
        );
        assert!(std::error::Error::source(&shown).is_none());
    }

    #[test]
    fn transient_classification() {
        let http = |status| DriverError::Http {
            store: "s".into(),
            method: "GET".into(),
            path: "/".into(),
            status,
            message: String::new(),
        };
        let cases = [
            (500, true),
            (503, true),
            (504, true),
            (400, false),
            (404, false),
        ];
        for (status, expected) in cases {
            assert_eq!(http(status).is_transient(), expected, "status {status}");
        }
    }
}
