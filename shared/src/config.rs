//! Flat `key -> value` configuration, the shape both ZooKeeper and Kafka use.
//!
//! Sources: Java `.properties` text (zoo.cfg and server.properties are both
//! read by `java.util.Properties`), TOML (tables flatten to dotted keys), and
//! environment variables in the Confluent-image convention
//! (`KAFKA_LOG_DIRS` -> `log.dirs`). Typed getters name the key in their error.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::path::Path;
use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("config file {path} is not valid TOML: {message}")]
    Toml { path: String, message: String },
    #[error("invalid value {value:?} for config key {key}: {reason}")]
    BadValue { key: String, value: String, reason: String },
    #[error("missing required config key {0}")]
    Missing(String),
}

/// An ordered map of configuration keys to string values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigMap {
    entries: BTreeMap<String, String>,
}

impl ConfigMap {
    pub fn new() -> Self {
        Self::default()
    }

    /// Load a file: `.toml` is TOML, anything else is `.properties` text.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Io { path: path.display().to_string(), source })?;
        if path.extension().and_then(|e| e.to_str()) == Some("toml") {
            Self::from_toml(&text).map_err(|message| ConfigError::Toml { path: path.display().to_string(), message })
        } else {
            Ok(Self::from_properties(&text))
        }
    }

    /// Parse Java `.properties` text as `java.util.Properties.load` does:
    /// `#`/`!` comments, `=`, `:` or whitespace separators with optional
    /// spaces around them, backslash line continuations and escapes.
    pub fn from_properties(text: &str) -> Self {
        let mut map = ConfigMap::new();
        let mut logical = String::new();
        let mut continuing = false;
        for raw in text.lines() {
            // Continuation lines also lose their leading whitespace.
            let line = raw.trim_start();
            if !continuing && (line.is_empty() || line.starts_with('#') || line.starts_with('!')) {
                continue;
            }
            // An odd number of trailing backslashes continues the line.
            let trailing = line.chars().rev().take_while(|c| *c == '\\').count();
            if trailing % 2 == 1 {
                logical.push_str(&line[..line.len() - 1]);
                continuing = true;
                continue;
            }
            logical.push_str(line);
            continuing = false;
            if let Some((k, v)) = split_property(&logical) {
                map.entries.insert(k, v);
            }
            logical.clear();
        }
        if !logical.is_empty() {
            if let Some((k, v)) = split_property(&logical) {
                map.entries.insert(k, v);
            }
        }
        map
    }

    /// Parse TOML; nested tables become dotted keys (`[log] dirs = ".."` is
    /// `log.dirs`), arrays become comma-separated lists.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let value: toml::Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
        let mut map = ConfigMap::new();
        flatten_toml("", &toml::Value::Table(value), &mut map.entries);
        Ok(map)
    }

    /// Overlay environment variables with `prefix` (e.g. `KAFKA_`) in the
    /// Confluent-image convention: strip the prefix, lowercase, `_` -> `.`,
    /// `__` -> `_`, `___` -> `-`.
    pub fn overlay_env<I>(&mut self, prefix: &str, vars: I, skip: &[&str])
    where
        I: IntoIterator<Item = (String, String)>,
    {
        for (name, value) in vars {
            let Some(rest) = name.strip_prefix(prefix) else {
                continue;
            };
            if rest.is_empty() || skip.iter().any(|s| *s == name) {
                continue;
            }
            self.entries.insert(env_to_key(rest), value);
        }
    }

    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.entries.insert(key.into(), value.into());
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(|s| s.as_str())
    }

    pub fn contains(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    pub fn remove(&mut self, key: &str) -> Option<String> {
        self.entries.remove(key)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A typed value, or `None` when absent. A present but unparsable value
    /// is an error naming the key.
    pub fn parse<T>(&self, key: &str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.trim().parse::<T>().map(Some).map_err(|e| ConfigError::BadValue {
                key: key.to_string(),
                value: v.to_string(),
                reason: e.to_string(),
            }),
        }
    }

    /// A typed value with a default.
    pub fn parse_or<T>(&self, key: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        Ok(self.parse(key)?.unwrap_or(default))
    }

    /// Java-style boolean: only "true" (any case) is true, as
    /// `Boolean.parseBoolean` reads it; anything but true/false is an error
    /// here so a typo is caught.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(key).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if v == "true" => Ok(true),
            Some(v) if v == "false" => Ok(false),
            Some(v) => {
                Err(ConfigError::BadValue { key: key.to_string(), value: v, reason: "expected true or false".into() })
            }
        }
    }

    /// Build a `BadValue` error for `key` with the given reason.
    pub fn bad(&self, key: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::BadValue {
            key: key.to_string(),
            value: self.get(key).unwrap_or("").to_string(),
            reason: reason.into(),
        }
    }
}

