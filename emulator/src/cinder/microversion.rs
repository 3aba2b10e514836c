//! Cinder's microversion header: `OpenStack-API-Version: volume 3.NN`.

use std::fmt;

use crate::error::ApiError;

pub const MIN_MINOR: u16 = 0;
pub const MAX_MINOR: u16 = 71;

/// A 3.x microversion, ordered by its minor number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Microversion(pub u16);

impl Microversion {
    pub const MAX: Microversion = Microversion(MAX_MINOR);

    pub fn at_least(self, minor: u16) -> bool {
        self.0 >= minor
    }
}

impl fmt::Display for Microversion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "3.{}", self.0)
    }
}

/// Why a header was refused; `echo` is what to send back in the response header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub error: ApiError,
    pub echo: Option<String>,
}

/// Parses the value of `OpenStack-API-Version` (or the legacy
/// `X-OpenStack-Volume-API-Version`, which carries the bare version).
pub fn parse(header: Option<&str>, legacy: Option<&str>) -> Result<Microversion, Refused> {
    let requested = match (header, legacy) {
        (Some(h), _) => {
            // The header may list several services: "compute 2.1, volume 3.54".
            let mut found = None;
            for part in h.split(',') {
                let mut words = part.split_whitespace();
                if words
                    .next()
                    .is_some_and(|s| s.eq_ignore_ascii_case("volume"))
                {
                    found = Some(words.collect::<Vec<_>>().join(" "));
                }
            }
            match found {
                Some(v) => v,
                // Not addressed to the volume service: default version.
                None if !h.trim().is_empty() => {
                    return Err(Refused {
                        error: ApiError::bad_request(format!(
                            "Invalid OpenStack-API-Version header: {h:?} does not name the volume service."
                        )),
                        echo: None,
                    })
                }
                None => return Ok(Microversion(MIN_MINOR)),
            }
        }
        (None, Some(l)) => l.trim().to_string(),
        (None, None) => return Ok(Microversion(MIN_MINOR)),
    };
    if requested.eq_ignore_ascii_case("latest") {
        return Ok(Microversion::MAX);
    }
    let malformed = || {
        Refused {
        error: ApiError::bad_request(format!(
            "API Version String {requested} is of invalid format. Must be of format MajorNum.MinorNum."
        )),
        echo: None,
    }
    };
    let (major, minor) = requested.split_once('.').ok_or_else(malformed)?;
    let major: u32 = major.parse().map_err(|_| malformed())?;
    let minor: u32 = minor.parse().map_err(|_| malformed())?;
    let unsupported = |echo| {
        Refused {
        error: ApiError::NotAcceptable(format!(
            "Version {requested} is not supported by the API. Minimum is 3.{MIN_MINOR} and maximum is 3.{MAX_MINOR}."
        )),
        echo,
    }
    };
    if major != 3 {
        return Err(unsupported(None));
    }
    if minor > MAX_MINOR as u32 {
        return Err(unsupported(Some(format!("volume {requested}"))));
    }
    Ok(Microversion(minor as u16))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(header: Option<&str>, expected: Result<u16, u16>) {
        let got = parse(header, None)
            .map(|m| m.0)
            .map_err(|r| r.error.status().as_u16());
        assert_eq!(got, expected, "{header:?}");
    }

    #[test]
    fn header_table() {
        check(None, Ok(0));
        check(Some("volume 3.54"), Ok(54));
        check(Some("volume 3.0"), Ok(0));
        check(Some("volume 3.71"), Ok(71));
        check(Some("volume latest"), Ok(71));
        check(Some("compute 2.1, volume 3.27"), Ok(27));
        check(Some("volume 3.72"), Err(406));
        check(Some("volume 3.999"), Err(406));
        check(Some("volume 2.0"), Err(406));
        check(Some("volume 4.0"), Err(406));
        check(Some("volume 3.x"), Err(400));
        check(Some("volume 3"), Err(400));
        check(Some("volume"), Err(400));
        check(Some("volume -3.1"), Err(400));
        check(Some("compute 2.1"), Err(400));
        check(Some("volume 3.99999999999999999999"), Err(400));
    }

    #[test]
    fn messages_are_cinder_s() {
        let r = parse(Some("volume 3.999"), None).unwrap_err();
        assert_eq!(
            r.error.to_string(),
            "Version 3.999 is not supported by the API. Minimum is 3.0 and maximum is 3.71."
        );
        assert_eq!(r.echo.as_deref(), Some("volume 3.999"));
        assert_eq!(parse(Some("volume 2.0"), None).unwrap_err().echo, None);
        let r = parse(Some("volume 3.x"), None).unwrap_err();
        assert_eq!(
            r.error.to_string(),
            "API Version String 3.x is of invalid format. Must be of format MajorNum.MinorNum."
        );
        assert_eq!(parse(None, Some("3.10")).unwrap().0, 10);
    }
}
