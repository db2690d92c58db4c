//! Metric names out of the four places that name them: the contract (`docs/metrics.md`), a
//! scrape (`# TYPE` lines), PromQL expressions (the dashboard, the rules) and the rule file.
//! The extractors have their own tests below, so a check built on them cannot pass by
//! extracting nothing.

use std::collections::{BTreeMap, BTreeSet};

/// Metric families of a text exposition: name → type, from its `# TYPE` lines.
pub fn scrape_families(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| {
            let mut words = rest.split_whitespace();
            Some((words.next()?.to_owned(), words.next()?.to_owned()))
        })
        .collect()
}

/// The label sets of the samples of `name` (exactly that sample name) in a text exposition.
pub fn sample_labels(text: &str, name: &str) -> Vec<BTreeMap<String, String>> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            if rest.starts_with(' ') {
                return Some(BTreeMap::new());
            }
            let inner = rest.strip_prefix('{')?.split_once('}')?.0;
            Some(parse_labels(inner))
        })
        .collect()
}

/// `a="x",b="y"` → {a: x, b: y} (values with `\"`, `\\` and `\n` escapes).
fn parse_labels(inner: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = inner;
    while let Some((key, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, other)) => value.push(other),
                    None => {}
                },
                '"' => {
                    end = i + 1;
                    break;
                }
                other => value.push(other),
            }
        }
        labels.insert(key.trim_start_matches(',').trim().to_owned(), value);
        rest = &after[end..];
    }
    labels
}

/// Backticked names starting with `prefix` in the rows of the Markdown tables of `md`.
pub fn documented_names(md: &str, prefix: &str) -> BTreeSet<String> {
    md.lines()
        .filter(|line| line.trim_start().starts_with('|'))
        .flat_map(|line| line.split('`').skip(1).step_by(2))
        .filter(|name| name.starts_with(prefix) && name.chars().all(is_name_char))
        .map(str::to_owned)
        .collect()
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// The identifiers of a PromQL expression, outside string literals and comments: metric and
/// recording-rule names, label names, function names and keywords (and some number/duration
/// fragments, which no caller mistakes for a name).
pub fn identifiers(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = expr.chars();
    let flush = |current: &mut String, out: &mut Vec<String>| {
        if !current.is_empty() {
            out.push(std::mem::take(current));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' | '`' => {
                flush(&mut current, &mut out);
                while let Some(s) = chars.next() {
                    if s == '\\' && c != '`' {
                        chars.next();
                    } else if s == c {
                        break;
                    }
                }
            }
            '#' => {
                flush(&mut current, &mut out);
                for s in chars.by_ref() {
                    if s == '\n' {
                        break;
                    }
                }
            }
            c if is_name_char(c) => current.push(c),
            _ => flush(&mut current, &mut out),
        }
    }
    flush(&mut current, &mut out);
    out
}

/// The metric names an expression reads that a scopegate node should expose: `scopegate_…`,
/// `process_…` and `up` (the last is Prometheus's own, checked by callers as they see fit).
pub fn exposed_names(expr: &str) -> BTreeSet<String> {
    identifiers(expr)
        .into_iter()
        .filter(|id| id.starts_with("scopegate_") || id.starts_with("process_") || id == "up")
        .collect()
}

/// Recording-rule names an expression reads (`level:metric:operations`, so with a colon).
pub fn recorded_names(expr: &str) -> BTreeSet<String> {
    identifiers(expr)
        .into_iter()
        .filter(|id| id.contains(':') && id.starts_with(|c: char| c.is_ascii_alphabetic()))
        .collect()
}

/// The family a sample name belongs to: itself, or a histogram's for `_bucket`/`_count`/`_sum`
/// (a summary's for `_count`/`_sum`).
pub fn family_of<'a>(name: &'a str, families: &BTreeMap<String, String>) -> Option<&'a str> {
    if families.contains_key(name) {
        return Some(name);
    }
    for (suffix, types) in [
        ("_bucket", &["histogram"][..]),
        ("_count", &["histogram", "summary"][..]),
        ("_sum", &["histogram", "summary"][..]),
    ] {
        if let Some(base) = name.strip_suffix(suffix) {
            if families
                .get(base)
                .is_some_and(|t| types.contains(&t.as_str()))
            {
                return Some(base);
            }
        }
    }
    None
}