fn split_property(line: &str) -> Option<(String, String)> {
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    let mut key = String::new();
    // The key ends at the first unescaped '=', ':' or whitespace.
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            key.push(unescape(chars[i + 1]));
            i += 2;
            continue;
        }
        if c == '=' || c == ':' || c.is_whitespace() {
            break;
        }
        key.push(c);
        i += 1;
    }
    while i < chars.len() && chars[i].is_whitespace() {
        i += 1;
    }
    if i < chars.len() && (chars[i] == '=' || chars[i] == ':') {
        i += 1;
    }
    while i < chars.len() && chars[i].is_whitespace() {
        i += 1;
    }
    let mut value = String::new();
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            if chars[i + 1] == 'u' && i + 5 < chars.len() {
                let hex: String = chars[i + 2..i + 6].iter().collect();
                if let Some(ch) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    value.push(ch);
                    i += 6;
                    continue;
                }
            }
            value.push(unescape(chars[i + 1]));
            i += 2;
            continue;
        }
        value.push(c);
        i += 1;
    }
    if key.is_empty() {
        return None;
    }
    // Java keeps trailing spaces in values; operators never mean them.
    Some((key, value.trim_end().to_string()))
}

fn unescape(c: char) -> char {
    match c {
        't' => '\t',
        'n' => '\n',
        'r' => '\r',
        'f' => '\x0c',
        other => other,
    }
}

fn flatten_toml(prefix: &str, value: &toml::Value, out: &mut BTreeMap<String, String>) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten_toml(&key, v, out);
            }
        }
        toml::Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(scalar_to_string).collect();
            out.insert(prefix.to_string(), parts.join(","));
        }
        other => {
            out.insert(prefix.to_string(), scalar_to_string(other));
        }
    }
}

fn scalar_to_string(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        other => other.to_string(),
    }
}

/// `LOG_RETENTION_HOURS` -> `log.retention.hours`; `___` -> `-`, `__` -> `_`.
pub fn env_to_key(rest: &str) -> String {
    rest.to_ascii_lowercase()
        .replace("___", "\u{1}")
        .replace("__", "\u{2}")
        .replace('_', ".")
        .replace('\u{1}', "-")
        .replace('\u{2}', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_with_spaces_and_comments() {
        let m = ConfigMap::from_properties(
            "# comment\n! bang\ntickTime=2000\ndefault.replication.factor = 3\nkey: v\nspaced   value\n\
             server.1=peter-zk01.foo.bar:2888:3888;2181\nmulti=a\\\n   b\n",
        );
        assert_eq!(m.get("tickTime"), Some("2000"));
        assert_eq!(m.get("default.replication.factor"), Some("3"));
        assert_eq!(m.get("key"), Some("v"));
        assert_eq!(m.get("spaced"), Some("value"));
        assert_eq!(m.get("server.1"), Some("peter-zk01.foo.bar:2888:3888;2181"));
        assert_eq!(m.get("multi"), Some("ab"));
        assert_eq!(m.len(), 6);
    }

    #[test]
    fn toml_flattens() {
        let m =
            ConfigMap::from_toml("tickTime = 2000\n[autopurge]\nsnapRetainCount = 3\n[log]\ndirs = [\"/a\", \"/b\"]\n")
                .expect("valid toml");
        assert_eq!(m.get("tickTime"), Some("2000"));
        assert_eq!(m.get("autopurge.snapRetainCount"), Some("3"));
        assert_eq!(m.get("log.dirs"), Some("/a,/b"));
    }

    #[test]
    fn env_convention() {
        let mut m = ConfigMap::new();
        m.overlay_env(
            "KAFKA_",
            vec![
                ("KAFKA_BROKER_ID".to_string(), "1".to_string()),
                ("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP".to_string(), "A:B".to_string()),
                ("KAFKA_SOME__UNDER".to_string(), "x".to_string()),
                ("OTHER".to_string(), "y".to_string()),
            ],
            &[],
        );
        assert_eq!(m.get("broker.id"), Some("1"));
        assert_eq!(m.get("listener.security.protocol.map"), Some("A:B"));
        assert_eq!(m.get("some_under"), Some("x"));
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn bad_value_names_key() {
        let m = ConfigMap::from_properties("tickTime=abc\n");
        let err = m.parse::<u32>("tickTime").unwrap_err().to_string();
        assert!(err.contains("tickTime"), "{err}");
    }

    proptest::proptest! {
        #[test]
        fn simple_pairs_roundtrip(k in "[a-zA-Z][a-zA-Z0-9._]{0,20}", v in "[a-zA-Z0-9./:;,-][a-zA-Z0-9./:;, -]{0,30}[a-zA-Z0-9]") {
            let m = ConfigMap::from_properties(&format!("{k}={v}\n"));
            proptest::prop_assert_eq!(m.get(&k), Some(v.as_str()));
        }
    }
}
