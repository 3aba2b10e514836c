//! Cinder's request-body schemas (`cinder/api/schemas/*.py` and
//! `cinder/api/validation/parameter_types.py`), written as the same dicts, and which one
//! applies to which [`Endpoint`] at which microversion ([`for_request`]). The dispatcher
//! checks a body against it before the handler runs, as Cinder's `@validation.schema`
//! does before the controller (so a bad body is a 400 before any policy check).
//!
//! Left as in Cinder: the `'type': 'object'` slips inside some `properties` (a
//! property called `type` whose schema is a string) are left out, so such a key is
//! refused as unexpected instead of reaching Cinder's 500.

use std::sync::LazyLock;

use serde_json::{json, Value};

use super::endpoint::Endpoint;
use super::microversion::Microversion;
use super::schema::{self, PRINTABLE};
use crate::error::ApiError;

/// Cinder's `DB_MAX_INT`.
const DB_MAX_INT: i64 = 0x7FFF_FFFF;

// ---- parameter_types ----

fn name() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": 255, "format": "name"})
}
fn update_name() -> Value {
    json!({"type": ["string", "null"], "minLength": 1, "maxLength": 255})
}
fn description() -> Value {
    json!({"type": ["string", "null"], "minLength": 0, "maxLength": 255, "pattern": PRINTABLE})
}
fn boolean() -> Value {
    json!({"type": ["boolean", "string"], "enum": [
        true, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes", "y", "t",
        false, "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no", "n", "f"]})
}
fn uuid() -> Value {
    json!({"type": "string", "format": "uuid"})
}
fn optional_uuid() -> Value {
    json!({"oneOf": [{"type": "null"}, {"type": "string", "format": "uuid"}]})
}
fn uuid_allow_null() -> Value {
    json!({"oneOf": [uuid(), {"type": "null"}]})
}
fn specs(key_pattern: &str, value: Value, ty: Value) -> Value {
    json!({"type": ty, "patternProperties": {key_pattern: value}, "additionalProperties": false})
}
const SPEC_KEY: &str = "^[a-zA-Z0-9-_:. /]{1,255}$";
const SPEC_KEY_NO_SPACES: &str = "^[a-zA-Z0-9-_:.]{1,255}$";
fn extra_specs() -> Value {
    specs(
        SPEC_KEY,
        json!({"type": "string", "maxLength": 255}),
        json!("object"),
    )
}
fn extra_specs_with_null() -> Value {
    specs(
        SPEC_KEY,
        json!({"type": ["string", "null"], "maxLength": 255}),
        json!("object"),
    )
}
fn extra_specs_with_no_spaces_key() -> Value {
    specs(
        SPEC_KEY_NO_SPACES,
        json!({"type": ["string", "null"], "minLength": 0, "maxLength": 255}),
        json!("object"),
    )
}
fn metadata_allows_null() -> Value {
    specs(
        SPEC_KEY,
        json!({"type": "string", "maxLength": 255}),
        json!(["object", "null"]),
    )
}
fn name_allow_zero_min_length() -> Value {
    json!({"type": ["string", "null"], "minLength": 0, "maxLength": 255})
}
fn nullable_string() -> Value {
    json!({"type": ["string", "null"], "minLength": 0, "maxLength": 255})
}
fn volume_size(nullable: bool) -> Value {
    let ty = if nullable {
        json!(["integer", "string", "null"])
    } else {
        json!(["integer", "string"])
    };
    json!({"type": ty, "pattern": "^[0-9]+$", "minimum": 1, "maximum": DB_MAX_INT})
}
fn cinder_host() -> Value {
    json!({"type": ["string", "null"], "minLength": 1, "maxLength": 255,
           "pattern": r"^[a-zA-Z0-9-._#@:/+\[\]]*$"})
}
fn availability_zone() -> Value {
    json!({"type": ["string", "null"], "minLength": 1, "maxLength": 255})
}
fn key_size() -> Value {
    json!({"type": ["string", "integer", "null"], "minimum": 0, "maximum": DB_MAX_INT,
           "format": "key_size"})
}