/// A recording or alerting rule of a Prometheus rule file.
#[derive(Debug)]
pub struct Rule {
    /// `record` or `alert`.
    pub kind: &'static str,
    /// The recorded name or the alert name.
    pub name: String,
    /// The rule's lines, its first (`- record:`/`- alert:`) included.
    lines: Vec<String>,
}

impl Rule {
    /// The rule's `expr`, inline or a `|`/`>` block.
    pub fn expr(&self) -> Option<String> {
        let (i, indent, value) = self.lines.iter().enumerate().find_map(|(i, line)| {
            let trimmed = line.trim_start();
            let value = trimmed.strip_prefix("expr:")?;
            Some((i, line.len() - trimmed.len(), value.trim()))
        })?;
        if !value.starts_with('|') && !value.starts_with('>') {
            return Some(unquote(value));
        }
        let block: Vec<&str> = self.lines[i + 1..]
            .iter()
            .take_while(|line| {
                line.trim().is_empty() || line.len() - line.trim_start().len() > indent
            })
            .map(|line| line.trim())
            .collect();
        Some(block.join("\n").trim().to_owned())
    }

    /// The scalar value of the first `key:` line among the rule's lines (labels and annotations
    /// included), unquoted.
    pub fn field(&self, key: &str) -> Option<String> {
        self.lines.iter().find_map(|line| {
            let value = line
                .trim_start()
                .trim_start_matches("- ")
                .strip_prefix(key)?
                .strip_prefix(':')?;
            Some(unquote(value.trim()))
        })
    }
}

fn unquote(value: &str) -> String {
    if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
        value[1..value.len() - 1].replace("\\\"", "\"")
    } else if value.len() >= 2 && value.starts_with('\'') && value.ends_with('\'') {
        value[1..value.len() - 1].replace("''", "'")
    } else {
        value.to_owned()
    }
}

/// The rules of a rule file in the layout `deploy/prometheus/rules.yml` uses: one list item per
/// rule, starting `- record:` or `- alert:`, every other key of the rule indented deeper than
/// its dash.
pub fn parse_rules(yaml: &str) -> Vec<Rule> {
    let mut rules: Vec<Rule> = Vec::new();
    let mut open: Option<usize> = None;
    for line in yaml.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let start = [("record", "- record:"), ("alert", "- alert:")]
            .into_iter()
            .find_map(|(kind, prefix)| Some((kind, trimmed.strip_prefix(prefix)?)));
        if let Some((kind, name)) = start {
            rules.push(Rule {
                kind,
                name: unquote(name.trim()),
                lines: vec![line.to_owned()],
            });
            open = Some(indent);
            continue;
        }
        let Some(dash) = open else { continue };
        if !trimmed.is_empty() && !trimmed.starts_with('#') && indent <= dash {
            open = None;
            continue;
        }
        if let Some(rule) = rules.last_mut() {
            rule.lines.push(line.to_owned());
        }
    }
    rules
}

