//! `/group_types` (3.11): list (`is_public`, `sort`), show, default, admin create,
//! update, delete, and group specs (admin only).

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::views::py_repr;
use super::Req;
use crate::error::ApiError;
use crate::volume::group_types::{self, GroupType};

const MANAGE: &str = "group:group_types_manage";
const SPECS: &str = "group:group_types_specs";

fn view(req: &Req, g: &GroupType) -> Value {
    let mut o = json!({
        "id": g.id.to_string(),
        "name": g.name,
        "description": g.description,
        "is_public": g.is_public,
    });
    if req.caller.is_admin {
        o["group_specs"] = json!(g.group_specs);
    }
    o
}

fn bad(field: &str, v: &Value, why: &str) -> ApiError {
    ApiError::invalid_field(field, py_repr(v), &format!("{} {why}", py_repr(v)))
}

fn refuse_unknown(body: &Map<String, Value>, allowed: &[&str]) -> Result<(), ApiError> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(extra) => Err(ApiError::bad_request(format!(
            "Invalid input for field/attribute group_type. Value: {}. Additional properties are not allowed ('{extra}' was unexpected)",
            py_repr(&Value::Object(body.clone()))
        ))),
        None => Ok(()),
    }
}

fn name_of(v: &Value) -> Result<String, ApiError> {
    match v {
        Value::String(s) if !s.trim().is_empty() && s.chars().count() <= 255 => {
            Ok(s.trim().to_string())
        }
        other => Err(bad("group_type/name", other, "is not a valid name")),
    }
}

fn description_of(v: &Value) -> Result<Option<String>, ApiError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.chars().count() <= 255 => Ok(Some(s.clone())),
        other => Err(bad(
            "group_type/description",
            other,
            "is not of type 'string', 'null'",
        )),
    }
}

fn bool_of(v: &Value, field: &str) -> Result<bool, ApiError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "1" | "t" | "true" | "on" | "y" | "yes" => Ok(true),
            "0" | "f" | "false" | "off" | "n" | "no" => Ok(false),
            _ => Err(bad(field, v, "is not of type 'boolean'")),
        },
        other => Err(bad(field, other, "is not of type 'boolean'")),
    }
}

fn specs_of(v: &Value) -> Result<BTreeMap<String, String>, ApiError> {
    let Value::Object(m) = v else {
        return Err(bad("group_specs", v, "is not of type 'object'"));
    };
    m.iter()
        .map(|(k, v)| match v {
            Value::String(s) if !k.is_empty() && k.len() <= 255 && s.len() <= 255 => {
                Ok((k.clone(), s.clone()))
            }
            other => Err(bad(
                &format!("group_specs/{k}"),
                other,
                "is not of type 'string'",
            )),
        })
        .collect()
}

pub async fn list(req: &Req) -> Result<Response, ApiError> {
    // Members see public types; admins choose with is_public (absent: public only).
    let want: Option<bool> = match req.query("is_public") {
        _ if !req.caller.is_admin => Some(true),
        None => Some(true),
        Some(v) if v.eq_ignore_ascii_case("none") => None,
        Some(v) => Some(bool_of(&json!(v), "is_public")?),
    };
    let mut all: Vec<GroupType> = req.app.domain.read(|s| s.records::<GroupType>());
    all.retain(|g| want.is_none_or(|p| g.is_public == p));
    let desc = req.query("sort").is_some_and(|s| s.ends_with(":desc"));
    all.sort_by(|a, b| a.name.cmp(&b.name));
    if desc {
        all.reverse();
    }
    let shown: Vec<Value> = all.iter().map(|g| view(req, g)).collect();
    Ok(Json(json!({ "group_types": shown })).into_response())
}

pub async fn show(req: &Req, id: &str) -> Result<Response, ApiError> {
    let g = req.app.domain.view(|tx| group_types::get(tx, id))?;
    if !g.is_public && !req.caller.is_admin {
        return Err(group_types::not_found(id));
    }
    Ok(Json(json!({ "group_type": view(req, &g) })).into_response())
}

pub async fn show_default(req: &Req) -> Result<Response, ApiError> {
    let g = req.app.domain.view(group_types::default)?;
    Ok(Json(json!({ "group_type": view(req, &g) })).into_response())
}

