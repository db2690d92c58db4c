//! [`Policy`]: a versioned, immutable policy snapshot with the indexes the hot paths need, and
//! [`Policy::apply`], the one pure function that applies a [`PolicyEvent`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use regex::RegexSet;

use crate::document::PolicyDocument;
use crate::error::{PolicyError, Problem};
use crate::event::PolicyEvent;
use crate::matching::{PathError, RouteMatch, Routes};
use crate::model::{Api, Client, Role, Scope, User};
use crate::permission::covers;

/// A policy at one version. Cheap to clone (reference counted) and never mutated: a change
/// produces a new `Policy` with the next version. The default is the empty policy, version 0.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Number of events applied since the empty policy; 0 is the empty policy.
    version: u64,
    /// The entities, keyed by their identifiers.
    data: Arc<Data>,
    /// Derived lookups for granting; rebuilt from `data` on every change.
    index: Arc<Index>,
}

#[derive(Debug, Clone, Default)]
struct Data {
    allowlist: Vec<String>,
    roles: BTreeMap<String, Role>,
    scopes: BTreeMap<String, Scope>,
    users: BTreeMap<String, User>,
    clients: BTreeMap<String, Client>,
    apis: BTreeMap<String, Api>,
}

/// The expensive parts (the allowlist's compiled `RegexSet`, the router) are shared with the
/// previous snapshot when the event left their inputs unchanged, so a change to a user or a
/// scope does not recompile regexes or rebuild the radix tree.
#[derive(Debug, Default)]
struct Index {
    /// Whole-string matchers for the allowlist (`^(?:pattern)$`).
    allowlist: Arc<Option<RegexSet>>,
    /// For each role, every scope it permits: listed by role, or covered by a permission.
    permitted_by_role: HashMap<String, BTreeSet<String>>,
    /// Scopes open to every authenticated principal.
    open: BTreeSet<String>,
    /// Every resource of every API in one radix tree, for [`Policy::match_request`].
    routes: Arc<Routes>,
}

impl Policy {
    /// The policy described by `doc`, at `version`. Fails with every problem if `doc` is invalid.
    pub fn from_document(version: u64, doc: PolicyDocument) -> Result<Self, PolicyError> {
        let problems = doc.validate();
        if !problems.is_empty() {
            return Err(PolicyError::Invalid(problems));
        }
        let data = Data {
            allowlist: doc.allowlist,
            roles: doc.roles.into_iter().map(|r| (r.name.clone(), r)).collect(),
            scopes: doc.scopes.into_iter().map(|s| (s.key.clone(), s)).collect(),
            users: doc
                .users
                .into_iter()
                .map(|u| (u.username.clone(), u))
                .collect(),
            clients: doc
                .clients
                .into_iter()
                .map(|c| (c.client_id.clone(), c))
                .collect(),
            apis: doc.apis.into_iter().map(|a| (a.name.clone(), a)).collect(),
        };
        Self::from_data(version, data)
    }

    fn from_data(version: u64, data: Data) -> Result<Self, PolicyError> {
        Self::from_data_after(version, data, None)
    }

    /// Like [`Policy::from_data`], sharing the parts of `previous`'s index whose inputs are
    /// unchanged.
    fn from_data_after(
        version: u64,
        data: Data,
        previous: Option<&Policy>,
    ) -> Result<Self, PolicyError> {
        let index = Index::build(&data, previous.map(|p| (&*p.data, &*p.index)))?;
        Ok(Self {
            version,
            data: Arc::new(data),
            index: Arc::new(index),
        })
    }