/// `{"type": "object", "properties": {key: inner}, "required": [key], "additionalProperties": false}`.
fn wrap(key: &str, inner: Value) -> Value {
    json!({"type": "object", "properties": {key: inner}, "required": [key],
           "additionalProperties": false})
}
/// An object with these properties and required keys, closed or open.
fn obj(props: Value, required: &[&str], closed: bool) -> Value {
    let mut o = json!({"type": "object", "properties": props, "additionalProperties": !closed});
    if !required.is_empty() {
        o["required"] = json!(required);
    }
    o
}

// ---- volumes.py ----

fn volume_create(minor: u16) -> Value {
    let name_ws = json!({"type": ["string", "null"],
                         "format": "name_non_mandatory_remove_white_spaces"});
    let desc_ws = json!({"type": ["string", "null"],
                         "format": "description_non_mandatory_remove_white_spaces"});
    let mut props = json!({
        "name": name_ws, "description": desc_ws,
        "display_name": name_ws, "display_description": desc_ws,
        "volume_type": name_allow_zero_min_length(),
        "metadata": metadata_allows_null(),
        "snapshot_id": optional_uuid(), "source_volid": optional_uuid(),
        "consistencygroup_id": optional_uuid(),
        "size": volume_size(true),
        "availability_zone": availability_zone(),
        "multiattach": {"oneOf": [{"type": "null"}, boolean()]},
        "image_id": name_allow_zero_min_length(),
        "imageRef": name_allow_zero_min_length(),
    });
    if minor >= 13 {
        props["group_id"] = name_allow_zero_min_length();
    }
    if minor >= 47 {
        props["backup_id"] = optional_uuid();
    }
    json!({"type": "object", "properties": {
            "volume": obj(props, &[], minor >= 53),
            "OS-SCH-HNT:scheduler_hints": {"type": ["object", "null"]}},
           "required": ["volume"], "additionalProperties": false})
}

fn volume_update(minor: u16) -> Value {
    let name_ws = json!({"type": ["string", "null"],
                         "format": "name_non_mandatory_remove_white_spaces"});
    let desc_ws = json!({"type": ["string", "null"],
                         "format": "description_non_mandatory_remove_white_spaces"});
    let mut volume = obj(
        json!({"name": name_ws, "description": desc_ws, "display_name": name_ws,
               "display_description": desc_ws, "metadata": extra_specs()}),
        &[],
        true,
    );
    if minor >= 53 {
        volume["anyOf"] = json!([{"required": ["name"]}, {"required": ["description"]},
            {"required": ["display_name"]}, {"required": ["display_description"]},
            {"required": ["metadata"]}]);
    }
    wrap("volume", volume)
}

/// `volume_actions.py` and `admin_actions.py`, by action key; `None` for an action
/// without a schema here (the handler refuses unknown ones).
fn volume_action(action: &str) -> Option<Value> {
    let any = json!({});
    let inner = match action {
        "os-attach" => {
            let mut o = obj(
                json!({"instance_uuid": uuid(),
                       "mountpoint": {"type": "string", "minLength": 1, "maxLength": 255},
                       "host_name": {"type": "string", "maxLength": 255},
                       "mode": {"type": "string", "enum": ["rw", "ro"]}}),
                &["mountpoint"],
                true,
            );
            o["anyOf"] = json!([{"required": ["instance_uuid"]}, {"required": ["host_name"]}]);
            o
        }
        "os-detach" => json!({"type": ["object", "null"],
                              "properties": {"attachment_id": uuid_allow_null()},
                              "additionalProperties": false}),
        "os-reserve" | "os-unreserve" | "os-begin_detaching" | "os-roll_detaching"
        | "os-force_delete" => any,
        "os-extend" => obj(json!({"new_size": volume_size(false)}), &["new_size"], true),
        "os-set_bootable" => obj(json!({"bootable": boolean()}), &["bootable"], true),
        "os-update_readonly_flag" => obj(json!({"readonly": boolean()}), &["readonly"], true),
        "os-initialize_connection" => obj(
            json!({"connector": {"type": ["object", "string"]}}),
            &["connector"],
            true,
        ),
        "os-terminate_connection" => obj(
            json!({"connector": {"type": ["string", "object", "null"]}}),
            &["connector"],
            true,
        ),
        "os-reset_status" => obj(
            json!({"status": {"type": ["string", "null"]},
                   "attach_status": {"type": ["string", "null"]},
                   "migration_status": {"type": ["string", "null"]}}),
            &[],
            true,
        ),
        "os-force_detach" => obj(
            json!({"connector": {"type": ["string", "object", "null"]},
                   "attachment_id": {"type": ["string", "null"]}}),
            &[],
            true,
        ),
        "os-retype" => obj(
            json!({"new_type": {"type": "string"},
                   "migration_policy": {"type": ["string", "null"],
                                        "enum": ["on-demand", "never"]}}),
            &["new_type"],
            true,
        ),
        _ => return None,
    };
    Some(wrap(action, inner))
}