pub async fn create(req: &Req) -> Result<Response, ApiError> {
    req.require_admin(MANAGE)?;
    let body = req.json_object("group_type")?;
    refuse_unknown(&body, &["name", "description", "is_public", "group_specs"])?;
    let name = name_of(
        body.get("name")
            .ok_or_else(|| ApiError::bad_request("'name' is a required property"))?,
    )?;
    let description = body
        .get("description")
        .map(description_of)
        .transpose()?
        .flatten();
    let is_public = body
        .get("is_public")
        .map(|v| bool_of(v, "group_type/is_public"))
        .transpose()?
        .unwrap_or(true);
    let specs = body
        .get("group_specs")
        .map(specs_of)
        .transpose()?
        .unwrap_or_default();
    let g = req
        .app
        .domain
        .write(move |tx| group_types::create(tx, name, description, is_public, specs))
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "group_type": view(req, &g) })),
    )
        .into_response())
}

pub async fn update(req: &Req, id: &str) -> Result<Response, ApiError> {
    req.require_admin(MANAGE)?;
    let body = req.json_object("group_type")?;
    refuse_unknown(&body, &["name", "description", "is_public"])?;
    let name = body
        .get("name")
        .filter(|v| !v.is_null())
        .map(name_of)
        .transpose()?;
    let description = body.get("description").map(description_of).transpose()?;
    let is_public = body
        .get("is_public")
        .map(|v| bool_of(v, "group_type/is_public"))
        .transpose()?;
    if name.is_none() && description.is_none() && is_public.is_none() {
        return Err(ApiError::bad_request(
            "Specify group type name, description or a combination thereof.",
        ));
    }
    let id = id.to_string();
    let g = req
        .app
        .domain
        .write(move |tx| group_types::update(tx, &id, name, description, is_public))
        .await?;
    Ok(Json(json!({ "group_type": view(req, &g) })).into_response())
}

pub async fn delete(req: &Req, id: &str) -> Result<Response, ApiError> {
    req.require_admin(MANAGE)?;
    let id = id.to_string();
    req.app
        .domain
        .write(move |tx| group_types::delete(tx, &id))
        .await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

pub async fn specs_list(req: &Req, id: &str) -> Result<Response, ApiError> {
    req.require_admin(SPECS)?;
    let g = req.app.domain.view(|tx| group_types::get(tx, id))?;
    Ok(Json(json!({ "group_specs": g.group_specs })).into_response())
}

pub async fn specs_create(req: &Req, id: &str) -> Result<Response, ApiError> {
    req.require_admin(SPECS)?;
    let body = req.json_value()?;
    let specs = specs_of(
        body.get("group_specs")
            .ok_or_else(|| ApiError::bad_request("'group_specs' is a required property"))?,
    )?;
    let shown = specs.clone();
    let id = id.to_string();
    req.app
        .domain
        .write(move |tx| group_types::set_specs(tx, &id, specs))
        .await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "group_specs": shown }))).into_response())
}

pub async fn spec_show(req: &Req, id: &str, key: &str) -> Result<Response, ApiError> {
    req.require_admin(SPECS)?;
    let g = req.app.domain.view(|tx| group_types::get(tx, id))?;
    let v = g
        .group_specs
        .get(key)
        .ok_or_else(|| group_types::spec_not_found(id, key))?;
    Ok(Json(json!({ key: v })).into_response())
}

pub async fn spec_update(req: &Req, id: &str, key: &str) -> Result<Response, ApiError> {
    req.require_admin(SPECS)?;
    let body = req.json_value()?;
    let specs = specs_of(&body)?;
    if specs.len() != 1 {
        return Err(ApiError::bad_request(
            "Request body contains too many items.",
        ));
    }
    if !specs.contains_key(key) {
        return Err(ApiError::bad_request("Request body and URI mismatch"));
    }
    let shown = specs.clone();
    let id = id.to_string();
    req.app
        .domain
        .write(move |tx| group_types::set_specs(tx, &id, specs))
        .await?;
    Ok(Json(json!(shown)).into_response())
}

pub async fn spec_delete(req: &Req, id: &str, key: &str) -> Result<Response, ApiError> {
    req.require_admin(SPECS)?;
    let (id, key) = (id.to_string(), key.to_string());
    req.app
        .domain
        .write(move |tx| group_types::delete_spec(tx, &id, &key))
        .await?;
    Ok(StatusCode::ACCEPTED.into_response())
}