    /// Applies `event`, returning the policy at the next version. `self` is unchanged; an event
    /// that would leave the policy inconsistent is refused with every problem it would cause.
    pub fn apply(&self, event: &PolicyEvent) -> Result<Self, PolicyError> {
        let next = self.version + 1;
        let mut data = match event {
            PolicyEvent::ReplaceAll(doc) => return Self::from_document(next, doc.clone()),
            _ => (*self.data).clone(),
        };
        match event {
            PolicyEvent::PutRole(role) => {
                data.roles.insert(role.name.clone(), role.clone());
            }
            PolicyEvent::DeleteRole { name } => {
                remove(&mut data.roles, name, "role")?;
            }
            PolicyEvent::PutScope(scope) => {
                data.scopes.insert(scope.key.clone(), scope.clone());
            }
            PolicyEvent::DeleteScope { key } => {
                remove(&mut data.scopes, key, "scope")?;
            }
            PolicyEvent::PutUser(user) => {
                data.users.insert(user.username.clone(), user.clone());
            }
            PolicyEvent::DeleteUser { username } => {
                remove(&mut data.users, username, "user")?;
            }
            PolicyEvent::SetUserRoles { username, roles } => {
                let user = data.users.get_mut(username).ok_or(PolicyError::NotFound {
                    kind: "user",
                    name: username.clone(),
                })?;
                user.roles = roles.clone();
            }
            PolicyEvent::PutClient(client) => {
                data.clients
                    .insert(client.client_id.clone(), client.clone());
            }
            PolicyEvent::DeleteClient { client_id } => {
                remove(&mut data.clients, client_id, "client")?;
            }
            PolicyEvent::SetAllowlist { patterns } => {
                data.allowlist = patterns.clone();
            }
            PolicyEvent::PutApi(api) => {
                data.apis.insert(api.name.clone(), api.clone());
            }
            PolicyEvent::DeleteApi { name } => {
                remove(&mut data.apis, name, "api")?;
            }
            // Handled above, before copying the data.
            PolicyEvent::ReplaceAll(_) => {}
        }
        // The allowlist of `self` is valid; its regexes need checking only if the event set it.
        let allowlist_changed = matches!(event, PolicyEvent::SetAllowlist { .. });
        let problems = to_document(&data).validate_with(allowlist_changed);
        if !problems.is_empty() {
            return Err(PolicyError::Invalid(problems));
        }
        Self::from_data_after(next, data, Some(self))
    }

    /// The number of events applied since the empty policy.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The whole policy as a document (sorted by key), for export and persistence.
    pub fn to_document(&self) -> PolicyDocument {
        to_document(&self.data)
    }

    /// A user by name.
    pub fn user(&self, username: &str) -> Option<&User> {
        self.data.users.get(username)
    }

    /// A client by id.
    pub fn client(&self, client_id: &str) -> Option<&Client> {
        self.data.clients.get(client_id)
    }

    /// A scope by key.
    pub fn scope(&self, key: &str) -> Option<&Scope> {
        self.data.scopes.get(key)
    }

    /// A role by name.
    pub fn role(&self, name: &str) -> Option<&Role> {
        self.data.roles.get(name)
    }

    /// Every scope, by key.
    pub fn scopes(&self) -> impl Iterator<Item = &Scope> {
        self.data.scopes.values()
    }

    /// Every API, by name.
    pub fn apis(&self) -> impl Iterator<Item = &Api> {
        self.data.apis.values()
    }

    /// Whether `scope` matches an allowlist pattern in full.
    pub fn is_allowlisted(&self, scope: &str) -> bool {
        (*self.index.allowlist)
            .as_ref()
            .is_some_and(|set| set.is_match(scope))
    }

    /// Whether a principal holding `roles` may obtain the defined scope `scope`.
    pub fn is_permitted(&self, roles: &[String], scope: &str) -> bool {
        self.index.open.contains(scope)
            || roles.iter().any(|r| {
                self.index
                    .permitted_by_role
                    .get(r)
                    .is_some_and(|set| set.contains(scope))
            })
    }

    /// Every scope a principal holding `roles` may obtain, in key order.
    pub fn permitted_scopes(&self, roles: &[String]) -> BTreeSet<String> {
        let mut out = self.index.open.clone();
        for role in roles {
            if let Some(set) = self.index.permitted_by_role.get(role) {
                out.extend(set.iter().cloned());
            }
        }
        out
    }

    /// Matches a request; `path` is the raw request target (may contain a query string). Costs
    /// the same with 10 or 50,000 resources (radix tree, never a scan). A path with no canonical
    /// form is an error and must be refused; see [`crate::matching`] for the rules.
    pub fn match_request(&self, method: &str, path: &str) -> Result<RouteMatch, PathError> {
        self.index.routes.lookup(method, path)
    }
}

fn remove<V>(
    map: &mut BTreeMap<String, V>,
    key: &str,
    kind: &'static str,
) -> Result<(), PolicyError> {
    map.remove(key).map(|_| ()).ok_or(PolicyError::NotFound {
        kind,
        name: key.to_owned(),
    })
}

fn to_document(data: &Data) -> PolicyDocument {
    PolicyDocument {
        allowlist: data.allowlist.clone(),
        roles: data.roles.values().cloned().collect(),
        scopes: data.scopes.values().cloned().collect(),
        users: data.users.values().cloned().collect(),
        clients: data.clients.values().cloned().collect(),
        apis: data.apis.values().cloned().collect(),
    }
}