// ---- the rest, one static each ----

macro_rules! schema_static {
    ($($name:ident = $e:expr;)+) => {
        $( static $name: LazyLock<Value> = LazyLock::new(|| $e); )+

        /// Every schema above, for the tests.
        #[cfg(test)]
        fn all_statics() -> Vec<&'static Value> {
            vec![$( &*$name, )+]
        }
    };
}

schema_static! {
    VOLUME_CREATE_30 = volume_create(0);
    VOLUME_CREATE_313 = volume_create(13);
    VOLUME_CREATE_347 = volume_create(47);
    VOLUME_CREATE_353 = volume_create(53);
    VOLUME_UPDATE = volume_update(0);
    VOLUME_UPDATE_353 = volume_update(53);
    METADATA_CREATE = wrap("metadata", extra_specs());
    METADATA_UPDATE = {
        let mut m = extra_specs();
        m["minProperties"] = json!(1);
        m["maxProperties"] = json!(1);
        wrap("meta", m)
    };
    TYPE_CREATE = wrap("volume_type", obj(json!({
        "name": name(), "description": description(),
        "extra_specs": extra_specs_with_null(),
        "os-volume-type-access:is_public": boolean()}), &["name"], true));
    TYPE_UPDATE = wrap("volume_type", obj(json!({
        "name": update_name(), "description": description(),
        "is_public": boolean()}), &[], true));
    EXTRA_SPECS_CREATE = wrap("extra_specs", extra_specs_with_no_spaces_key());
    EXTRA_SPECS_UPDATE = {
        let mut m = extra_specs_with_no_spaces_key();
        m["minProperties"] = json!(1);
        m["maxProperties"] = json!(1);
        m
    };
    ADD_PROJECT_ACCESS = wrap("addProjectAccess", obj(json!({
        "project": {"type": "string", "minLength": 1, "maxLength": 255}}), &["project"], true));
    REMOVE_PROJECT_ACCESS = wrap("removeProjectAccess", obj(json!({
        "project": {"type": "string", "minLength": 1, "maxLength": 255}}), &["project"], true));
    ATTACHMENT_CREATE = wrap("attachment", obj(json!({
        "instance_uuid": uuid(), "connector": {"type": ["object", "null"]},
        "volume_uuid": uuid()}), &["volume_uuid"], true));
    ATTACHMENT_CREATE_354 = wrap("attachment", obj(json!({
        "instance_uuid": uuid(), "connector": {"type": ["object", "null"]},
        "volume_uuid": uuid(), "mode": {"type": "string", "enum": ["rw", "ro"]}}),
        &["volume_uuid"], true));
    ATTACHMENT_UPDATE = wrap("attachment", obj(json!({
        "connector": {"type": "object", "minProperties": 1}}), &["connector"], true));
    ATTACHMENT_COMPLETE = wrap("os-complete", json!({}));
    QUOTA_UPDATE = wrap("quota_set", json!({"type": "object", "minProperties": 1,
                                           "format": "quota_set"}));
    ENCRYPTION_CREATE = wrap("encryption", obj(json!({
        "key_size": key_size(),
        "provider": {"type": "string", "minLength": 0, "maxLength": 255},
        "control_location": {"enum": ["front-end", "back-end"]},
        "cipher": {"type": ["string", "null"], "minLength": 0, "maxLength": 255}}),
        &["provider", "control_location"], false));
    ENCRYPTION_UPDATE = wrap("encryption", obj(json!({
        "key_size": key_size(),
        "provider": {"type": "string", "minLength": 0, "maxLength": 255},
        "control_location": {"enum": ["front-end", "back-end"]},
        "cipher": {"type": ["string", "null"], "minLength": 0, "maxLength": 255}}),
        &[], false));
    GROUP_TYPE_CREATE = wrap("group_type", obj(json!({
        "name": name(), "description": description(), "is_public": boolean(),
        "group_specs": metadata_allows_null()}), &["name"], true));
    GROUP_TYPE_UPDATE = wrap("group_type", obj(json!({
        "name": name_allow_zero_min_length(), "description": description(),
        "is_public": boolean()}), &[], true));
    GROUP_SPECS_CREATE = wrap("group_specs", specs(
        SPEC_KEY_NO_SPACES, json!({"type": ["string", "null"], "maxLength": 255}), json!("object")));
    GROUP_SPECS_UPDATE = {
        let mut m = specs(SPEC_KEY_NO_SPACES,
                          json!({"type": ["string", "null"], "maxLength": 255}), json!("object"));
        m["minProperties"] = json!(1);
        m["maxProperties"] = json!(1);
        m
    };
    GROUP_CREATE = wrap("group", obj(json!({
        "description": description(),
        "group_type": {"type": "string", "format": "group_type"},
        "name": name_allow_zero_min_length(),
        "volume_types": {"type": "array", "minItems": 1,
                         "items": {"type": "string", "maxLength": 255}, "uniqueItems": true},
        "availability_zone": {"type": ["string", "null"], "format": "availability_zone"}}),
        &["group_type", "volume_types"], true));
    GROUP_UPDATE = wrap("group", {
        let mut g = obj(json!({
            "description": description(), "name": name_allow_zero_min_length(),
            "add_volumes": description(), "remove_volumes": description()}), &[], true);
        g["anyOf"] = json!([{"required": ["name"]}, {"required": ["description"]},
                            {"required": ["add_volumes"]}, {"required": ["remove_volumes"]}]);
        g
    });
    GROUP_DELETE = wrap("delete", obj(json!({"delete-volumes": boolean()}), &[], true));
    GROUP_RESET_STATUS = wrap("reset_status", obj(json!({
        "status": {"type": "string", "format": "group_status"}}), &["status"], true));
    SERVICE_ENABLE_DISABLE = {
        let mut s = obj(json!({
            "binary": {"type": "string", "minLength": 1, "maxLength": 255},
            "host": cinder_host(), "cluster": nullable_string(),
            "service": {"type": "string", "minLength": 1, "maxLength": 255}}), &[], true);
        s["anyOf"] = json!([{"required": ["binary"]}, {"required": ["service"]}]);
        s
    };
    SERVICE_DISABLE_LOG_REASON = {
        let mut s = SERVICE_ENABLE_DISABLE.clone();
        s["properties"]["disabled_reason"] = json!({"type": "string", "minLength": 1,
            "maxLength": 255, "format": "disabled_reason"});
        s
    };
    SERVICE_FREEZE_THAW = obj(json!({"cluster": nullable_string(), "host": cinder_host()}),
                              &[], true);
    QOS_CREATE = wrap("qos_specs", obj(json!({
        "name": {"type": "string", "format": "name_skip_leading_trailing_spaces"}}),
        &["name"], false));
    QOS_SET = wrap("qos_specs", extra_specs_with_null());
    QOS_UNSET = wrap("keys", json!({"type": "array",
        "items": {"type": "string", "minLength": 1, "maxLength": 255}, "uniqueItems": true}));
    TRANSFER_CREATE = wrap("transfer", obj(json!({
        "volume_id": uuid(),
        "name": {"oneOf": [{"type": "string", "format": "name_skip_leading_trailing_spaces"},
                           {"type": "null"}]}}), &["volume_id"], true));
    TRANSFER_CREATE_355 = wrap("transfer", obj(json!({
        "volume_id": uuid(),
        "name": {"oneOf": [{"type": "string", "format": "name_skip_leading_trailing_spaces"},
                           {"type": "null"}]},
        "no_snapshots": boolean()}), &["volume_id"], true));
    TRANSFER_ACCEPT = wrap("accept", obj(json!({
        "auth_key": {"type": ["string", "integer"]}}), &["auth_key"], true));
    DEFAULT_TYPE_SET = json!({"type": "object", "properties": {
        "default_type": obj(json!({"volume_type": name()}), &["volume_type"], true)}});
}

