//! What a node leaves on disk: its data directory `0700`, each database `0600` (the policy holds
//! password and secret hashes), whatever the umask, and an existing lax one tightened. What the
//! image ships by default: no demo administrator, no demo users.

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

/// The files `deploy/Dockerfile` copies from the repository into the image's `/etc/scopegate`.
fn image_config_sources() -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dockerfile = std::fs::read_to_string(root.join("deploy/Dockerfile")).expect("Dockerfile");
    dockerfile
        .lines()
        .filter_map(|line| line.strip_prefix("COPY "))
        .filter(|args| !args.starts_with("--from="))
        .filter_map(|args| {
            let parts: Vec<&str> = args.split_whitespace().collect();
            let (target, sources) = parts.split_last()?;
            target
                .starts_with("/etc/scopegate")
                .then(|| sources.iter().map(|s| root.join(s)).collect::<Vec<_>>())
        })
        .flatten()
        .collect()
}

#[actix_web::test]
async fn the_image_ships_no_demo_administrator_or_users() {
    let sources = image_config_sources();
    assert_eq!(sources.len(), 1, "{sources:?}");
    let shipped = &sources[0];
    assert!(shipped.is_file(), "{}", shipped.display());
    let text = std::fs::read_to_string(shipped).expect("read");
    for demo in ["$argon2id$", "ops-secret", "[[users]]", "[[clients]]"] {
        assert!(!text.contains(demo), "the image config has {demo:?}");
    }
    // The image's configuration, as the image runs it (in a scratch directory).
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("scopegate.toml");
    std::fs::copy(shipped, &config).expect("copy");
    let env = [(
        "SCOPEGATE__SERVER__LISTEN".to_owned(),
        "127.0.0.1:0".to_owned(),
    )];
    let settings = scopegate_server::Settings::load(Some(&config), env.into(), dir.path())
        .expect("the image's configuration loads");
    assert_eq!(settings.admin.bootstrap_client_id, None);
    assert_eq!(settings.storage.policy_file, None);
    let app = scopegate_server::Application::build(settings)
        .await
        .expect("build");
    let address = app.address();
    actix_web::rt::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    for (id, secret) in [("ops", "ops-secret"), ("shopping-app", "shopping-secret")] {
        let resp = client
            .post(format!("http://{address}/oauth2/token"))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("token");
        assert_eq!(resp.status(), 401, "{id} is not a client of the image");
    }
}