impl Index {
    /// Builds the index of `data`, reusing `previous`'s allowlist and router when the
    /// allowlist or the APIs are equal to the ones they were built from.
    fn build(data: &Data, previous: Option<(&Data, &Index)>) -> Result<Self, PolicyError> {
        let allowlist = match previous {
            Some((old, index)) if old.allowlist == data.allowlist => Arc::clone(&index.allowlist),
            _ if data.allowlist.is_empty() => Arc::new(None),
            _ => {
                let anchored = data.allowlist.iter().map(|p| format!("^(?:{p})$"));
                Arc::new(Some(RegexSet::new(anchored).map_err(|e| {
                    PolicyError::Invalid(vec![Problem::new("allowlist", e.to_string())])
                })?))
            }
        };
        let mut permitted_by_role: HashMap<String, BTreeSet<String>> = HashMap::new();
        let mut open = BTreeSet::new();
        // Scopes by required permission, sorted so every permission below a prefix is one range.
        let mut by_permission: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for scope in data.scopes.values() {
            if scope.is_open() {
                open.insert(scope.key.clone());
            }
            for role in &scope.roles {
                permitted_by_role
                    .entry(role.clone())
                    .or_default()
                    .insert(scope.key.clone());
            }
            if let Some(p) = &scope.permission {
                by_permission
                    .entry(p.as_str())
                    .or_default()
                    .push(&scope.key);
            }
        }
        for role in data.roles.values() {
            for held in &role.permissions {
                let below = by_permission
                    .range(held.as_str()..)
                    .take_while(|(required, _)| required.starts_with(held.as_str()) || held == "/")
                    .filter(|(required, _)| covers(held, required));
                for (_, keys) in below {
                    let set = permitted_by_role.entry(role.name.clone()).or_default();
                    set.extend(keys.iter().map(|k| (*k).to_owned()));
                }
            }
        }
        let routes = match previous {
            Some((old, index)) if old.apis == data.apis => Arc::clone(&index.routes),
            _ => Arc::new(Routes::build(data.apis.values()).map_err(PolicyError::Invalid)?),
        };
        Ok(Self {
            allowlist,
            permitted_by_role,
            open,
            routes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Scope;

    fn policy() -> Policy {
        let doc: PolicyDocument = serde_json::from_str(
            r#"{"allowlist": ["^device_.*"],
                "roles": [{"name": "agent"}],
                "scopes": [{"key": "order_add", "roles": ["agent"]}],
                "apis": [{"name": "Shop", "context": "/shop", "version": "1.0.0",
                          "resources": [{"path": "/orders", "scopes": ["order_add"]}]}]}"#,
        )
        .expect("document");
        Policy::from_document(1, doc).expect("valid")
    }

    #[test]
    fn unchanged_allowlist_and_apis_are_shared_not_rebuilt() {
        let before = policy();
        let after = before
            .apply(&PolicyEvent::PutScope(Scope {
                key: "order_view".into(),
                name: String::new(),
                description: String::new(),
                roles: vec!["agent".into()],
                permission: None,
            }))
            .expect("applies");
        assert!(Arc::ptr_eq(&before.index.allowlist, &after.index.allowlist));
        assert!(Arc::ptr_eq(&before.index.routes, &after.index.routes));
        assert!(after.is_allowlisted("device_x"));
        assert!(after.match_request("POST", "/shop/1.0.0/orders").is_ok());
        assert!(after.is_permitted(&["agent".into()], "order_view"));

        let changed = after
            .apply(&PolicyEvent::SetAllowlist {
                patterns: vec!["^sensor_.*".into()],
            })
            .expect("applies");
        assert!(!Arc::ptr_eq(
            &after.index.allowlist,
            &changed.index.allowlist
        ));
        assert!(changed.is_allowlisted("sensor_1") && !changed.is_allowlisted("device_x"));
        assert!(Arc::ptr_eq(&after.index.routes, &changed.index.routes));
    }

    #[test]
    fn a_bad_allowlist_is_still_refused_with_its_location() {
        let err = policy()
            .apply(&PolicyEvent::SetAllowlist {
                patterns: vec!["(".into()],
            })
            .expect_err("invalid regex")
            .to_string();
        assert!(err.contains("allowlist[0]"), "{err}");
    }
}
