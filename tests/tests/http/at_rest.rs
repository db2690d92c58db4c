//! What a node leaves on disk: its data directory `0700`, each database `0600` (the policy holds
//! password and secret hashes), whatever the umask, and an existing lax one tightened.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use scopegate_tests::spawn_app;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[actix_web::test]
async fn the_data_directory_and_its_databases_are_private() {
    let app = spawn_app().await;
    let data = app.dir.path().join("data");
    assert_eq!(mode(&data), 0o700, "{}", data.display());
    for file in ["policy.redb", "refresh.redb", "revocations.redb"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
}

#[actix_web::test]
async fn a_lax_data_directory_is_tightened_at_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    // An empty file is a new database to redb.
    let policy = data.join("policy.redb");
    std::fs::write(&policy, b"").expect("touch");
    std::fs::set_permissions(&policy, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let config = dir.path().join("scopegate.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nworkers = 1\n[storage]\npolicy_file = {:?}\n",
            scopegate_tests::quickstart_policy().display().to_string()
        ),
    )
    .expect("config");
    let settings = scopegate_server::Settings::load(Some(&config), Default::default(), dir.path())
        .expect("settings");
    let _app = scopegate_server::Application::build(settings)
        .await
        .expect("build");
    assert_eq!((mode(&data), mode(&policy)), (0o700, 0o600));
}
