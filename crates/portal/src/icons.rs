//! `/applications/{applicationId}/icon`: an application's uploaded icon, for the portal's
//! Applications tab. Only someone signed in and assigned to the (enabled) application sees it;
//! everyone else gets a bare 404, whether or not the application or its icon exists. The stored
//! image is PNG or JPEG (checked at upload), served with its own type, never sniffed, and under a
//! CSP that lets it do nothing but be an image.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_domain::ApplicationId;

use crate::Portal;
use crate::unavailable;

/// `GET /applications/{applicationId}/icon`.
pub async fn icon(
    portal: web::Data<Portal>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let not_found = || {
        HttpResponse::NotFound()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish()
    };
    let current = match portal.auth.current(&req).await {
        Ok(Some(c)) => c,
        Ok(None) => return not_found(),
        Err(_) => return unavailable(),
    };
    let Ok(id) = path.parse::<uuid::Uuid>().map(ApplicationId::from_uuid) else {
        return not_found();
    };
    let apps = match portal
        .auth
        .directory
        .user_applications(current.user.id)
        .await
    {
        Ok(a) => a,
        Err(_) => return unavailable(),
    };
    if !apps.iter().any(|a| a.id == id) {
        return not_found();
    }
    match portal.auth.directory.get_application_icon(id).await {
        Ok(Some((content_type, body))) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, content_type))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .insert_header((header::CONTENT_SECURITY_POLICY, "default-src 'none'"))
            .insert_header((header::CACHE_CONTROL, "private, max-age=300"))
            .body(body),
        Ok(None) => not_found(),
        Err(_) => unavailable(),
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/applications/{applicationId}/icon", web::get().to(icon));
}
