//! `/admin/v1/applications/{id}/icon`: the image the portal's Applications tab shows for an
//! application (PNG or JPEG; initials when there is none).

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use portcullis_domain::ApplicationId;

use super::auth::AdminPrincipal;
use super::error::{ApiError, ErrorBody};
use super::wire::parse_id;
use crate::Admin;

/// The largest icon accepted, in bytes.
pub const MAX_ICON_BYTES: usize = 256 * 1024;

/// An icon's image type: PNG or JPEG only (never SVG, which can carry script). The only way to
/// get one is [`IconType::from_content_type`], and the bytes must then start with its magic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IconType {
    Png,
    Jpeg,
}

impl IconType {
    /// The type named by a `Content-Type` header (parameters ignored); `None` for anything else.
    fn from_content_type(header: &str) -> Option<Self> {
        let essence = header.split(';').next().unwrap_or("").trim();
        if essence.eq_ignore_ascii_case("image/png") {
            Some(Self::Png)
        } else if essence.eq_ignore_ascii_case("image/jpeg") {
            Some(Self::Jpeg)
        } else {
            None
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
        }
    }

    fn magic(self) -> &'static [u8] {
        match self {
            Self::Png => b"\x89PNG\r\n\x1a\n",
            Self::Jpeg => b"\xFF\xD8\xFF",
        }
    }
}

/// Sets or replaces the application's icon, shown on the portal's Applications tab. The body is
/// the image itself: `Content-Type: image/png` or `image/jpeg` (anything else is 415), its bytes
/// starting with that format's signature (400 otherwise), at most 256 KiB (413).
#[utoipa::path(put, path = "/admin/v1/applications/{applicationId}/icon", tag = "applications",
    params(("applicationId" = Uuid, Path)),
    request_body(content = Vec<u8>, content_type = "image/png", description = "a PNG or JPEG image, at most 256 KiB"),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_icon(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let id: ApplicationId = parse_id("applicationId", &path)?;
    let icon_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(IconType::from_content_type)
        .ok_or_else(|| {
            ApiError::UnsupportedMediaType("an icon must be image/png or image/jpeg".into())
        })?;
    let body = match payload.to_bytes_limited(MAX_ICON_BYTES).await {
        Ok(Ok(body)) => body,
        Ok(Err(e)) => {
            return Err(ApiError::BadRequest(format!(
                "could not read the icon: {e}"
            )));
        }
        Err(_) => return Err(ApiError::PayloadTooLarge(MAX_ICON_BYTES)),
    };
    if !body.starts_with(icon_type.magic()) {
        return Err(ApiError::BadRequest(format!(
            "the body is not a {} image",
            icon_type.as_str()
        )));
    }
    state
        .directory
        .set_application_icon(admin.actor, id, icon_type.as_str().into(), body.to_vec())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(delete, path = "/admin/v1/applications/{applicationId}/icon", tag = "applications",
    params(("applicationId" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody, description = "no such application, or it has no icon")),
    security(("bearer" = [])))]
pub async fn delete_icon(
    admin: AdminPrincipal,
    state: web::Data<Admin>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: ApplicationId = parse_id("applicationId", &path)?;
    state
        .directory
        .delete_application_icon(admin.actor, id)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
