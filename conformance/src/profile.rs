//! Each driver's documented differences from the reference behaviour, in one place. The
//! model and the comparisons consult only this; a difference not listed here is a failure.
//! The table with the reasons is `docs/adapter-protocol.md`, "Known, documented
//! differences between drivers"; the reference sections are glance_store_cinder.md's.

use crate::adapter::GlanceStoreVersion;
use crate::faults::TransientFault;
use crate::model::{ErrorClass, Form, ImageKey, Model};

/// What a driver does differently from the reference (our Rust driver, all `false`).
/// Known upstream *bugs* are deliberately absent: runs that hit them fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DriverProfile {
    /// The `--driver` name.
    pub name: &'static str,
    /// The upstream release behind `python-glance-store` (`--glance-store`); `None` for ours.
    pub glance_store: Option<GlanceStoreVersion>,
    /// A store whose volume type is missing stays enabled: `add` to it fails `backend`
    /// (Cinder's 404 on create, nothing left) and `delete` through it is served. Upstream
    /// LP#1915163 turned the spec's "disable add and delete" into a warning (§1 "Invalid
    /// config").
    pub missing_type_store_writable: bool,
    /// A `get` of a volume that does not exist fails `backend`, not `not_found`: upstream
    /// raises `BackendException` there and its tests assert it (§4).
    pub get_missing_is_backend: bool,
    /// `delete` returns while the volume is still `deleting`; the runner polls `get_size`
    /// until `not_found` (bounded) before it compares or checks for leaks. Upstream sends
    /// `DELETE /volumes/{id}` and does not wait (§4).
    pub delete_returns_before_gone: bool,
    /// An over-quota create (Cinder 413) is `backend`, not `storage_full`: upstream turns
    /// `OverLimit` on create into `BackendException` (§3 step 4). No generated operation
    /// is over quota today (the service project is unlimited); kept so the table and the
    /// profile agree.
    pub over_quota_is_backend: bool,
    /// `configure` fails (`backend`) when Keystone or Cinder cannot be reached, where ours
    /// lists the stores `unverified`: upstream lets `ConnectFailure` escape store loading
    /// (§1, §8.1). Every generated case configures with the emulator up, so the suite never
    /// relies on it; `tests/adapter_protocol.rs` checks it.
    pub configure_needs_cloud: bool,
    /// Read ranges running past the end are not refused (short reads, or `backend` when
    /// starting beyond the end): Glance checks ranges against the image size (416) before
    /// it asks the store, so upstream never guards them. Such ranges are not generated.
    pub read_ranges_unguarded: bool,
    /// A transient Cinder 5xx (one 503 on create, attachment update or volume show) fails
    /// the call with `backend` instead of being retried: upstream's `cinder_http_retries`
    /// effectively retries only a 413 with Retry-After (reference, options table), and
    /// attachment calls retry only a 400 on create and a 500 on delete (§3). The failed
    /// call must still leave nothing behind.
    pub transient_5xx_fail_the_call: bool,
    /// A legacy location whose volume type no store claims is deleted (through the
    /// default store) instead of refused: upstream resolves the store from the location
    /// alone and never compares the volume's type (§4).
    pub deletes_unclaimed_legacy: bool,
    /// An attachment create refused with any Cinder 400 is retried (five attempts, 2/4/8/10 s
    /// apart), not only the "status must be available … to reserve" refusals of a volume
    /// another worker holds: glance_store before 5.5.0 (`_retry_on_bad_request` takes every
    /// `BadRequest`; 5.5.0, LP#2148167, narrowed it and added
    /// `cinder_attachment_retry_attempts`, an option 5.4.1 does not know).
    pub retries_any_attachment_400: bool,
    /// A read detaches only when its caller pulls the iterator past the last chunk or closes
    /// it; a caller that stops at the image's size leaves the volume attached (`in-use`),
    /// so an immediate delete by another worker fails on Cinder's 400. glance_store before
    /// 5.6.0 (LP#2154211: 5.6.0's `CinderVolumeIterator` reads one chunk ahead and detaches
    /// as it hands out the last one). Only the differential run and the concurrent-workers
    /// probes stop early; the suite's own reads drain the iterator.
    pub detaches_only_when_drained: bool,
}

impl DriverProfile {
    /// Our driver: the reference, no differences.
    pub const RUST: DriverProfile = DriverProfile {
        name: "rust",
        glance_store: None,
        missing_type_store_writable: false,
        get_missing_is_backend: false,
        delete_returns_before_gone: false,
        over_quota_is_backend: false,
        configure_needs_cloud: false,
        read_ranges_unguarded: false,
        transient_5xx_fail_the_call: false,
        deletes_unclaimed_legacy: false,
        retries_any_attachment_400: false,
        detaches_only_when_drained: false,
    };

    /// Our driver with its read-back checks of Cinder's answers off
    /// (`Stores::trust_cinder_for_tests`, `DriverTarget::trusting_cinder`): a driver that
    /// trusts Cinder, for the planted bugs. Not waiting for a delete to finish is one of
    /// the checks it drops.
    pub const RUST_TRUSTING: DriverProfile = DriverProfile {
        name: "rust-trusting",
        delete_returns_before_gone: true,
        ..DriverProfile::RUST
    };

