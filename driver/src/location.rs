//! Cinder image locations: `cinder://<store>/<volume-id>` and legacy `cinder://<volume-id>`.

use std::fmt;

use crate::error::DriverError;

pub const SCHEME_PREFIX: &str = "cinder://";

/// A parsed location. `store` is `None` for the legacy single-store form.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Location {
    pub store: Option<String>,
    pub volume_id: String,
}

impl Location {
    pub fn new(store: Option<&str>, volume_id: &str) -> Location {
        Location {
            store: store.map(str::to_string),
            volume_id: volume_id.to_string(),
        }
    }

    /// Parses a location with upstream's error messages. Unlike upstream, a location with
    /// more than one path segment before the id (`cinder://a/b/<id>`) is refused: it names no
    /// single store. `cinder:///<id>` is read as the legacy form.
    pub fn parse(uri: &str) -> Result<Location, DriverError> {
        let Some(rest) = uri.strip_prefix(SCHEME_PREFIX) else {
            if let Some((scheme, _)) = uri.split_once("://") {
                if !scheme.eq_ignore_ascii_case("cinder") {
                    return Err(DriverError::BadLocation(format!(
                        "Unknown scheme '{scheme}' found in URI"
                    )));
                }
            }
            return Err(DriverError::BadLocation(
                "Location URI must start with one of the following schemas: cinder://".into(),
            ));
        };
        let (store, volume_id) = match rest.rsplit_once('/') {
            Some((store, id)) => (Some(store), id),
            None => (None, rest),
        };
        if !is_canonical_uuid(volume_id) {
            return Err(DriverError::BadLocation(
                "URI contains invalid volume ID".into(),
            ));
        }
        let store = match store {
            None | Some("") => None,
            Some(s) if s.contains('/') => {
                return Err(DriverError::BadLocation(format!(
                    "URI contains invalid store name '{s}': expected cinder://<store>/<volume-id>"
                )))
            }
            Some(s) => Some(s.to_string()),
        };
        Ok(Location {
            store,
            volume_id: volume_id.to_string(),
        })
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.store {
            Some(store) => write!(f, "{SCHEME_PREFIX}{store}/{}", self.volume_id),
            None => write!(f, "{SCHEME_PREFIX}{}", self.volume_id),
        }
    }
}

/// A lower-case, hyphenated UUID exactly as Cinder prints volume ids.
pub fn is_canonical_uuid(value: &str) -> bool {
    uuid::Uuid::parse_str(value)
        .map(|u| u.hyphenated().to_string() == value)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "b31e69eb-fbee-47b3-b315-f9865143c03c";
    const SCHEMA: &str = "Location URI must start with one of the following schemas: cinder://";
    const BAD_ID: &str = "URI contains invalid volume ID";

    type Expected<'a> = Result<(Option<&'a str>, &'a str), &'a str>;

    fn check(input: &str, expected: Expected) {
        let got = Location::parse(input);
        match (got, expected) {
            (Ok(loc), Ok((store, id))) => {
                assert_eq!(
                    (loc.store.as_deref(), loc.volume_id.as_str()),
                    (store, id),
                    "{input}"
                )
            }
            (Err(err), Err(message)) => assert_eq!(err.to_string(), message, "{input}"),
            (got, expected) => panic!("{input}: got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn parse_table() {
        let upper = ID.to_uppercase();
        let cases: Vec<(String, Expected)> =
            vec![
            (format!("cinder://{ID}"), Ok((None, ID))),
            (format!("cinder://fast/{ID}"), Ok((Some("fast"), ID))),
            (format!("cinder://slow/{ID}"), Ok((Some("slow"), ID))),
            (format!("cinder:///{ID}"), Ok((None, ID))),
            (
                format!("cinder://a/b/{ID}"),
                Err("URI contains invalid store name 'a/b': expected cinder://<store>/<volume-id>"),
            ),
            (format!("cinder://fast/{ID}/"), Err(BAD_ID)),
            (format!("cinder://{upper}"), Err(BAD_ID)),
            (format!("cinder://{}", ID.replace('-', "")), Err(BAD_ID)),
            (format!("cinder://{{{ID}}}"), Err(BAD_ID)),
            (format!("cinder://{ID}?q"), Err(BAD_ID)),
            (format!("cinder://{ID}#f"), Err(BAD_ID)),
            ("cinder://not-a-uuid".into(), Err(BAD_ID)),
            ("cinder://".into(), Err(BAD_ID)),
            (format!("cinder:/{ID}"), Err(SCHEMA)),
            (format!("CINDER://{ID}"), Err(SCHEMA)),
            (ID.into(), Err(SCHEMA)),
            (format!("rbd://{ID}"), Err("Unknown scheme 'rbd' found in URI")),
        ];
        for (input, expected) in cases {
            check(&input, expected);
        }
    }

    #[test]
    fn format_round_trips() {
        let cases = [
            (
                Location::new(Some("fast"), ID),
                format!("cinder://fast/{ID}"),
            ),
            (Location::new(None, ID), format!("cinder://{ID}")),
        ];
        for (location, expected) in cases {
            assert_eq!(location.to_string(), expected);
            assert_eq!(Location::parse(&expected).expect("parses"), location);
        }
    }
}
