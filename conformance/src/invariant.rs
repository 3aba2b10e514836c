//! The model's invariants, by name: every failure of a case names the one that fired, as a
//! value (`Violation`, the panic payload of a failed check) rather than a phrase to grep
//! for, so a test can require that a planted bug is caught by a particular invariant.

use std::fmt;

/// One rule the suite checks. The first group compares each answer with the model; the
/// second is checked through Cinder's API after every step; the last two are not about
/// the store under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Invariant {
    /// An operation succeeded or failed (by class) other than the model says.
    Outcome,
    /// An upload's answer names the store and a volume id, and reports the size and
    /// digests of the bytes sent.
    AddAnswer,
    /// Bytes read back are the bytes written, at every offset.
    ReadBytes,
    /// A read returns exactly the requested number of bytes, and reports that count.
    ReadLength,
    /// The md5 of a whole image read back is the written image's.
    ReadChecksum,
    /// `get_size` answers the image's length.
    Size,
    /// Location upgrade answers the form the model derives from the volume's type.
    Upgrade,
    /// A store reports itself writable exactly when its volume type exists.
    StoreHealth,
    /// After a delete that returned before Cinder finished, the volume goes within a bound.
    DeleteSettles,
    /// A successfully deleted image's volume no longer exists.
    DeletedIsGone,
    /// A live image's volume exists.
    VolumeExists,
    /// A live image's volume carries its store's volume type (a store never holds, or
    /// deletes, a volume of another store's type).
    VolumeType,
    /// Between operations every image volume is `available` with no attachment.
    AtRest,
    /// An uploaded image's volume records `image_size` = the image's length.
    ImageSize,
    /// A disabled store never gains a volume.
    DisabledUntouched,
    /// Every volume in the run's scope is an image the model knows.
    NoVolumeLeak,
    /// No attachment of a run's volume outlives the operation that made it.
    NoAttachmentLeak,
    /// An injected fault reached the call it targets (the catalogue and driver agree).
    FaultFired,
    /// The suite itself could not do its part (emulator, inspector, bookkeeping).
    Harness,
    /// A panic that is not one of the suite's checks.
    Panic,
}

impl Invariant {
    /// A stable kebab-case name, as printed in reports and regression files.
    pub fn name(self) -> &'static str {
        match self {
            Invariant::Outcome => "outcome",
            Invariant::AddAnswer => "add-answer",
            Invariant::ReadBytes => "read-bytes",
            Invariant::ReadLength => "read-length",
            Invariant::ReadChecksum => "read-checksum",
            Invariant::Size => "size",
            Invariant::Upgrade => "upgrade",
            Invariant::StoreHealth => "store-health",
            Invariant::DeleteSettles => "delete-settles",
            Invariant::DeletedIsGone => "deleted-is-gone",
            Invariant::VolumeExists => "volume-exists",
            Invariant::VolumeType => "volume-type",
            Invariant::AtRest => "at-rest",
            Invariant::ImageSize => "image-size",
            Invariant::DisabledUntouched => "disabled-untouched",
            Invariant::NoVolumeLeak => "no-volume-leak",
            Invariant::NoAttachmentLeak => "no-attachment-leak",
            Invariant::FaultFired => "fault-fired",
            Invariant::Harness => "harness",
            Invariant::Panic => "panic",
        }
    }
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failed check: which invariant, and what was seen. The panic payload of a case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub invariant: Invariant,
    pub message: String,
}

impl Violation {
    /// From a caught panic: a `Violation` as raised, any other panic as `Panic`.
    pub fn from_panic(payload: &(dyn std::any::Any + Send)) -> Violation {
        if let Some(v) = payload.downcast_ref::<Violation>() {
            return v.clone();
        }
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic without a message".into());
        Violation {
            invariant: Invariant::Panic,
            message,
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.invariant, self.message)
    }
}

/// Fails the case: `violate!(Invariant::X, "format", args..)` panics with a `Violation`.
#[macro_export]
macro_rules! violate {
    ($invariant:expr, $($arg:tt)*) => {
        ::std::panic::panic_any($crate::invariant::Violation {
            invariant: $invariant,
            message: format!($($arg)*),
        })
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(payload: Box<dyn std::any::Any + Send>, invariant: Invariant, message: &str) {
        let v = Violation::from_panic(payload.as_ref());
        assert_eq!((v.invariant, v.message.as_str()), (invariant, message));
    }

    #[test]
    fn panics_become_violations() {
        let raised = std::panic::catch_unwind(|| -> () {
            violate!(Invariant::VolumeType, "volume {} has type {:?}", 7, "x")
        })
        .expect_err("violate! panics");
        check(raised, Invariant::VolumeType, "volume 7 has type \"x\"");
        check(Box::new("plain"), Invariant::Panic, "plain");
        check(Box::new(String::from("owned")), Invariant::Panic, "owned");
        check(Box::new(3u8), Invariant::Panic, "panic without a message");
        assert_eq!(
            Violation {
                invariant: Invariant::AtRest,
                message: "m".into()
            }
            .to_string(),
            "[at-rest] m"
        );
    }
}
