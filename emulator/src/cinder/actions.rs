//! `POST /volumes/{id}/action`: the body is parsed into one [`VolumeAction`] (Cinder's
//! action names kept through serde renames), then dispatched by one `match` to a
//! domain operation in `volume::ops` or `volume::attach`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::attachments::connection_data;
use super::params::optional_uuid;
use super::views::{py_quoted, py_repr};
use super::volumes::parse_size;
use super::Req;
use crate::error::ApiError;
use crate::volume::attach::{self, LegacyAttach};
use crate::volume::ops::{self, parse_volume_id, Caller, ResetStatus};
use crate::volume::status::VolumeStatus;
use crate::volume::store::Tx;

/// One volume action. Argument values stay JSON so that each can be checked with
/// Cinder's own validation wording.
#[derive(Debug, Deserialize)]
pub enum VolumeAction {
    #[serde(rename = "os-extend")]
    Extend { new_size: Option<Value> },
    #[serde(rename = "os-reserve")]
    Reserve(IgnoredAny),
    #[serde(rename = "os-unreserve")]
    Unreserve(IgnoredAny),
    #[serde(rename = "os-begin_detaching")]
    BeginDetaching(IgnoredAny),
    #[serde(rename = "os-roll_detaching")]
    RollDetaching(IgnoredAny),
    #[serde(rename = "os-initialize_connection")]
    InitializeConnection { connector: Option<Value> },
    #[serde(rename = "os-terminate_connection")]
    TerminateConnection { connector: Option<Value> },
    #[serde(rename = "os-attach")]
    Attach {
        instance_uuid: Option<Value>,
        host_name: Option<Value>,
        mountpoint: Option<Value>,
        mode: Option<Value>,
    },
    #[serde(rename = "os-detach")]
    Detach(Option<DetachArgs>),
    #[serde(rename = "os-reset_status")]
    ResetStatus {
        status: Option<Value>,
        attach_status: Option<Value>,
        migration_status: Option<Value>,
    },
    #[serde(rename = "os-force_delete")]
    ForceDelete(IgnoredAny),
    #[serde(rename = "os-force_detach")]
    ForceDetach {
        connector: Option<Value>,
        attachment_id: Option<Value>,
    },
    #[serde(rename = "os-set_bootable")]
    SetBootable { bootable: Option<Value> },
    #[serde(rename = "os-update_readonly_flag")]
    UpdateReadonlyFlag { readonly: Option<Value> },
    #[serde(rename = "os-retype")]
    Retype {
        new_type: Option<Value>,
        migration_policy: Option<Value>,
    },
}

#[derive(Debug, Deserialize)]
pub struct DetachArgs {
    attachment_id: Option<Value>,
}

/// Every action name [`VolumeAction`] knows; anything else is Cinder's "no such action".
pub const ACTIONS: [&str; 15] = [
    "os-extend",
    "os-reserve",
    "os-unreserve",
    "os-begin_detaching",
    "os-roll_detaching",
    "os-initialize_connection",
    "os-terminate_connection",
    "os-attach",
    "os-detach",
    "os-reset_status",
    "os-force_delete",
    "os-force_detach",
    "os-set_bootable",
    "os-update_readonly_flag",
    "os-retype",
];

/// Parses an action body; returns the action and its raw arguments (for messages).
pub fn parse(body: &Value) -> Result<(VolumeAction, Value), ApiError> {
    let (name, args) = match body.as_object() {
        Some(o) if o.len() == 1 => o.iter().next().map(|(k, v)| (k.clone(), v.clone())),
        _ => None,
    }
    .ok_or_else(|| ApiError::bad_request("Malformed request body"))?;
    if !ACTIONS.contains(&name.as_str()) {
        return Err(ApiError::bad_request(format!(
            "There is no such action: {name}"
        )));
    }
    let action = serde_json::from_value(body.clone()).map_err(|_| {
        ApiError::invalid_field(
            &name,
            py_repr(&args),
            &format!("{} is not of type 'object'", py_quoted(&args)),
        )
    })?;
    Ok((action, args))
}

fn required(action: &str, args: &Value, key: &str) -> ApiError {
    ApiError::invalid_field(
        action,
        py_repr(args),
        &format!("'{key}' is a required property"),
    )
}

