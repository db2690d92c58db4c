//! `RevocationSet`: the revoked `jti`s and subjects, as decisions see them.

use scopegate_jwt::AccessTokenClaims;

use super::{RevocationEvent, Revocations, SubjectRevocation};

/// The revocation snapshot: revoked `jti`s with their tokens' `exp`, and revoked subjects.
///
/// Persistent (structurally shared) maps: the actor inserts into its own copy in O(log n) and
/// publishes a clone, which is O(1), so a revocation never copies the whole list and readers
/// never lock.
#[derive(Debug, Clone, Default)]
pub(crate) struct RevocationSet {
    /// `jti` → the token's `exp`.
    tokens: imbl::HashMap<String, u64>,
    /// `sub` → which of the subject's tokens are refused, and until when.
    subjects: imbl::HashMap<String, SubjectRevocation>,
}

// === impl RevocationSet ===

impl RevocationSet {
    /// Whether a token with these (verified) claims is revoked: by its `jti`, by its grant
    /// family (`sid`), or by its `sub` with `iat` at or before the subject's "revoked before".
    ///
    /// A family is revoked through the same map as a `jti` (its entry lives until the family's
    /// last access token expires): family ids and `jti`s are both 128 random bits from the
    /// issuer, so they share one key space without colliding.
    pub(crate) fn refuses(&self, claims: &AccessTokenClaims) -> bool {
        self.tokens.contains_key(&claims.jti)
            || claims
                .sid
                .as_ref()
                .is_some_and(|family| self.tokens.contains_key(family))
            || self
                .subjects
                .get(&claims.sub)
                .is_some_and(|revocation| revocation.refuses(claims.iat))
    }

    /// Adds a token revocation, keeping the later `exp`; whether anything changed.
    pub(crate) fn insert_token(&mut self, jti: &str, exp: u64) -> bool {
        match self.tokens.get(jti) {
            Some(&old) if old >= exp => false,
            _ => {
                self.tokens.insert(jti.to_owned(), exp);
                true
            }
        }
    }

    /// Adds a subject revocation, merged with any earlier one; whether anything changed.
    pub(crate) fn insert_subject(&mut self, subject: &str, revocation: SubjectRevocation) -> bool {
        let merged = match self.subjects.get(subject) {
            Some(&old) => old.merge(revocation),
            None => revocation,
        };
        if self.subjects.get(subject) == Some(&merged) {
            return false;
        }
        self.subjects.insert(subject.to_owned(), merged);
        true
    }

    /// Applies an event from another node; whether anything changed.
    pub(crate) fn apply(&mut self, event: &RevocationEvent) -> bool {
        match event {
            RevocationEvent::Token { jti, exp } => self.insert_token(jti, *exp),
            RevocationEvent::Subject {
                subject,
                before,
                keep_until,
            } => self.insert_subject(
                subject,
                SubjectRevocation {
                    before: *before,
                    keep_until: *keep_until,
                },
            ),
        }
    }

    /// The union with what a store holds; how many entries were added or extended.
    pub(crate) fn merge(&mut self, loaded: Revocations) -> usize {
        let mut changed = 0;
        for (jti, exp) in &loaded.tokens {
            changed += usize::from(self.insert_token(jti, *exp));
        }
        for (subject, revocation) in &loaded.subjects {
            changed += usize::from(self.insert_subject(subject, *revocation));
        }
        changed
    }

    /// Forgets token revocations with `exp < cutoff` and subject revocations with
    /// `keep_until < cutoff`; whether anything went.
    pub(crate) fn retain(&mut self, cutoff: u64) -> bool {
        let before = self.len();
        self.tokens.retain(|_, exp| *exp >= cutoff);
        self.subjects
            .retain(|_, revocation| revocation.keep_until >= cutoff);
        self.len() != before
    }

    /// Entries of both kinds.
    pub(crate) fn len(&self) -> usize {
        self.tokens.len() + self.subjects.len()
    }

