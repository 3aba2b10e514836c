//! The emulated Cinder services — one `cinder-scheduler` per host and one
//! `cinder-volume` per backend of the world's topology — and the admin operations on
//! them: enable, disable (with a reason), freeze and thaw. Their switches are stored.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::model::{now, Timestamp};
use super::store::{Record, State, Tx};
use crate::config::World;
use crate::error::ApiError;

pub const SCHEDULER_BINARY: &str = "cinder-scheduler";
pub const VOLUME_BINARY: &str = "cinder-volume";

/// What an admin changed on a service; absent means enabled, not frozen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceState {
    pub host: String,
    pub binary: String,
    pub disabled: bool,
    pub disabled_reason: Option<String>,
    pub frozen: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub modified_at: Timestamp,
}

impl Record for ServiceState {
    const KIND: &'static str = "service";
    fn key(&self) -> String {
        format!("{}/{}", self.binary, self.host)
    }
}

/// A service as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub host: String,
    pub binary: &'static str,
    pub zone: String,
    pub disabled: bool,
    pub disabled_reason: Option<String>,
    pub frozen: bool,
    pub updated_at: OffsetDateTime,
}

/// The services the topology defines, in a stable order: schedulers by host, then
/// volume services by `host@backend`.
fn defined(world: &World) -> Vec<(String, &'static str)> {
    let mut hosts: Vec<String> = world.backends.iter().map(|b| b.host.clone()).collect();
    hosts.dedup();
    let mut out: Vec<(String, &'static str)> =
        hosts.into_iter().map(|h| (h, SCHEDULER_BINARY)).collect();
    out.extend(
        world
            .backends
            .iter()
            .map(|b| (b.service_host(), VOLUME_BINARY)),
    );
    out
}

fn state_key(host: &str, binary: &str) -> String {
    format!("{binary}/{host}")
}

/// Cinder's host filter: `host` matches itself, `host@backend` and `host@backend#pool`.
pub fn host_matches(filter: &str, host: &str) -> bool {
    host == filter
        || host
            .strip_prefix(filter)
            .is_some_and(|rest| rest.starts_with('@') || rest.starts_with('#'))
}

/// All services, every one `up` (their heartbeat is "now"), with their stored switches.
pub fn list(world: &World, state: &State) -> Vec<Service> {
    defined(world)
        .into_iter()
        .map(|(host, binary)| {
            let s: Option<ServiceState> = state.record(&state_key(&host, binary));
            Service {
                zone: world.availability_zone.clone(),
                disabled: s.as_ref().is_some_and(|s| s.disabled),
                disabled_reason: s.as_ref().and_then(|s| s.disabled_reason.clone()),
                frozen: s.as_ref().is_some_and(|s| s.frozen),
                updated_at: now(),
                host,
                binary,
            }
        })
        .collect()
}

/// Whether the scheduler may place volumes on this `host@backend`.
pub fn volume_service_enabled(state: &State, service_host: &str) -> bool {
    let s: Option<ServiceState> = state.record(&state_key(service_host, VOLUME_BINARY));
    s.is_none_or(|s| !s.disabled)
}

/// [`volume_service_enabled`], this transaction's writes included.
pub fn volume_service_enabled_in(tx: &Tx<'_>, service_host: &str) -> bool {
    let s: Option<ServiceState> = tx.record(&state_key(service_host, VOLUME_BINARY));
    s.is_none_or(|s| !s.disabled)
}

/// A change to one service's switches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Switch {
    Enable,
    Disable { reason: Option<String> },
}

/// `PUT /os-services/enable|disable|disable-log-reason`: Cinder's `Service.get_by_args`
/// (exact host and binary, else 404).
pub fn set_enabled(
    tx: &mut Tx<'_>,
    world: &World,
    host: &str,
    binary: &str,
    switch: Switch,
) -> Result<(), ApiError> {
    let Some((host, binary)) = defined(world)
        .into_iter()
        .find(|(h, b)| h == host && *b == binary)
    else {
        return Err(ApiError::not_found(format!(
            "Service {host} could not be found."
        )));
    };
    let key = state_key(&host, binary);
    let mut s = tx.record::<ServiceState>(&key).unwrap_or(ServiceState {
        host,
        binary: binary.to_string(),
        disabled: false,
        disabled_reason: None,
        frozen: false,
        modified_at: now(),
    });
    match switch {
        Switch::Enable => s.disabled = false,
        Switch::Disable { reason } => {
            s.disabled = true;
            if reason.is_some() {
                s.disabled_reason = reason;
            }
        }
    }
    s.modified_at = now();
    tx.put_record(&s);
    Ok(())
}

/// `PUT /os-services/freeze|thaw`: the volume service on `host` (Cinder's host filter:
/// `host`, `host@backend`); freezing also disables it with reason `frozen`, thawing
/// enables it with an empty reason, as cinder-volume does. Cinder's refusals: no such
/// service, several backends behind a bare host, already (not) frozen.
pub fn set_frozen(
    tx: &mut Tx<'_>,
    world: &World,
    host: &str,
    frozen: bool,
) -> Result<(), ApiError> {
    let targets: Vec<String> = world
        .backends
        .iter()
        .map(|b| b.service_host())
        .filter(|h| host_matches(host, h))
        .collect();
    let target = match targets.as_slice() {
        [] => {
            return Err(ApiError::bad_request(format!(
                "No service found with host={host}"
            )))
        }
        [one] => one.clone(),
        _ => {
            return Err(ApiError::bad_request(
                "Services from different clusters found.",
            ))
        }
    };
    let key = state_key(&target, VOLUME_BINARY);
    let mut s = tx.record::<ServiceState>(&key).unwrap_or(ServiceState {
        host: target.clone(),
        binary: VOLUME_BINARY.to_string(),
        disabled: false,
        disabled_reason: None,
        frozen: false,
        modified_at: now(),
    });
    if s.frozen == frozen {
        let expected = if frozen { "False" } else { "True" };
        return Err(ApiError::bad_request(format!(
            "Invalid input received: No service could be changed: frozen in ['{target}'] must be {expected} to failover."
        )));
    }
    s.frozen = frozen;
    s.disabled = frozen;
    s.disabled_reason = Some(if frozen {
        "frozen".into()
    } else {
        String::new()
    });
    s.modified_at = now();
    tx.put_record(&s);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_filter_is_cinders() {
        assert!(host_matches("h", "h"));
        assert!(host_matches("h", "h@b"));
        assert!(host_matches("h@b", "h@b#p"));
        assert!(!host_matches("h", "hx@b"));
        assert!(!host_matches("h@b", "h@bc"));
    }
}
