//! Compiling a policy's APIs into one [`matchit`] radix tree ([`Routes::build`]).
//!
//! Every route is canonical (the policy's literals go through the request canonicalization) and
//! names its parameters by position (`{p2}` is always the third segment), so equal shapes give
//! equal routes and resources of different APIs share parameter nodes instead of conflicting.

use std::collections::HashMap;

use super::{Compiled, Routes, canonical, push_segment};
use crate::error::Problem;
use crate::model::Api;

/// One segment of a compiled template.
enum Segment {
    /// Canonical literal text.
    Literal(String),
    /// A `{param}`: any one segment.
    Param,
    /// The trailing `*`: any rest, including none.
    Rest,
}

// === impl Routes ===

impl Routes {
    /// Compiles the routes of `apis`, or says every route that cannot be compiled and why.
    pub(crate) fn build<'a>(apis: impl IntoIterator<Item = &'a Api>) -> Result<Self, Vec<Problem>> {
        let mut builder = Builder::default();
        for api in apis {
            builder.api(api);
        }
        builder.finish()
    }
}

/// Accumulates routes and problems while compiling.
#[derive(Default)]
struct Builder {
    routes: Routes,
    /// Every route inserted → its resource, to name the other side of a conflict.
    owners: HashMap<String, usize>,
    /// Route prefix of each trailing-`*` resource (`/shopping/1.0.0/files` for `/files/*`),
    /// compiled after every explicit route; see [`Builder::wildcard`].
    wildcards: Vec<(String, usize)>,
    /// Segments in the longest route so far: a `*` never needs to be compiled deeper.
    deepest: usize,
    problems: Vec<Problem>,
}

impl Builder {
    fn api(&mut self, api: &Api) {
        let at = format!("apis {:?}", api.name);
        let index = self.routes.apis.len();
        self.routes
            .apis
            .push((api.name.clone(), api.scopes.clone()));
        let mut prefixes = vec![match &api.version {
            Some(version) => format!("{}/{version}", api.context),
            None => api.context.clone(),
        }];
        if api.default_version && api.version.is_some() {
            prefixes.push(api.context.clone());
        }
        let mut canonical_prefixes = Vec::new();
        for prefix in prefixes {
            match canonical(&prefix) {
                Ok(c) if c.is_empty() => self.problem(&at, format!("prefix {prefix:?} is empty")),
                Ok(c) => {
                    if let Some(&other) = self.routes.prefixes.get(&c) {
                        let other = self.routes.apis.get(other).map_or("", |(n, _)| n.as_str());
                        let message = format!("prefix {prefix:?} is also API {other:?}'s ({c:?})");
                        self.problem(&at, message);
                    }
                    self.routes.prefixes.insert(c.clone(), index);
                    canonical_prefixes.push(c);
                }
                Err(e) => self.problem(&at, format!("prefix {prefix:?} can never match: {e}")),
            }
        }
        for resource in &api.resources {
            let at = format!("{at}.resources {:?}", resource.path);
            let Some(segments) = self.template(&at, &resource.path) else {
                continue;
            };
            let r = self.routes.resources.len();
            self.routes.resources.push(Compiled {
                api: index,
                template: resource.path.clone(),
                root: resource.scopes.clone(),
                methods: resource.methods.clone(),
                mode: resource.mode,
            });
            for prefix in &canonical_prefixes {
                match render(prefix, &segments) {
                    (route, false) => self.insert(&at, route, r),
                    (route, true) => self.wildcards.push((route, r)),
                }
            }
        }
    }

    /// The template's segments with literals canonicalized, or `None` after reporting why not.
    fn template(&mut self, at: &str, template: &str) -> Option<Vec<Segment>> {
        let mut segments = Vec::new();
        let mut buf = Vec::new();
        for text in template.split('/').filter(|s| !s.is_empty()) {
            segments.push(if text == "*" {
                Segment::Rest
            } else if text.starts_with('{') && text.ends_with('}') {
                Segment::Param
            } else {
                let mut literal = String::new();
                if let Err(e) = push_segment(text, &mut buf, &mut literal) {
                    self.problem(at, format!("segment {text:?} can never match: {e}"));
                    return None;
                }
                Segment::Literal(literal)
            });
        }
        Some(segments)
    }