    /// Subject revocations.
    pub(crate) fn subjects_len(&self) -> usize {
        self.subjects.len()
    }
}

impl From<Revocations> for RevocationSet {
    fn from(loaded: Revocations) -> Self {
        let mut set = Self::default();
        set.merge(loaded);
        set
    }
}

#[cfg(test)]
mod tests {
    use scopegate_jwt::Audience;

    use super::*;

    fn claims(sub: &str, jti: &str, iat: u64) -> AccessTokenClaims {
        AccessTokenClaims {
            iss: "i".into(),
            sub: sub.into(),
            aud: Audience::from("a"),
            exp: iat + 100,
            iat,
            nbf: iat,
            jti: jti.into(),
            client_id: "c".into(),
            scope: String::new(),
            username: None,
            sid: None,
        }
    }

    fn subject(before: u64, keep_until: u64) -> SubjectRevocation {
        SubjectRevocation { before, keep_until }
    }

    #[test]
    fn a_subject_revocation_refuses_tokens_issued_until_its_time_only() {
        let mut set = RevocationSet::default();
        assert!(set.insert_subject("alex", subject(100, 500)));
        assert!(set.refuses(&claims("alex", "j1", 99)));
        assert!(set.refuses(&claims("alex", "j2", 100)), "iat == before");
        assert!(!set.refuses(&claims("alex", "j3", 101)));
        assert!(!set.refuses(&claims("paul", "j4", 50)));
        assert!(set.insert_token("j3", 200));
        assert!(set.refuses(&claims("alex", "j3", 101)));
    }

    #[test]
    fn a_revoked_family_refuses_every_token_carrying_it() {
        let mut set = RevocationSet::default();
        let mut from_family = claims("alex", "j1", 10);
        from_family.sid = Some("fam-1".into());
        let mut other_family = claims("alex", "j2", 10);
        other_family.sid = Some("fam-2".into());
        assert!(!set.refuses(&from_family));
        assert!(set.insert_token("fam-1", 200));
        assert!(set.refuses(&from_family));
        assert!(!set.refuses(&other_family));
        assert!(
            !set.refuses(&claims("alex", "j3", 10)),
            "no family, not refused"
        );
    }

    #[test]
    fn inserts_and_merges_keep_the_later_times() {
        let mut set = RevocationSet::default();
        assert!(set.insert_token("j", 50));
        assert!(!set.insert_token("j", 40));
        assert!(set.insert_token("j", 60));
        assert!(set.insert_subject("s", subject(10, 100)));
        assert!(!set.insert_subject("s", subject(5, 90)));
        assert!(set.insert_subject("s", subject(5, 120)));
        assert!(!set.refuses(&claims("s", "x", 11)));

        let loaded = Revocations {
            tokens: vec![("j".into(), 55), ("k".into(), 70)],
            subjects: vec![("s".into(), subject(20, 110)), ("t".into(), subject(1, 2))],
        };
        assert_eq!(set.merge(loaded.clone()), 3, "k, s's before, t");
        assert_eq!(
            set.merge(loaded),
            0,
            "a union: merging again changes nothing"
        );
        assert!(set.refuses(&claims("s", "x", 20)));
        assert_eq!((set.len(), set.subjects_len()), (4, 2));

        assert!(set.apply(&RevocationEvent::Token {
            jti: "m".into(),
            exp: 80
        }));
        assert!(!set.apply(&RevocationEvent::Subject {
            subject: "s".into(),
            before: 1,
            keep_until: 1
        }));
    }

    #[test]
    fn retain_drops_entries_below_the_cutoff() {
        let mut set = RevocationSet::default();
        set.insert_token("old", 9);
        set.insert_token("edge", 10);
        set.insert_subject("gone", subject(1, 9));
        set.insert_subject("kept", subject(1, 10));
        assert!(set.retain(10));
        assert!(!set.retain(10));
        assert_eq!((set.len(), set.subjects_len()), (2, 1));
    }
}
