//! Migrations.

use super::*;

pub(super) async fn migrate_is_idempotent(d: &dyn Directory) {
    let u = d.create_user(admin(), new_user("alice")).await.unwrap();
    d.migrate().await.unwrap();
    d.migrate().await.unwrap();
    d.ping().await.unwrap();
    assert_eq!(d.get_user(u.id).await.unwrap(), u);
    assert_eq!(d.get_settings().await.unwrap(), Settings::default());
}