/// The anchors GitHub gives the headings of a Markdown document.
pub fn heading_anchors(md: &str) -> BTreeSet<String> {
    md.lines()
        .filter(|line| line.starts_with('#'))
        .map(|line| {
            line.trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
                .map(|c| if c == ' ' { '-' } else { c })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_skip_strings_and_comments() {
        let expr = r#"sum by (job) (rate(scopegate_x_total{job=~"scopegate_fake|up", a='process_no'}[5m])) # up
            / on (job) group_left up{job="$job"} + job:scopegate_y:rate5m"#;
        assert_eq!(
            exposed_names(expr),
            ["scopegate_x_total", "up"]
                .map(str::to_owned)
                .into_iter()
                .collect()
        );
        assert_eq!(
            recorded_names(expr),
            ["job:scopegate_y:rate5m".to_owned()].into_iter().collect()
        );
        assert_eq!(
            exposed_names(r#"label_values(scopegate_build_info{job=~"$job"}, instance)"#),
            ["scopegate_build_info".to_owned()].into_iter().collect()
        );
        assert_eq!(
            exposed_names(
                "rate(process_cpu_seconds_total{x=\"a\\\"scopegate_q\"}[$__rate_interval])"
            ),
            ["process_cpu_seconds_total".to_owned()]
                .into_iter()
                .collect()
        );
    }

    #[test]
    fn histogram_suffixes_resolve_to_their_family_only() {
        let families: BTreeMap<String, String> = [
            ("h_seconds", "histogram"),
            ("c_total", "counter"),
            ("g", "gauge"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .into_iter()
        .collect();
        assert_eq!(family_of("h_seconds_bucket", &families), Some("h_seconds"));
        assert_eq!(family_of("h_seconds_count", &families), Some("h_seconds"));
        assert_eq!(family_of("h_seconds_sum", &families), Some("h_seconds"));
        assert_eq!(family_of("c_total", &families), Some("c_total"));
        assert_eq!(family_of("g_count", &families), None);
        assert_eq!(family_of("c", &families), None);
        assert_eq!(family_of("missing", &families), None);
    }

    #[test]
    fn scrape_parsing_reads_types_and_labels() {
        let text = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\",y=\"q\\\"z\"} 3\n\
                    # TYPE b gauge\nb 1\na_total_other 2\n";
        let families = scrape_families(text);
        assert_eq!(families.len(), 2);
        assert_eq!(families["a_total"], "counter");
        let labels = sample_labels(text, "a_total");
        assert_eq!(labels.len(), 1);
        assert_eq!(labels[0]["x"], "1");
        assert_eq!(labels[0]["y"], "q\"z");
        assert_eq!(sample_labels(text, "b"), vec![BTreeMap::new()]);
    }

    #[test]
    fn documented_names_come_from_table_rows_only() {
        let md = "Intro `scopegate_not_in_table`.\n\n| metric | type |\n|---|---|\n\
                  | `scopegate_a_total` | counter, see `scopegate_b` and `endpoint=\"x\"` |\n\
                  | `process_cpu_seconds_total`, `process_open_fds` | |\n";
        assert_eq!(
            documented_names(md, "scopegate_"),
            ["scopegate_a_total", "scopegate_b"]
                .map(str::to_owned)
                .into_iter()
                .collect()
        );
        assert_eq!(documented_names(md, "process_").len(), 2);
    }

    #[test]
    fn rule_parsing_reads_block_and_inline_exprs_and_fields() {
        let yaml = r#"groups:
  - name: g
    rules:
      - record: job:x:rate5m
        expr: |
          sum by (job) (
            rate(x_total[5m]))
      - alert: A
        expr: x > 1
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: "say \"hi\""
  - name: h
    rules:
      - alert: 'B'
        expr: 'y == 0'
"#;
        let rules = parse_rules(yaml);
        let names: Vec<_> = rules.iter().map(|r| (r.kind, r.name.as_str())).collect();
        assert_eq!(
            names,
            [("record", "job:x:rate5m"), ("alert", "A"), ("alert", "B")]
        );
        assert_eq!(
            rules[0].expr().as_deref(),
            Some("sum by (job) (\nrate(x_total[5m]))")
        );
        assert_eq!(rules[1].expr().as_deref(), Some("x > 1"));
        assert_eq!(rules[1].field("severity").as_deref(), Some("warning"));
        assert_eq!(rules[1].field("summary").as_deref(), Some("say \"hi\""));
        assert_eq!(rules[2].expr().as_deref(), Some("y == 0"));
        assert_eq!(rules[2].field("severity"), None);
    }

    #[test]
    fn anchors_follow_github() {
        let anchors =
            heading_anchors("# T\n## Monitoring: Prometheus and Grafana\n### ScopegateDown\n");
        assert!(anchors.contains("monitoring-prometheus-and-grafana"));
        assert!(anchors.contains("scopegatedown"));
    }
}
