//! Architecture invariant: among workspace crates the edge library depends on core and jwt
//! only, so a service embedding it never pulls in the server, its actors or their storage.

#[test]
fn depends_on_core_and_jwt_only_among_workspace_crates() {
    let manifest = include_str!("../../Cargo.toml");
    let manifest: toml::Table = toml::from_str(manifest).unwrap();
    let mut workspace_deps: Vec<&str> = ["dependencies", "build-dependencies"]
        .iter()
        .filter_map(|section| manifest.get(*section).and_then(|t| t.as_table()))
        .flat_map(|table| table.keys())
        .map(String::as_str)
        .filter(|name| name.starts_with("scopegate-"))
        .collect();
    workspace_deps.sort_unstable();
    assert_eq!(workspace_deps, ["scopegate-core", "scopegate-jwt"]);
}