/// Cinder's `parameter_types.boolean`: a JSON bool or one of oslo's strict strings.
pub fn boolean_field(name: &str, v: &Value) -> Result<bool, ApiError> {
    const TRUE: &[&str] = &[
        "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes", "y", "t",
    ];
    const FALSE: &[&str] = &[
        "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no", "n", "f",
    ];
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if TRUE.contains(&s.as_str()) => Ok(true),
        Value::String(s) if FALSE.contains(&s.as_str()) => Ok(false),
        other => {
            let quoted = |l: &[&str]| {
                l.iter()
                    .map(|s| format!("'{s}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            Err(ApiError::invalid_field(
                name,
                py_repr(other),
                &format!(
                    "{} is not one of [True, {}, False, {}]",
                    py_quoted(other),
                    quoted(TRUE),
                    quoted(FALSE)
                ),
            ))
        }
    }
}

fn connector_field(action: &str, args: &Value, v: Option<&Value>) -> Result<(), ApiError> {
    match v {
        Some(Value::Object(_) | Value::String(_)) => Ok(()),
        Some(other) => Err(ApiError::invalid_field(
            "connector",
            py_repr(other),
            &format!("{} is not of type 'object', 'string'", py_quoted(other)),
        )),
        None => Err(required(action, args, "connector")),
    }
}

fn accepted() -> Response {
    StatusCode::ACCEPTED.into_response()
}

/// Runs one domain operation as the caller, atomically.
async fn write<R: Send + 'static>(
    req: &Req,
    f: impl FnOnce(&mut Tx<'_>, &Caller) -> Result<R, ApiError> + Send + 'static,
) -> Result<R, ApiError> {
    let caller = req.caller.clone();
    req.app.domain.store.write(move |tx| f(tx, &caller)).await
}

/// Admin actions look the volume up first (404), then check the policy (403).
fn require_admin_on(req: &Req, id: Uuid, action: &str) -> Result<(), ApiError> {
    req.app
        .domain
        .store
        .view(|tx| ops::visible(tx, &req.caller, id).map(|_| ()))?;
    req.require_admin(&format!("volume_extension:volume_admin_actions:{action}"))
}

