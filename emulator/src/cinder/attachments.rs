//! Attachment handlers (3.27+). PLACEHOLDER: the attachments issue fills these in.

use axum::response::Response;

use super::Req;
use crate::error::ApiError;

fn pending() -> ApiError {
    ApiError::not_found("The resource could not be found.")
}

pub async fn list(_req: &Req, _detail: bool) -> Result<Response, ApiError> {
    Err(pending())
}
pub async fn create(_req: &Req) -> Result<Response, ApiError> {
    Err(pending())
}
pub async fn show(_req: &Req, _id: &str) -> Result<Response, ApiError> {
    Err(pending())
}
pub async fn update(_req: &Req, _id: &str) -> Result<Response, ApiError> {
    Err(pending())
}
pub async fn delete(_req: &Req, _id: &str) -> Result<Response, ApiError> {
    Err(pending())
}
pub async fn action(_req: &Req, _id: &str) -> Result<Response, ApiError> {
    Err(pending())
}
