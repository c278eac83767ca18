//! ACL checks and authentication schemes: world, digest, ip, auth, super.

use crate::error::ZkError;
use crate::jute::records::{Acl, Id};
use base64::Engine;
use sha1::{Digest, Sha1};
use std::net::IpAddr;

/// `user:password` -> `user:base64(sha1("user:password"))`.
pub fn digest(user_password: &str) -> String {
    let user = user_password.split(':').next().unwrap_or("");
    let hash = Sha1::digest(user_password.as_bytes());
    format!("{user}:{}", base64::engine::general_purpose::STANDARD.encode(hash))
}

/// Handle an auth packet: the ids to add to the connection, or AuthFailed.
pub fn authenticate(scheme: &str, auth: &[u8], super_digest: Option<&str>) -> Result<Vec<Id>, ZkError> {
    match scheme {
        "digest" => {
            let text = String::from_utf8_lossy(auth);
            let id = digest(&text);
            let mut ids = Vec::new();
            if super_digest == Some(id.as_str()) {
                ids.push(Id::new("super", ""));
            }
            ids.push(Id::new("digest", &id));
            Ok(ids)
        }
        // The ip provider authenticates by address, which every connection
        // already carries as `ip:<addr>`.
        "ip" => Ok(Vec::new()),
        _ => Err(ZkError::AuthFailed),
    }
}

/// True when `ids` grant `perm` under `acl`.
pub fn check(acl: &[Acl], perm: i32, ids: &[Id]) -> Result<(), ZkError> {
    if acl.is_empty() || ids.iter().any(|i| i.scheme == "super") {
        return Ok(());
    }
    for a in acl {
        if a.perms & perm == 0 {
            continue;
        }
        if a.id.scheme == "world" && a.id.id == "anyone" {
            return Ok(());
        }
        for auth in ids.iter().filter(|i| i.scheme == a.id.scheme) {
            let ok = match a.id.scheme.as_str() {
                "digest" => auth.id == a.id.id,
                "ip" => ip_matches(&auth.id, &a.id.id),
                _ => false,
            };
            if ok {
                return Ok(());
            }
        }
    }
    Err(ZkError::NoAuth)
}

/// Expand `auth` ids, validate the rest, drop duplicates (fixupACL).
pub fn fixup(acl: &[Acl], ids: &[Id]) -> Result<Vec<Acl>, ZkError> {
    if acl.is_empty() {
        return Err(ZkError::InvalidAcl);
    }
    let mut out: Vec<Acl> = Vec::new();
    for a in acl {
        if a.id.scheme == "world" && a.id.id == "anyone" {
            out.push(a.clone());
        } else if a.id.scheme == "auth" {
            let mut any = false;
            // Only authenticated schemes stand in for "auth": digest, not ip.
            for id in ids.iter().filter(|i| i.scheme == "digest") {
                any = true;
                out.push(Acl { perms: a.perms, id: id.clone() });
            }
            if !any {
                return Err(ZkError::InvalidAcl);
            }
        } else {
            let valid = match a.id.scheme.as_str() {
                "digest" => java_split_len(&a.id.id) == 2,
                "ip" => parse_ip_expr(&a.id.id).is_some(),
                _ => false,
            };
            if !valid {
                return Err(ZkError::InvalidAcl);
            }
            out.push(a.clone());
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|a| seen.insert(a.clone()));
    Ok(out)
}

/// Java's `s.split(":").length`: trailing empty parts do not count.
fn java_split_len(s: &str) -> usize {
    if s.is_empty() {
        return 1;
    }
    let parts: Vec<&str> = s.split(':').collect();
    let trailing = parts.iter().rev().take_while(|p| p.is_empty()).count();
    parts.len() - trailing
}

fn parse_ip_expr(expr: &str) -> Option<(IpAddr, u32)> {
    let (addr, bits) = match expr.split_once('/') {
        Some((a, b)) => (a, Some(b.parse::<u32>().ok()?)),
        None => (expr, None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = bits.unwrap_or(max);
    (bits <= max).then_some((ip, bits))
}

fn ip_matches(client: &str, expr: &str) -> bool {
    let Some((net, bits)) = parse_ip_expr(expr) else {
        return false;
    };
    let Ok(ip) = client.parse::<IpAddr>() else {
        return false;
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => prefix_eq(&a.octets(), &b.octets(), bits),
        (IpAddr::V6(a), IpAddr::V6(b)) => prefix_eq(&a.octets(), &b.octets(), bits),
        _ => false,
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u32) -> bool {
    let full = (bits / 8) as usize;
    if a[..full] != b[..full] {
        return false;
    }
    let rem = bits % 8;
    if rem == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rem);
    a[full] & mask == b[full] & mask
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jute::records::perms;

    #[test]
    fn super_digest_matches_reference() {
        assert_eq!(digest("super:test"), "super:D/InIHSb7yEEbrWz8b9l71RjZJU=");
    }

    #[test]
    fn ip_prefix() {
        assert!(ip_matches("10.1.2.3", "10.0.0.0/8"));
        assert!(!ip_matches("11.1.2.3", "10.0.0.0/8"));
        assert!(ip_matches("127.0.0.1", "127.0.0.1"));
    }

    #[test]
    fn auth_expansion_needs_digest() {
        let acl = vec![Acl { perms: perms::ALL, id: Id::new("auth", "") }];
        assert_eq!(fixup(&acl, &[Id::new("ip", "127.0.0.1")]), Err(ZkError::InvalidAcl));
        let ids = [Id::new("ip", "127.0.0.1"), Id::new("digest", "u:h")];
        assert_eq!(fixup(&acl, &ids).unwrap(), vec![Acl { perms: perms::ALL, id: Id::new("digest", "u:h") }]);
    }
}
