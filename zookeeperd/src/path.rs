//! ZooKeeper's path rules (PathUtils.validatePath). Characters are checked
//! as Java sees them, UTF-16 units, so anything outside the BMP counts as a
//! surrogate and is refused.

use crate::error::ZkError;

pub fn validate(path: &str) -> Result<(), ZkError> {
    reason(path).map_or(Ok(()), |_| Err(ZkError::BadArguments))
}

/// Why `path` is invalid, or `None` if it is valid.
pub fn reason(path: &str) -> Option<&'static str> {
    if path.is_empty() {
        return Some("Path length must be > 0");
    }
    if !path.starts_with('/') {
        return Some("Path must start with / character");
    }
    if path.len() == 1 {
        return None;
    }
    if path.ends_with('/') {
        return Some("Path must not end with / character");
    }
    let chars: Vec<char> = path.chars().collect();
    for i in 1..chars.len() {
        let c = chars[i];
        let last = chars[i - 1];
        let next_is_end_or_slash = i + 1 == chars.len() || chars[i + 1] == '/';
        if c == '\0' {
            return Some("null character not allowed");
        }
        if c == '/' && last == '/' {
            return Some("empty node name specified");
        }
        if c == '.' && last == '.' && i >= 2 && chars[i - 2] == '/' && next_is_end_or_slash {
            return Some("relative paths not allowed");
        }
        if c == '.' && last == '/' && next_is_end_or_slash {
            return Some("relative paths not allowed");
        }
        let u = c as u32;
        if (u > 0 && u <= 0x1f) || (0x7f..=0x9f).contains(&u) || (0xd800..=0xf8ff).contains(&u) || u >= 0xfff0 {
            return Some("invalid character");
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        for ok in ["/", "/a", "/a/b", "/a.b", "/..a", "/a..", "/a/.b", "/zookeeper", "/한글"] {
            assert_eq!(reason(ok), None, "{ok}");
        }
        for bad in [
            "",
            "a",
            "/a/",
            "//",
            "/a//b",
            "/.",
            "/..",
            "/a/./b",
            "/a/../b",
            "/a\u{1}",
            "/a\u{7f}",
            "/\u{1F600}",
            "/a\0",
        ] {
            assert!(reason(bad).is_some(), "{bad:?}");
        }
    }
}