pub async fn dispatch(req: &Req, raw_id: &str) -> Result<Response, ApiError> {
    let (action, args) = parse(&req.json_value()?)?;
    let id = parse_volume_id(raw_id)?;
    use VolumeAction as A;
    match action {
        A::Extend { new_size } => {
            let new_size = parse_size(new_size.as_ref(), "new_size")?;
            let attached_ok = req.mv.at_least(42);
            req.app
                .domain
                .extend_volume(req.caller.clone(), id, new_size, attached_ok)
                .await?;
            Ok(accepted())
        }
        A::Reserve(_) => {
            write(req, move |tx, c| attach::reserve(tx, c, id)).await?;
            Ok(accepted())
        }
        A::Unreserve(_) => {
            write(req, move |tx, c| attach::unreserve(tx, c, id)).await?;
            Ok(accepted())
        }
        A::BeginDetaching(_) => {
            write(req, move |tx, c| attach::begin_detaching(tx, c, id)).await?;
            Ok(accepted())
        }
        A::RollDetaching(_) => {
            write(req, move |tx, c| attach::roll_detaching(tx, c, id)).await?;
            Ok(accepted())
        }
        A::InitializeConnection { connector } => {
            connector_field("os-initialize_connection", &args, connector.as_ref())?;
            let mode = req
                .app
                .domain
                .initialize_connection(&req.caller, id)
                .await?;
            let (kind, data) = match super::attachments::nfs_data(&req.app, id, &mode) {
                Some(d) => ("nfs", d),
                None => ("local", connection_data(&req.app, id, &mode)),
            };
            Ok(Json(json!({"connection_info": {
                "driver_volume_type": kind,
                "data": data,
                "enforce_multipath": false,
            }}))
            .into_response())
        }
        A::TerminateConnection { connector } => {
            connector_field("os-terminate_connection", &args, connector.as_ref())?;
            write(req, move |tx, c| attach::terminate_connection(tx, c, id)).await?;
            Ok(accepted())
        }
        A::Attach {
            instance_uuid,
            host_name,
            mountpoint,
            mode,
        } => {
            let instance_uuid = optional_uuid("instance_uuid", instance_uuid.as_ref())?;
            let host_name = match host_name {
                None | Some(Value::Null) => None,
                Some(Value::String(h)) if h.chars().count() <= 255 => Some(h),
                Some(other) => {
                    return Err(ApiError::invalid_field(
                        "host_name",
                        py_repr(&other),
                        &format!("{} is not of type 'string'", py_quoted(&other)),
                    ))
                }
            };
            let mode = match mode {
                None => "rw".to_string(),
                Some(Value::String(m)) if m == "rw" || m == "ro" => m,
                Some(other) => {
                    return Err(ApiError::invalid_field(
                        "mode",
                        py_repr(&other),
                        &format!("{} is not one of ['rw', 'ro']", py_quoted(&other)),
                    ))
                }
            };
            let mountpoint = match mountpoint {
                Some(Value::String(m)) if !m.is_empty() && m.chars().count() <= 255 => m,
                Some(other) => {
                    return Err(ApiError::invalid_field(
                        "mountpoint",
                        py_repr(&other),
                        &format!("{} is not a valid mountpoint", py_quoted(&other)),
                    ))
                }
                None => return Err(required("os-attach", &args, "mountpoint")),
            };
            if instance_uuid.is_none() && host_name.is_none() {
                return Err(ApiError::invalid_field(
                    "os-attach",
                    py_repr(&args),
                    &format!(
                        "{} is not valid under any of the given schemas",
                        py_repr(&args)
                    ),
                ));
            }
            let legacy = LegacyAttach {
                instance_uuid,
                host_name,
                mountpoint,
                mode,
            };
            write(req, move |tx, c| attach::attach(tx, c, id, legacy)).await?;
            Ok(accepted())
        }
        A::Detach(detach_args) => {
            let attachment_id = optional_uuid(
                "attachment_id",
                detach_args.as_ref().and_then(|a| a.attachment_id.as_ref()),
            )?;
            write(req, move |tx, c| {
                attach::detach(tx, c, id, attachment_id, "Error detaching volume")
            })
            .await?;
            Ok(accepted())
        }
        A::ResetStatus {
            status,
            attach_status,
            migration_status,
        } => {
            let reset = parse_reset(status, attach_status, migration_status)?;
            require_admin_on(req, id, "reset_status")?;
            write(req, move |tx, c| ops::reset_status(tx, c, id, reset)).await?;
            Ok(accepted())
        }
        A::Retype {
            new_type,
            migration_policy,
        } => {
            let (new_type, on_demand) = super::retype::parse(&args, new_type, migration_policy)?;
            crate::volume::retype::retype(
                &req.app.domain,
                req.caller.clone(),
                id,
                new_type,
                on_demand,
            )
            .await?;
            Ok(accepted())
        }
        A::ForceDelete(_) => {
            require_admin_on(req, id, "force_delete")?;
            req.app
                .domain
                .delete_volume(req.caller.clone(), id, true, false)
                .await?;
            Ok(accepted())
        }
        A::ForceDetach {
            connector: _,
            attachment_id,
        } => {
            let attachment_id = optional_uuid("attachment_id", attachment_id.as_ref())?;
            require_admin_on(req, id, "force_detach")?;
            write(req, move |tx, c| {
                attach::force_detach(tx, c, id, attachment_id)
            })
            .await?;
            Ok(accepted())
        }
        A::SetBootable { bootable } => {
            let bootable = match bootable {
                Some(b) => boolean_field("bootable", &b)?,
                None => return Err(required("os-set_bootable", &args, "bootable")),
            };
            write(req, move |tx, c| ops::set_bootable(tx, c, id, bootable)).await?;
            Ok(StatusCode::OK.into_response())
        }
        A::UpdateReadonlyFlag { readonly } => {
            let readonly = match readonly {
                Some(r) => boolean_field("readonly", &r)?,
                None => return Err(required("os-update_readonly_flag", &args, "readonly")),
            };
            write(req, move |tx, c| {
                ops::update_readonly_flag(tx, c, id, readonly)
            })
            .await?;
            Ok(accepted())
        }
    }
}

