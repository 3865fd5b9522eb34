//! Application icons: uploaded through the admin API (PNG or JPEG only, the bytes matching the
//! type, at most 256 KiB), shown on the portal's Applications tab instead of the initials, and
//! served only to people assigned to the application, with headers that keep it an image.

use crate::helpers::TestApp;
use crate::oidc_support::{assign, create_app, mfa_off, person, registration, signed_in};

crate::on_both_backends!(icons_upload_show_serve_and_remove);

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

/// A body of `len` bytes starting with `magic`.
fn image(magic: &[u8], len: usize) -> Vec<u8> {
    let mut body = magic.to_vec();
    body.extend((0..len.saturating_sub(magic.len())).map(|i| (i % 251) as u8));
    body
}

async fn upload(app: &TestApp, id: &str, content_type: &str, body: Vec<u8>) -> u16 {
    app.send(
        app.client
            .put(app.url(&format!("applications/{id}/icon")))
            .bearer_auth(&app.token)
            .header("Content-Type", content_type)
            .body(body),
    )
    .await
    .status
}

async fn icons_upload_show_serve_and_remove(app: TestApp) {
    mfa_off(&app).await;
    let ada = person(&app, "ada").await;
    person(&app, "bob").await;
    let wiki = create_app(&app, "Wiki", registration(serde_json::json!({}))).await;
    assign(&app, &wiki, "USER", &ada).await;
    let icon_path = format!("/applications/{}/icon", wiki.id);
    let img = format!(r#"<img class="icon" src="{icon_path}" alt="">"#);
    let initials = r#"<span class="icon" aria-hidden="true">W</span>"#;

    let ada_browser = signed_in(&app, "ada").await;
    let portal = ada_browser.get("/portal?tab=applications").await;
    assert!(portal.body.contains(initials), "{}", portal.body);
    assert!(!portal.body.contains(&img), "{}", portal.body);
    assert_eq!(ada_browser.get(&icon_path).await.status, 404);

    // Refused: another type (SVG above all), bytes that are not the type named, too large, and
    // an unknown application.
    let png = image(PNG_MAGIC, 20 * 1024);
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".to_vec();
    assert_eq!(upload(&app, &wiki.id, "image/svg+xml", svg).await, 415);
    assert_eq!(upload(&app, &wiki.id, "image/gif", png.clone()).await, 415);
    assert_eq!(upload(&app, &wiki.id, "image/jpeg", png.clone()).await, 400);
    assert_eq!(
        upload(&app, &wiki.id, "image/png", image(b"\xFF\xD8\xFF", 100)).await,
        400
    );
    assert_eq!(
        upload(
            &app,
            &wiki.id,
            "image/png",
            image(PNG_MAGIC, 256 * 1024 + 1)
        )
        .await,
        413
    );
    let nothing = uuid::Uuid::new_v4().to_string();
    assert_eq!(upload(&app, &nothing, "image/png", png.clone()).await, 404);
    assert_eq!(ada_browser.get(&icon_path).await.status, 404);

    // Accepted (larger than the admin API's JSON body limit, within the icon's own).
    assert_eq!(upload(&app, &wiki.id, "image/png", png.clone()).await, 204);
    let portal = ada_browser.get("/portal?tab=applications").await;
    assert!(portal.body.contains(&img), "{}", portal.body);
    assert!(!portal.body.contains(initials), "{}", portal.body);

    let resp = ada_browser
        .client
        .get(format!("{}{icon_path}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(header("content-type").as_deref(), Some("image/png"));
    assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
    assert_eq!(
        header("content-security-policy").as_deref(),
        Some("default-src 'none'")
    );
    assert_eq!(
        header("cache-control").as_deref(),
        Some("private, max-age=300")
    );
    assert_eq!(resp.bytes().await.unwrap().to_vec(), png);

    // Replaced by a JPEG: served with its own type.
    let jpeg = image(b"\xFF\xD8\xFF\xE0", 64);
    assert_eq!(
        upload(&app, &wiki.id, "image/jpeg", jpeg.clone()).await,
        204
    );
    let resp = ada_browser
        .client
        .get(format!("{}{icon_path}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap(),
        "image/jpeg"
    );
    assert_eq!(resp.bytes().await.unwrap().to_vec(), jpeg);

    // Someone not assigned, or not signed in, gets nothing.
    let bob = signed_in(&app, "bob").await;
    let r = bob.get(&icon_path).await;
    assert_eq!((r.status, r.body.as_str()), (404, ""));
    let anonymous = portcullis_testkit::Browser::new(&app.base);
    assert_eq!(anonymous.get(&icon_path).await.status, 404);

    // Removed: the initials again, and a second removal is 404.
    let d = app
        .delete(&format!("applications/{}/icon", wiki.id), None)
        .await;
    assert_eq!(d.status, 204, "{d:?}");
    let d = app
        .delete(&format!("applications/{}/icon", wiki.id), None)
        .await;
    assert_eq!(d.status, 404, "{d:?}");
    let portal = ada_browser.get("/portal?tab=applications").await;
    assert!(portal.body.contains(initials), "{}", portal.body);
    assert!(!portal.body.contains(&img), "{}", portal.body);
    assert_eq!(ada_browser.get(&icon_path).await.status, 404);

    // Audited with the type and size, never the image.
    let audit = app.get("audit-events?action=application.icon.set").await;
    assert_eq!(audit.status, 200, "{audit:?}");
    let events = audit.body["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{audit:?}");
    assert!(
        events
            .iter()
            .all(|e| e.to_string().len() < 1024 && e["details"]["size"].is_number()),
        "{audit:?}"
    );
}
