//! [`ScopeRules`]: which scopes each route and verb of a service needs, declared in code or
//! taken from the API definition the scopegate server uses.

use std::collections::BTreeSet;
use std::path::Path;

use scopegate_core::{Api, Method, Policy, PolicyDocument, PolicyError, Problem, Resource, Scope};

use crate::error::EdgeError;
use crate::routes::{ROOT_CONTEXT, RouteTable};

/// The scope rules of one service, before compilation into a [`RouteTable`].
///
/// The rules *are* an API definition (the [`Api`] of scopegate's policy), so they are matched
/// by the same radix router, with the same semantics, as on the server: `{param}` segments, a
/// trailing `/*` that also matches nothing, literal segments before parameters, `HEAD` falling
/// back to `GET`'s list, a resource's root list for verbs without their own, any-of/all-of
/// modes and the API-global scopes.
///
/// ```
/// use scopegate_core::Method;
/// use scopegate_edge::ScopeRules;
///
/// let table = ScopeRules::new()
///     .route(Method::Get, "/orders", ["order_view"])
///     .route(Method::Post, "/orders", ["order_add"])
///     .route(Method::Get, "/orders/{id}", ["order_view"])
///     .compile()?;
/// # Ok::<(), scopegate_edge::EdgeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeRules {
    /// The rules as one API definition; its context and version only matter for
    /// [`Mount::ApiContext`].
    api: Api,
    /// Where the resources sit in the service's own path space.
    mount: Mount,
    /// What a valid token gets on a (method, path) no rule covers.
    unknown_route: UnknownRoute,
}

/// Where an API's resources sit in the paths the service itself receives.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Mount {
    /// At the service root: the service receives `/orders` for the API's `/orders` (a gateway
    /// stripped `/shopping/1.0.0`). The default.
    #[default]
    Root,
    /// Under a prefix of the service's own: `Prefix("/api".into())` expects `/api/orders`.
    Prefix(String),
    /// At the API's context and version, as the gateway and the server see them:
    /// `/shopping/1.0.0/orders`, and `/shopping/orders` when it is the default version.
    ApiContext,
}

/// The answer for a valid token on a (method, path) that no rule covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownRoute {
    /// 403 `access_denied`: only declared routes are reachable (the safe default, and the
    /// server's `unmatched_path = "deny"`).
    #[default]
    Deny,
    /// Any valid token passes: the rules protect the routes they name and the rest of the
    /// service merely needs authentication.
    Allow,
}

// === impl ScopeRules ===

impl ScopeRules {
    /// No rules yet, mounted at the root, unknown routes denied. The API is named `service`
    /// (the name appears as `api` in denial bodies; see [`ScopeRules::named`]).
    pub fn new() -> ScopeRules {
        ScopeRules {
            api: Api {
                name: "service".to_owned(),
                context: String::new(),
                version: None,
                default_version: false,
                scopes: Vec::new(),
                resources: Vec::new(),
            },
            mount: Mount::Root,
            unknown_route: UnknownRoute::Deny,
        }
    }

    /// The rules of a registered API: its resources, per-verb lists, modes and global scopes,
    /// mounted at the service root.
    pub fn from_api(api: &Api) -> ScopeRules {
        ScopeRules {
            api: api.clone(),
            ..ScopeRules::new()
        }
    }

    /// The API named `api_name` of a policy document, which must be valid as a whole (the
    /// server refuses an invalid one too).
    pub fn from_document(doc: &PolicyDocument, api_name: &str) -> Result<ScopeRules, EdgeError> {
        match doc.apis.iter().find(|api| api.name == api_name) {
            Some(api) => Ok(ScopeRules::from_api(api)),
            None => Err(EdgeError::UnknownApi {
                name: api_name.to_owned(),
                available: doc.apis.iter().map(|api| api.name.clone()).collect(),
            }),
        }
    }

