//! auth, whoAmI, sync. (Connect, ping and closeSession are the core's.)

use super::{Ctx, Outcome};
use crate::acl;
use crate::jute::response::Response;

pub fn auth(ctx: &mut Ctx, scheme: &str, auth: &[u8]) -> Outcome {
    match acl::authenticate(scheme, auth, ctx.settings.super_digest.as_deref()) {
        Ok(ids) => {
            for id in ids {
                if !ctx.auth.contains(&id) {
                    ctx.auth.push(id);
                }
            }
            Outcome::Reply(Ok(Response::Empty))
        }
        Err(_) => Outcome::AuthFailed,
    }
}

/// One (scheme, user) per identity; digest users are shown by name.
pub fn who_am_i(ctx: &mut Ctx) -> Outcome {
    let ids = ctx
        .auth
        .iter()
        .map(|i| {
            let user = match i.scheme.as_str() {
                "digest" => i.id.split(':').next().unwrap_or("").to_string(),
                "ip" => i.id.clone(),
                _ => String::new(),
            };
            (i.scheme.clone(), user)
        })
        .collect();
    Outcome::Reply(Ok(Response::WhoAmI(ids)))
}

/// Standalone: every write is already applied, so sync answers at once.
pub fn sync(path: &str) -> Outcome {
    Outcome::Reply(Ok(Response::Path(path.to_string())))
}