    /// Inserts a route a resource declares; the same route declared twice is a conflict.
    fn insert(&mut self, at: &str, route: String, resource: usize) {
        match self.routes.router.insert(route.clone(), resource) {
            Ok(()) => {
                self.deepest = self.deepest.max(route.matches('/').count());
                self.owners.insert(route, resource);
            }
            Err(matchit::InsertError::Conflict { with }) => self.conflict(at, &route, &with),
            Err(e) => self.problem(at, format!("route {route:?} cannot be compiled: {e}")),
        }
    }

    /// Inserts a route a `*` implies, unless a more specific resource already has it.
    fn imply(&mut self, at: &str, route: String, resource: usize) {
        if !self.owners.contains_key(&route) {
            self.insert(at, route, resource);
        }
    }

    /// Compiles the trailing-`*` resource under route `prefix`: the empty rest (unless an
    /// explicit resource has it), then `prefix/{*rest}`. matchit refuses a catch-all beside a
    /// parameter, so where one is in the way the `*` is compiled one segment deeper, as a
    /// parameter (unless a resource already has it) and a catch-all below it, and so on: the
    /// more specific resource keeps what it matches and the `*` gets the rest. Deeper prefixes
    /// are compiled first so that no catch-all is ever inserted before a parameter beside it.
    fn wildcard(&mut self, prefix: String, resource: usize) {
        let at = self.location(resource);
        self.imply(&at, prefix.clone(), resource);
        let mut base = prefix;
        for depth in 0..=self.deepest {
            let route = format!("{base}/{{*rest}}");
            if self.owners.contains_key(&route) {
                // Below the `*` itself, an equal route belongs to a more specific `*`.
                if depth == 0 {
                    self.conflict(&at, &route, &route);
                }
                return;
            }
            match self.routes.router.insert(route.clone(), resource) {
                Ok(()) => {
                    self.owners.insert(route, resource);
                    return;
                }
                Err(matchit::InsertError::Conflict { .. }) => {
                    base = format!("{base}/{{p{}}}", base.matches('/').count());
                    self.imply(&at, base.clone(), resource);
                }
                Err(e) => return self.problem(&at, format!("{route:?} cannot be compiled: {e}")),
            }
        }
        self.problem(&at, "the '*' cannot be compiled below the other resources");
    }

    fn conflict(&mut self, at: &str, route: &str, with: &str) {
        let other = match self.owners.get(with) {
            Some(&o) => format!("{} (route {with:?})", self.describe(o)),
            None => format!("route {with:?}"),
        };
        let message = format!("route {route:?} overlaps {other}: both match the same paths");
        self.problem(at, message);
    }

    /// The API name and template of a compiled resource.
    fn names(&self, resource: usize) -> (&str, &str) {
        let Some(compiled) = self.routes.resources.get(resource) else {
            return ("", "");
        };
        let api = self.routes.apis.get(compiled.api);
        (api.map_or("", |(n, _)| n), &compiled.template)
    }

    fn describe(&self, resource: usize) -> String {
        let (api, template) = self.names(resource);
        format!("API {api:?} resource {template:?}")
    }

    fn location(&self, resource: usize) -> String {
        let (api, template) = self.names(resource);
        format!("apis {api:?}.resources {template:?}")
    }

    fn finish(mut self) -> Result<Routes, Vec<Problem>> {
        let mut wildcards = std::mem::take(&mut self.wildcards);
        wildcards.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.matches('/').count()));
        for (prefix, resource) in wildcards {
            self.wildcard(prefix, resource);
        }
        if self.problems.is_empty() {
            Ok(self.routes)
        } else {
            Err(self.problems)
        }
    }

    fn problem(&mut self, at: &str, message: impl Into<String>) {
        self.problems.push(Problem::new(at, message));
    }
}

/// The matchit route for `segments` under `prefix`, and whether it ends with `*`, in which case
/// the route is the prefix before it. Parameters are named by position, so that equal shapes
/// give equal routes and a parameter node is shared whichever resources pass through it.
fn render(prefix: &str, segments: &[Segment]) -> (String, bool) {
    let mut route = prefix.to_owned();
    for segment in segments {
        match segment {
            Segment::Literal(text) => {
                route.push('/');
                route.push_str(&text.replace('{', "{{").replace('}', "}}"));
            }
            Segment::Param => {
                let position = route.matches('/').count();
                route.push_str(&format!("/{{p{position}}}"));
            }
            Segment::Rest => return (route, true),
        }
    }
    (route, false)
}
