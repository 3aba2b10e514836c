//! A small oslo.config-compatible INI reader: raw sections and keys with line numbers.

use crate::error::ConfigError;

/// One `key = value` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// A `[section]` with its entries in file order (repeated sections are merged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub line: usize,
    pub entries: Vec<Entry>,
}

/// The raw, untyped content of an INI file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ini {
    pub file: String,
    pub sections: Vec<Section>,
}

impl Ini {
    /// Parses `text`; `file` is only used in error messages.
    ///
    /// Like oslo.config: `#` and `;` start comments only at the beginning of a line,
    /// `key = value` or `key: value`, indented lines continue the previous value.
    pub fn parse(file: &str, text: &str) -> Result<Ini, ConfigError> {
        let mut ini = Ini {
            file: file.to_string(),
            sections: Vec::new(),
        };
        let mut current: Option<usize> = None;
        for (index, raw) in text.lines().enumerate() {
            let line_no = index + 1;
            let error = |section: &str, message: &str| ConfigError {
                file: file.to_string(),
                line: Some(line_no),
                section: section.to_string(),
                key: String::new(),
                message: message.to_string(),
            };
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
                continue;
            }
            let indented = raw.starts_with([' ', '\t']);
            if indented {
                if let Some(section) = current.map(|i| &mut ini.sections[i]) {
                    if let Some(last) = section.entries.last_mut() {
                        last.value.push('\n');
                        last.value.push_str(trimmed);
                        continue;
                    }
                }
            }
            if let Some(rest) = trimmed.strip_prefix('[') {
                let Some(name) = rest.strip_suffix(']') else {
                    return Err(error("", "section header is missing its closing ']'"));
                };
                let name = name.trim();
                if name.is_empty() {
                    return Err(error("", "empty section name"));
                }
                current = Some(match ini.sections.iter().position(|s| s.name == name) {
                    Some(i) => i,
                    None => {
                        ini.sections.push(Section {
                            name: name.to_string(),
                            line: line_no,
                            entries: Vec::new(),
                        });
                        ini.sections.len() - 1
                    }
                });
                continue;
            }
            let Some(index) = current else {
                return Err(error(
                    "",
                    "option outside of any section; put it under [DEFAULT] or a store section",
                ));
            };
            let split = trimmed.find(['=', ':']);
            let Some(split) = split else {
                return Err(error(&ini.sections[index].name, "expected 'key = value'"));
            };
            let key = trimmed[..split].trim();
            if key.is_empty() {
                return Err(error(&ini.sections[index].name, "empty option name"));
            }
            ini.sections[index].entries.push(Entry {
                key: key.to_string(),
                value: trimmed[split + 1..].trim().to_string(),
                line: line_no,
            });
        }
        Ok(ini)
    }

    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// The last value given for `key` in `section` (later lines override earlier ones).
    pub fn get(&self, section: &str, key: &str) -> Option<&Entry> {
        self.section(section)?
            .entries
            .iter()
            .rev()
            .find(|e| e.key == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Expected<'a> = Result<Vec<(&'a str, Vec<(&'a str, &'a str, usize)>)>, &'a str>;

    fn check(text: &str, expected: Expected) {
        let got = Ini::parse("t.conf", text).map(|ini| {
            ini.sections
                .iter()
                .map(|s| {
                    (
                        s.name.clone(),
                        s.entries
                            .iter()
                            .map(|e| (e.key.clone(), e.value.clone(), e.line))
                            .collect::<Vec<_>>(),
                    )
                })
                .collect::<Vec<_>>()
        });
        match (got, expected) {
            (Ok(got), Ok(expected)) => {
                let expected: Vec<_> = expected
                    .into_iter()
                    .map(|(n, es)| {
                        (
                            n.to_string(),
                            es.into_iter()
                                .map(|(k, v, l)| (k.to_string(), v.to_string(), l))
                                .collect::<Vec<_>>(),
                        )
                    })
                    .collect();
                assert_eq!(got, expected, "text: {text:?}");
            }
            (Err(err), Err(expected)) => {
                assert_eq!(err.to_string(), expected, "text: {text:?}")
            }
            (got, expected) => panic!("text {text:?}: got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn parses_and_rejects() {
        check(
            "[DEFAULT]\nenabled_backends = a:cinder\n",
            Ok(vec![("DEFAULT", vec![("enabled_backends", "a:cinder", 2)])]),
        );
        check(
            "# c\n; c\n[s]\nk: v\n\nk2=\n",
            Ok(vec![("s", vec![("k", "v", 4), ("k2", "", 6)])]),
        );
        check(
            "[s]\nurl = http://h:5000/v3\n",
            Ok(vec![("s", vec![("url", "http://h:5000/v3", 2)])]),
        );
        check(
            "[s]\na = 1\n[t]\nb = 2\n[s]\nc = 3\n",
            Ok(vec![
                ("s", vec![("a", "1", 2), ("c", "3", 6)]),
                ("t", vec![("b", "2", 4)]),
            ]),
        );
        check(
            "[s]\nk = one\n  two\n",
            Ok(vec![("s", vec![("k", "one\ntwo", 2)])]),
        );
        check("k = v\n", Err("t.conf:1: option outside of any section; put it under [DEFAULT] or a store section"));
        check(
            "[s\n",
            Err("t.conf:1: section header is missing its closing ']'"),
        );
        check("[s]\njunk\n", Err("t.conf:2: [s]: expected 'key = value'"));
        check("[s]\n= v\n", Err("t.conf:2: [s]: empty option name"));
        check("[]\n", Err("t.conf:1: empty section name"));
    }

    #[test]
    fn last_value_wins() {
        let ini = Ini::parse("t", "[s]\nk = 1\nk = 2\n").expect("parses");
        assert_eq!(ini.get("s", "k").map(|e| e.value.as_str()), Some("2"));
        assert_eq!(ini.get("s", "missing"), None);
        assert_eq!(ini.get("nope", "k"), None);
    }
}
