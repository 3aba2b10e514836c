//! Scenario files: TOML with `[[rule]]` tables (same fields as the control API's JSON),
//! loaded at start with `serve --scenario FILE`. A bad file is refused naming the rule
//! (index and id) and the field.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use serde_json::Value;

use super::parse::{parse_rule, RuleError};
use super::rule::Rule;

#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file it came from (for messages and `GET /_cinderbox/faults`).
    pub origin: String,
    pub description: Option<String>,
    pub rules: Vec<Rule>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario {path}: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("scenario {path}: {message}")]
    Parse { path: String, message: String },
    #[error("scenario {path}: rule {index}{}: {error}", id_note(.id))]
    Rule {
        path: String,
        /// 1-based, in file order.
        index: usize,
        id: Option<String>,
        error: RuleError,
    },
}

fn id_note(id: &Option<String>) -> String {
    id.as_ref()
        .map(|i| format!(" (id {i:?})"))
        .unwrap_or_default()
}

impl Scenario {
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|error| ScenarioError::Read {
            path: path.display().to_string(),
            error,
        })?;
        Scenario::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
        let parse_err = |message: String| ScenarioError::Parse {
            path: origin.to_string(),
            message,
        };
        let file: ScenarioFile = toml::from_str(text).map_err(|e| parse_err(e.to_string()))?;
        if let Some(k) = file.other.keys().next() {
            return Err(parse_err(format!(
                "unknown top-level key `{k}`; a scenario has `description` and `[[rule]]` tables"
            )));
        }
        let items = file
            .rule
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<Vec<Value>, _>>()
            .map_err(|e| parse_err(e.to_string()))?;
        let mut rules: Vec<Rule> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let index = i + 1;
            let id = item.get("id").and_then(Value::as_str).map(str::to_string);
            let rule_err = |error| ScenarioError::Rule {
                path: origin.to_string(),
                index,
                id: id.clone(),
                error,
            };
            let rule = parse_rule(item, &format!("rule-{index}")).map_err(rule_err)?;
            if rules.iter().any(|r| r.id == rule.id) {
                return Err(rule_err(RuleError {
                    field: "id".into(),
                    message: format!("{:?} is used by an earlier rule", rule.id),
                }));
            }
            rules.push(rule);
        }
        Ok(Scenario {
            origin: origin.to_string(),
            description: file.description,
            rules,
        })
    }
}

/// A scenario file as written; each rule stays a value until `parse_rule` reads it, so
/// a refusal can name the rule's index and id.
#[derive(Debug, Deserialize)]
struct ScenarioFile {
    description: Option<String>,
    #[serde(default)]
    rule: Vec<toml::Value>,
    /// Anything else, refused by name.
    #[serde(flatten)]
    other: BTreeMap<String, toml::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Result<usize, &str>) {
        let got = Scenario::parse(text, "s.toml")
            .map(|s| s.rules.len())
            .map_err(|e| e.to_string());
        match (&got, expected) {
            (Ok(n), Ok(want)) => assert_eq!(*n, want, "{text}"),
            (Err(msg), Err(want)) => assert!(msg.contains(want), "{msg:?} lacks {want:?}"),
            _ => panic!("{text}: got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn scenario_table() {
        check("", Ok(0));
        check(
            "description = \"x\"\n[[rule]]\neffect = \"503\"\n[[rule]]\neffect = \"500\"\n",
            Ok(2),
        );
        check("[[rule]]\neffect = \"503\"\n[[rule]]\nid = \"b\"\neffect = { error = 700 }\n",
            Err("scenario s.toml: rule 2 (id \"b\"): field `effect.error`: must be between 400 and 599"));
        check(
            "[[rule]]\noperation = \"volume.craete\"\neffect = \"503\"\n",
            Err("rule 1: field `operation`: unknown operation"),
        );
        check(
            "[[rule]]\nid = \"a\"\neffect = \"503\"\n[[rule]]\nid = \"a\"\neffect = \"503\"\n",
            Err("rule 2 (id \"a\"): field `id`"),
        );
        check("rules = []\n", Err("unknown top-level key `rules`"));
        check("[[rule]\n", Err("scenario s.toml:"));
        check("description = 5\n", Err("line 1, column 15"));
        check(
            "rule = 1\n",
            Err("invalid type: integer `1`, expected a sequence"),
        );
        check(
            "[[rule]]\neffect = { sequence = [\"503\", { error = 503, colour = 1 }] }\n",
            Err("rule 1: field `effect.sequence[1]`: exactly one kind"),
        );
    }

    #[test]
    fn rules_without_ids_are_numbered() {
        let s = Scenario::parse("[[rule]]\neffect = \"503\"\n", "s").unwrap();
        assert_eq!(s.rules[0].id, "rule-1");
    }
}
