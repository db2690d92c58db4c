//! Values the chart must refuse, with a message that says what to change.

use crate::support::{refused_cases, rendered, variant_cases};

#[test]
fn the_chart_refuses_what_would_not_work_and_says_why() {
    for (name, values, expected) in refused_cases() {
        let case = &rendered().cases[name];
        let error = case
            .error()
            .unwrap_or_else(|| panic!("{name}: rendered although it must not ({values})"));
        assert!(
            error.contains(expected),
            "{name}: expected {expected:?} in the refusal, got:\n{error}"
        );
    }
}

#[test]
fn the_refusals_are_the_charts_own_messages() {
    // A template's `fail` names the chart; a schema refusal names the value's path.
    let embedded = &rendered().cases["two replicas without redis"];
    let error = embedded.error().expect("refused");
    assert!(error.contains("scopegate: replicaCount > 1"), "{error}");
    assert!(
        error.contains("set redis.url or redis.sentinel.hosts"),
        "{error}"
    );
    let typo = &rendered().cases["typo at the top level"];
    assert!(
        typo.error().expect("refused").contains("schema"),
        "{typo:?}"
    );
}

#[test]
fn variants_of_the_defaults_render() {
    for (name, values) in variant_cases() {
        let case = &rendered().cases[name];
        assert!(
            case.error().is_none(),
            "{name} ({values}): {:?}",
            case.error()
        );
    }
}