/// The volume actions that have a schema, each with it.
static VOLUME_ACTIONS: LazyLock<Vec<(&'static str, Value)>> = LazyLock::new(|| {
    VOLUME_ACTION_NAMES
        .iter()
        .filter_map(|name| volume_action(name).map(|s| (*name, s)))
        .collect()
});

const VOLUME_ACTION_NAMES: &[&str] = &[
    "os-attach",
    "os-detach",
    "os-reserve",
    "os-unreserve",
    "os-begin_detaching",
    "os-roll_detaching",
    "os-force_delete",
    "os-extend",
    "os-set_bootable",
    "os-update_readonly_flag",
    "os-initialize_connection",
    "os-terminate_connection",
    "os-reset_status",
    "os-force_detach",
    "os-retype",
];

/// The type-access action schema (`volume_type_access.py`), add or remove.
pub fn type_access(add: bool) -> &'static Value {
    if add {
        &ADD_PROJECT_ACCESS
    } else {
        &REMOVE_PROJECT_ACCESS
    }
}

/// Checks a body against a schema, with Cinder's 400 wording.
pub fn check(schema: &Value, body: &Value) -> Result<(), ApiError> {
    schema::check(schema, body)
}

/// The schema Cinder applies to this request's body, if any. Volume and group actions
/// are chosen by their action key; `TypeAction` is checked by its handler (the action
/// name is refused first).
pub fn for_request(endpoint: &Endpoint, mv: Microversion, body: &Value) -> Option<&'static Value> {
    use Endpoint as E;
    let m = mv.0;
    // An action body names exactly one known action, or the action dispatch refuses it
    // first ("Malformed request body", "There is no such action").
    let action = match body.as_object() {
        Some(o) if o.len() == 1 => o.keys().next().map(String::as_str),
        _ => None,
    };
    let s: &Value = match endpoint {
        E::VolumeCreate if m >= 53 => &VOLUME_CREATE_353,
        E::VolumeCreate if m >= 47 => &VOLUME_CREATE_347,
        E::VolumeCreate if m >= 13 => &VOLUME_CREATE_313,
        E::VolumeCreate => &VOLUME_CREATE_30,
        E::VolumeUpdate(_) if m >= 53 => &VOLUME_UPDATE_353,
        E::VolumeUpdate(_) => &VOLUME_UPDATE,
        E::VolumeAction(..) => {
            return VOLUME_ACTIONS
                .iter()
                .find(|(name, _)| Some(*name) == action)
                .map(|(_, s)| s)
        }
        E::MetadataMerge(_) | E::MetadataReplace(_) => &METADATA_CREATE,
        E::MetadataKeyUpdate(..) => &METADATA_UPDATE,
        E::TypeCreate => &TYPE_CREATE,
        E::TypeUpdate(_) => &TYPE_UPDATE,
        E::TypeExtraSpecsCreate(_) => &EXTRA_SPECS_CREATE,
        E::TypeExtraSpecUpdate(..) => &EXTRA_SPECS_UPDATE,
        E::AttachmentCreate if m >= 54 => &ATTACHMENT_CREATE_354,
        E::AttachmentCreate => &ATTACHMENT_CREATE,
        E::AttachmentUpdate(_) => &ATTACHMENT_UPDATE,
        E::AttachmentAction(_) if action == Some("os-complete") => &ATTACHMENT_COMPLETE,
        E::QuotaUpdate(_) => &QUOTA_UPDATE,
        E::EncryptionCreate(_) => &ENCRYPTION_CREATE,
        E::EncryptionUpdate(..) => &ENCRYPTION_UPDATE,
        E::GroupTypeCreate => &GROUP_TYPE_CREATE,
        E::GroupTypeUpdate(_) => &GROUP_TYPE_UPDATE,
        E::GroupSpecsCreate(_) => &GROUP_SPECS_CREATE,
        E::GroupSpecUpdate(..) => &GROUP_SPECS_UPDATE,
        E::GroupCreate => &GROUP_CREATE,
        E::GroupUpdate(_) => &GROUP_UPDATE,
        E::GroupAction(_) if action == Some("delete") => &GROUP_DELETE,
        E::GroupAction(_) if action == Some("reset_status") => &GROUP_RESET_STATUS,
        E::ServiceEnable | E::ServiceDisable => &SERVICE_ENABLE_DISABLE,
        E::ServiceDisableLogReason => &SERVICE_DISABLE_LOG_REASON,
        E::ServiceFreeze | E::ServiceThaw => &SERVICE_FREEZE_THAW,
        E::QosCreate => &QOS_CREATE,
        E::QosSetKeys(_) => &QOS_SET,
        E::QosUnsetKeys(_) => &QOS_UNSET,
        E::TransferCreate => &TRANSFER_CREATE,
        E::VolumeTransferCreate => &TRANSFER_CREATE_355,
        E::TransferAccept(_) | E::VolumeTransferAccept(_) => &TRANSFER_ACCEPT,
        E::DefaultTypeSet(_) => &DEFAULT_TYPE_SET,
        _ => return None,
    };
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                if let Some(Value::String(p)) = o.get("pattern") {
                    out.push(p.clone());
                }
                if let Some(Value::Object(pp)) = o.get("patternProperties") {
                    out.extend(pp.keys().cloned());
                }
                o.values().for_each(|x| patterns(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| patterns(x, out)),
            _ => {}
        }
    }

    #[test]
    fn every_pattern_is_one_the_checker_knows() {
        let mut all = all_statics();
        all.extend(VOLUME_ACTIONS.iter().map(|(_, s)| s));
        let mut found = Vec::new();
        all.iter().for_each(|s| patterns(s, &mut found));
        assert!(found.len() > 10, "{found:?}");
        for p in found {
            assert!(
                schema::pattern_matches(&p, "").is_some(),
                "unknown pattern {p}"
            );
        }
    }

    #[test]
    fn the_schema_follows_the_microversion() {
        let body = json!({"volume": {"size": 1, "backup_id": null, "x": 1}});
        let at = |m: u16| for_request(&Endpoint::VolumeCreate, Microversion(m), &body);
        assert!(check(at(52).unwrap(), &body).is_ok());
        assert!(check(at(53).unwrap(), &body).is_err());
        let with_group = json!({"volume": {"size": 1, "group_id": 5}});
        assert!(check(at(12).unwrap(), &with_group).is_ok());
        assert!(check(at(13).unwrap(), &with_group).is_err());
        // An action body with two keys or an unknown action has no schema here.
        let two = json!({"os-reserve": {}, "os-extend": {}});
        let action = Endpoint::VolumeAction("v".into(), "os-reserve".into());
        assert!(for_request(&action, Microversion(0), &two).is_none());
        let extend = json!({"os-extend": {"new_size": "2"}});
        assert!(check(
            for_request(&action, Microversion(0), &extend).unwrap(),
            &extend
        )
        .is_ok());
    }
}