    /// Upstream glance_store 5.7.0's cinder driver (`conformance/adapters/python-glance-store`).
    pub const PYTHON_GLANCE_STORE: DriverProfile = DriverProfile {
        name: "python-glance-store",
        glance_store: Some(GlanceStoreVersion::V5_7_0),
        missing_type_store_writable: true,
        get_missing_is_backend: true,
        delete_returns_before_gone: true,
        over_quota_is_backend: true,
        configure_needs_cloud: true,
        read_ranges_unguarded: true,
        transient_5xx_fail_the_call: true,
        deletes_unclaimed_legacy: true,
        retries_any_attachment_400: false,
        detaches_only_when_drained: false,
    };

    /// Upstream glance_store 5.4.1 (stable/2026.1), the same adapter on its own venv: 5.7.0's
    /// differences, and the attach and read code from before 5.5.0 and 5.6.0.
    pub const PYTHON_GLANCE_STORE_5_4_1: DriverProfile = DriverProfile {
        glance_store: Some(GlanceStoreVersion::V5_4_1),
        retries_any_attachment_400: true,
        detaches_only_when_drained: true,
        ..DriverProfile::PYTHON_GLANCE_STORE
    };

    /// The profile of upstream glance_store `version`.
    pub fn for_glance_store(version: GlanceStoreVersion) -> DriverProfile {
        match version {
            GlanceStoreVersion::V5_4_1 => DriverProfile::PYTHON_GLANCE_STORE_5_4_1,
            GlanceStoreVersion::V5_7_0 => DriverProfile::PYTHON_GLANCE_STORE,
        }
    }

    /// The profile of a `--driver` name (`rust-adapter` is our driver behind the protocol).
    pub fn for_driver(name: &str) -> Option<DriverProfile> {
        match name {
            "rust" | "rust-adapter" => Some(DriverProfile::RUST),
            "python-glance-store" => Some(DriverProfile::PYTHON_GLANCE_STORE),
            _ => None,
        }
    }

    /// Whether the driver reports a store writable (`enabled`) when its type `exists`.
    pub fn store_writable(&self, type_exists: bool) -> bool {
        type_exists || self.missing_type_store_writable
    }

    /// Expected outcome of an upload to `store` (`None` = the default store).
    pub fn expect_add(&self, m: &Model, store: Option<&str>) -> Result<Form, ErrorClass> {
        match m.expect_add(store) {
            Err(ErrorClass::Disabled) if self.missing_type_store_writable => {
                Err(ErrorClass::Backend)
            }
            Err(ErrorClass::StorageFull) if self.over_quota_is_backend => Err(ErrorClass::Backend),
            other => other,
        }
    }

    /// Expected outcome of a delete of `key` through a location naming `via` (its own form
    /// when `None`).
    pub fn expect_delete(
        &self,
        m: &Model,
        key: ImageKey,
        via: Option<&Form>,
    ) -> Result<(), ErrorClass> {
        match m.expect_delete(key, via) {
            Err(ErrorClass::Disabled) if self.missing_type_store_writable => {
                match m.images.get(&key) {
                    Some(image) if !image.deleted => Ok(()),
                    _ => Err(ErrorClass::NotFound),
                }
            }
            Err(ErrorClass::Invalid) if self.deletes_unclaimed_legacy => Ok(()),
            other => other,
        }
    }

    /// Whether the call a transient `fault` wraps fails (`backend`) rather than succeeds.
    pub fn fails_under(&self, fault: TransientFault) -> bool {
        let is_5xx = match fault {
            TransientFault::Create503
            | TransientFault::AttachmentUpdate503
            | TransientFault::Show503 => true,
            TransientFault::SlowCreate => false,
            // no retry outlasts an outage: every driver fails
            TransientFault::ShowFails500 | TransientFault::ShowFails503 => return true,
        };
        is_5xx && self.transient_5xx_fail_the_call
    }

    /// The class a `get` (whole image or a range) fails with when the model says `class`.
    pub fn get_error(&self, class: ErrorClass) -> ErrorClass {
        match class {
            ErrorClass::NotFound if self.get_missing_is_backend => ErrorClass::Backend,
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_and_rust_has_no_differences() {
        assert_eq!(
            DriverProfile::for_driver("rust-adapter"),
            Some(DriverProfile::RUST)
        );
        assert_eq!(
            DriverProfile::for_driver("python-glance-store").map(|p| p.name),
            Some("python-glance-store")
        );
        assert_eq!(DriverProfile::for_driver("nope"), None);
        let r = DriverProfile::RUST;
        assert!(!r.store_writable(false));
        assert_eq!(r.get_error(ErrorClass::NotFound), ErrorClass::NotFound);
        let p = DriverProfile::PYTHON_GLANCE_STORE;
        assert!(p.store_writable(false));
        assert_eq!(p.get_error(ErrorClass::NotFound), ErrorClass::Backend);
        assert_eq!(
            p.get_error(ErrorClass::BadLocation),
            ErrorClass::BadLocation
        );
        assert!(
            p.fails_under(TransientFault::Show503) && !p.fails_under(TransientFault::SlowCreate)
        );
        assert!(!r.fails_under(TransientFault::Create503));
        let old = DriverProfile::for_glance_store(GlanceStoreVersion::V5_4_1);
        assert_eq!(old.name, "python-glance-store");
        assert!(old.detaches_only_when_drained && old.retries_any_attachment_400);
        assert!(!p.detaches_only_when_drained && !p.retries_any_attachment_400);
        assert_eq!(
            DriverProfile::for_glance_store(GlanceStoreVersion::V5_7_0),
            DriverProfile::PYTHON_GLANCE_STORE
        );
    }
}