    /// The API named `api_name` of the TOML policy file the server loads (for example
    /// `examples/quickstart/policy.toml` and `ShoppingCartAPI`). The whole file is validated.
    pub fn from_policy_file(
        path: impl AsRef<Path>,
        api_name: &str,
    ) -> Result<ScopeRules, EdgeError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| EdgeError::ReadPolicy {
            path: path.to_owned(),
            source,
        })?;
        let doc: PolicyDocument = toml::from_str(&text).map_err(|e| EdgeError::ParsePolicy {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let problems = doc.validate();
        if !problems.is_empty() {
            return Err(EdgeError::InvalidPolicy {
                path: path.to_owned(),
                problems,
            });
        }
        ScopeRules::from_document(&doc, api_name)
    }

    /// Renames the rules' API (reported as `api` in denial bodies).
    pub fn named(mut self, name: impl Into<String>) -> ScopeRules {
        self.api.name = name.into();
        self
    }

    /// `method` on `template` needs `scopes` (any one of them, unless the resource was added
    /// in all-of mode with [`ScopeRules::resource`]). Declaring the same pair again replaces
    /// the list. An empty list means a valid token suffices.
    pub fn route<S: Into<String>>(
        mut self,
        method: Method,
        template: &str,
        scopes: impl IntoIterator<Item = S>,
    ) -> ScopeRules {
        let scopes = scopes.into_iter().map(Into::into).collect();
        self.resource_mut(template).methods.insert(method, scopes);
        self
    }

    /// Every verb on `template` without its own list needs `scopes` (the resource's root list).
    pub fn any_method<S: Into<String>>(
        mut self,
        template: &str,
        scopes: impl IntoIterator<Item = S>,
    ) -> ScopeRules {
        self.resource_mut(template).scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a whole resource (root list, per-verb lists, mode), replacing one with the same
    /// template.
    pub fn resource(mut self, resource: Resource) -> ScopeRules {
        let slot = self.resource_mut(&resource.path.clone());
        *slot = resource;
        self
    }

    /// Where the resources sit in the service's path space (default [`Mount::Root`]).
    pub fn mount(mut self, mount: Mount) -> ScopeRules {
        self.mount = mount;
        self
    }

    /// What a valid token gets on a route no rule covers (default [`UnknownRoute::Deny`]).
    pub fn on_unknown_route(mut self, unknown_route: UnknownRoute) -> ScopeRules {
        self.unknown_route = unknown_route;
        self
    }

    /// The rules as an API definition.
    pub fn api(&self) -> &Api {
        &self.api
    }

    /// Compiles the rules into a radix tree. Fails, naming every offending template, on
    /// malformed templates, undefined shapes (the same route twice, `/a/{x}` beside `/a/*`),
    /// invalid scope names, or [`Mount::ApiContext`] for rules without a context.
    pub fn compile(&self) -> Result<RouteTable, EdgeError> {
        let (context, version, default_version) = match &self.mount {
            Mount::Root => (ROOT_CONTEXT.to_owned(), None, false),
            Mount::Prefix(prefix) if prefix.trim_end_matches('/').is_empty() => {
                (ROOT_CONTEXT.to_owned(), None, false)
            }
            Mount::Prefix(prefix) => (prefix.trim_end_matches('/').to_owned(), None, false),
            Mount::ApiContext if self.api.context.is_empty() => {
                return Err(EdgeError::InvalidRules(vec![Problem::new(
                    "mount",
                    "Mount::ApiContext needs rules from an API definition with a context; \
                     rules declared in code are mounted at the root or under a prefix",
                )]));
            }
            Mount::ApiContext => (
                self.api.context.clone(),
                self.api.version.clone(),
                self.api.default_version,
            ),
        };
        let root = context == ROOT_CONTEXT;
        let api = Api {
            context,
            version,
            default_version,
            ..self.api.clone()
        };
        let doc = PolicyDocument {
            scopes: referenced_scopes(&api),
            apis: vec![api],
            ..PolicyDocument::default()
        };
        let policy = Policy::from_document(0, doc).map_err(|e| match e {
            PolicyError::Invalid(problems) => EdgeError::InvalidRules(problems),
            other => EdgeError::InvalidRules(vec![Problem::new("rules", other.to_string())]),
        })?;
        Ok(RouteTable::new(policy, root, self.unknown_route))
    }

    fn resource_mut(&mut self, template: &str) -> &mut Resource {
        let resources = &mut self.api.resources;
        let index = match resources.iter().position(|r| r.path == template) {
            Some(index) => index,
            None => {
                resources.push(Resource {
                    path: template.to_owned(),
                    scopes: Vec::new(),
                    methods: Default::default(),
                    mode: Default::default(),
                });
                resources.len() - 1
            }
        };
        &mut resources[index]
    }
}

impl Default for ScopeRules {
    fn default() -> Self {
        ScopeRules::new()
    }
}

/// Every scope `api` names, as an open scope: the one-API document the rules compile from
/// must define what it references, and who may *obtain* a scope is the server's business.
fn referenced_scopes(api: &Api) -> Vec<Scope> {
    let mut keys = BTreeSet::new();
    keys.extend(api.scopes.iter());
    for resource in &api.resources {
        keys.extend(resource.scopes.iter());
        keys.extend(resource.methods.values().flatten());
    }
    keys.into_iter()
        .map(|key| Scope {
            key: key.clone(),
            name: String::new(),
            description: String::new(),
            roles: Vec::new(),
            permission: None,
        })
        .collect()
}

#[cfg(test)]
mod tests;
