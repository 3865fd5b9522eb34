//! `/applications/{applicationId}/icon`: an application's uploaded icon, for the portal's
//! Applications tab. Only someone signed in and assigned to the (enabled) application sees it;
//! everyone else gets a bare 404, whether or not the application or its icon exists. The stored
//! image is PNG or JPEG (checked at upload), served with its own type, never sniffed, and under a
//! CSP that lets it do nothing but be an image.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_domain::ApplicationId;

use crate::Portal;
use portcullis_auth::PageError;

/// `GET /applications/{applicationId}/icon`: without a session a bare 404 (an image, not a
/// page to sign in from); a failure of ours is the 503 page.
pub async fn icon(
    portal: web::Data<Portal>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let not_found = || {
        Ok(HttpResponse::NotFound()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish())
    };
    let Some(current) = portal.auth.current(&req).await? else {
        return not_found();
    };
    let Ok(id) = path.parse::<uuid::Uuid>().map(ApplicationId::from_uuid) else {
        return not_found();
    };
    let apps = portal
        .auth
        .directory
        .user_applications(current.user.id)
        .await?;
    if !apps.iter().any(|a| a.id == id) {
        return not_found();
    }
    let Some((content_type, body)) = portal.auth.directory.get_application_icon(id).await? else {
        return not_found();
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CONTENT_SECURITY_POLICY, "default-src 'none'"))
        .insert_header((header::CACHE_CONTROL, "private, max-age=300"))
        .body(body))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/applications/{applicationId}/icon", web::get().to(icon));
}