/// `os-reset_status` arguments, checked as Cinder's schema formats do.
fn parse_reset(
    status: Option<Value>,
    attach_status: Option<Value>,
    migration_status: Option<Value>,
) -> Result<ResetStatus, ApiError> {
    fn text(name: &str, v: Option<Value>) -> Result<Option<String>, ApiError> {
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.to_lowercase())),
            Some(other) => Err(ApiError::invalid_field(
                name,
                py_repr(&other),
                &format!("{} is not of type 'string', 'null'", py_quoted(&other)),
            )),
        }
    }
    let status = text("status", status)?;
    let attach_status = text("attach_status", attach_status)?;
    let migration_status = text("migration_status", migration_status)?;
    if status.is_none() && attach_status.is_none() && migration_status.is_none() {
        return Err(ApiError::bad_request(
            "Must specify 'status', 'attach_status' or 'migration_status' for update.",
        ));
    }
    let status = status
        .map(|s| {
            s.parse::<VolumeStatus>().map_err(|_| {
                ApiError::invalid_field("status", &s, &format!("'{s}' is not a 'volume_status'"))
            })
        })
        .transpose()?;
    let detach_all = match attach_status.as_deref() {
        None | Some("attached") => false,
        Some("detached") => true,
        Some(other) => {
            return Err(ApiError::invalid_field(
                "attach_status",
                other,
                &format!("'{other}' is not a 'volume_attach_status'"),
            ))
        }
    };
    Ok(ResetStatus {
        status,
        detach_all,
        migration_status: migration_status.map(|m| (m != "none").then_some(m)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(body: Value, expected: Result<&str, &str>) {
        let got = parse(&body).map(|(a, _)| format!("{a:?}"));
        match expected {
            Ok(prefix) => {
                let a = got.unwrap_or_else(|e| panic!("{body}: {e}"));
                assert!(a.starts_with(prefix), "{body}: {a}");
            }
            Err(fragment) => {
                let e = got.expect_err(&body.to_string()).to_string();
                assert!(e.contains(fragment), "{body}: {e}");
            }
        }
    }

    #[test]
    fn bodies_parse_into_actions() {
        check(json!({"os-extend": {"new_size": 3}}), Ok("Extend"));
        check(json!({"os-reserve": {}}), Ok("Reserve"));
        check(json!({"os-reserve": null}), Ok("Reserve"));
        check(json!({"os-detach": null}), Ok("Detach(None)"));
        check(
            json!({"os-detach": {"attachment_id": "x"}}),
            Ok("Detach(Some"),
        );
        check(
            json!({"os-set_bootable": {"bootable": true}}),
            Ok("SetBootable"),
        );
        check(
            json!({"os-nothing": {}}),
            Err("There is no such action: os-nothing"),
        );
        check(json!({"a": {}, "b": {}}), Err("Malformed request body"));
        check(json!([]), Err("Malformed request body"));
        check(json!({"os-extend": "abc"}), Err("is not of type 'object'"));
    }

    #[test]
    fn every_listed_action_name_parses() {
        for name in ACTIONS {
            let body = json!({ name: {} });
            assert!(parse(&body).is_ok(), "{name}");
        }
    }

    #[test]
    fn booleans_follow_oslo_strict_strings() {
        assert!(boolean_field("b", &json!("yes")).unwrap());
        assert!(!boolean_field("b", &json!("f")).unwrap());
        let e = boolean_field("b", &json!("maybe")).unwrap_err().to_string();
        assert!(e.starts_with("Invalid input for field/attribute b. Value: maybe. 'maybe' is not one of [True, 'True'"), "{e}");
    }

    #[test]
    fn reset_bodies() {
        let r = parse_reset(Some(json!("ERROR")), None, Some(json!("none"))).unwrap();
        assert_eq!(r.status, Some(VolumeStatus::Error));
        assert_eq!(r.migration_status, Some(None));
        assert!(
            parse_reset(None, Some(json!("detached")), None)
                .unwrap()
                .detach_all
        );
        let e = parse_reset(None, None, None).unwrap_err().to_string();
        assert!(e.starts_with("Must specify 'status'"), "{e}");
        let e = parse_reset(Some(json!("bogus")), None, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("'bogus' is not a 'volume_status'"), "{e}");
    }
}
