//! `POST /volumes/{id}/action`. PLACEHOLDER: only `os-extend`; the attachments issue
//! adds the rest.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::volumes::parse_size;
use super::Req;
use crate::error::ApiError;
use crate::volume::jobs::{self, Job};
use crate::volume::ops::{self, parse_volume_id};

pub async fn dispatch(req: &Req, raw_id: &str) -> Result<Response, ApiError> {
    let id = parse_volume_id(raw_id)?;
    let body = req.json_value()?;
    let obj = body
        .as_object()
        .ok_or_else(|| ApiError::bad_request("Malformed request body"))?;
    let (name, args) = obj
        .iter()
        .next()
        .ok_or_else(|| ApiError::bad_request("Malformed request body"))?;
    match name.as_str() {
        "os-extend" => {
            let new_size = parse_size(args.get("new_size"), "new_size")?;
            let attached_ok = req.mv.at_least(42);
            let world = req.app.world.clone();
            let caller = req.caller.clone();
            req.app
                .store
                .write(move |tx| ops::begin_extend(tx, &world, &caller, id, new_size, attached_ok))
                .await?;
            jobs::spawn(
                &req.app,
                id,
                Job::Extend {
                    new_size_gb: new_size,
                },
            );
            Ok(StatusCode::ACCEPTED.into_response())
        }
        other => Err(ApiError::bad_request(format!(
            "There is no such action: {other}. {}",
            if args == &Value::Null { "" } else { "" }
        ))),
    }
}
