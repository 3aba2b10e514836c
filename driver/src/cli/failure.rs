//! The command line's one exit-code table, and the failures that map into it.

use std::fmt;
use std::io;

use crate::DriverError;

/// The exit codes, as `--help` and the README print them.
pub const EXIT_CODES: &str = "Exit codes:
  0  success (also when the reader of stdout closed it early, e.g. `| head`)
  2  bad input, usage or configuration: unreadable input, malformed location or image id,
     size mismatch, unknown store, a volume that belongs to no configured store
  3  not found (the image's volume does not exist)
  4  store disabled (its volume type is missing, or no credentials), or the volume
     belongs to a disabled store
  5  backend or I/O failure: Cinder/Keystone error, unreachable, timeout, storage full,
     a store that could not be checked, device or local file I/O, hashing";

/// One row of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    Usage = 2,
    NotFound = 3,
    Disabled = 4,
    Backend = 5,
}

impl Code {
    pub fn of(err: &DriverError) -> Code {
        match err {
            DriverError::Config(_)
            | DriverError::BadLocation(_)
            | DriverError::UnknownStore(_)
            | DriverError::InvalidInput(_)
            | DriverError::SizeMismatch(_) => Code::Usage,
            DriverError::NotFound { .. } => Code::NotFound,
            DriverError::StoreDisabled { .. } => Code::Disabled,
            DriverError::Auth { .. }
            | DriverError::Endpoint { .. }
            | DriverError::Http { .. }
            | DriverError::Unreachable { .. }
            | DriverError::RequestTimeout { .. }
            | DriverError::Timeout { .. }
            | DriverError::UnexpectedStatus { .. }
            | DriverError::Forbidden { .. }
            | DriverError::StorageFull { .. }
            | DriverError::UnsupportedConnector { .. }
            | DriverError::Io { .. }
            | DriverError::Hashing(_)
            | DriverError::Inconsistent(_) => Code::Backend,
        }
    }
}

/// Why a command failed.
#[derive(Debug)]
pub enum Failure {
    Driver(DriverError),
    /// The file or stream to upload cannot be read.
    Input {
        what: String,
        source: io::Error,
    },
    /// A local file or stdout could not be written.
    Output {
        what: String,
        source: io::Error,
    },
    /// The reader of stdout went away: the command ends quietly.
    ClosedStdout,
    /// Already printed (row by row); only the code is left to return.
    Reported(Code),
    /// A command-level failure with its own message.
    Message {
        code: Code,
        text: String,
    },
}

impl Failure {
    pub fn code(&self) -> Option<Code> {
        match self {
            Failure::Driver(e) => Some(Code::of(e)),
            Failure::Input { .. } => Some(Code::Usage),
            Failure::Output { .. } => Some(Code::Backend),
            Failure::ClosedStdout => None,
            Failure::Reported(code) | Failure::Message { code, .. } => Some(*code),
        }
    }

    /// Whether the message still has to be printed.
    pub fn needs_printing(&self) -> bool {
        !matches!(self, Failure::ClosedStdout | Failure::Reported(_))
    }

    /// A write to stdout failed: a closed pipe ends quietly, anything else is I/O.
    pub fn stdout(source: io::Error) -> Failure {
        match source.kind() {
            io::ErrorKind::BrokenPipe => Failure::ClosedStdout,
            _ => Failure::Output {
                what: "stdout".into(),
                source,
            },
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Driver(e) => write!(f, "{e}"),
            Failure::Input { what, source } => write!(f, "cannot read {what}: {source}"),
            Failure::Output { what, source } => write!(f, "cannot write {what}: {source}"),
            Failure::ClosedStdout => f.write_str("stdout was closed"),
            Failure::Reported(code) => write!(f, "failed (exit code {})", *code as u8),
            Failure::Message { text, .. } => f.write_str(text),
        }
    }
}

impl From<DriverError> for Failure {
    fn from(e: DriverError) -> Failure {
        Failure::Driver(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_has_its_row() {
        let io = || io::Error::other("x");
        let cases = [
            (
                Failure::Driver(DriverError::InvalidInput("x".into())),
                Some(2),
            ),
            (
                Failure::Driver(DriverError::NotFound { what: "v".into() }),
                Some(3),
            ),
            (
                Failure::Input {
                    what: "f".into(),
                    source: io(),
                },
                Some(2),
            ),
            (
                Failure::Output {
                    what: "f".into(),
                    source: io(),
                },
                Some(5),
            ),
            (
                Failure::stdout(io::Error::new(io::ErrorKind::BrokenPipe, "p")),
                None,
            ),
            (Failure::Reported(Code::Disabled), Some(4)),
        ];
        for (failure, expected) in cases {
            assert_eq!(failure.code().map(|c| c as u8), expected, "{failure}");
        }
    }
}
