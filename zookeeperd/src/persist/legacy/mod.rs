//! zookeeperd's on-disk format from before it wrote Apache ZooKeeper's, and
//! its one-way conversion. Old files are told apart from Apache's by their
//! names (16 zero-padded hex digits; Apache never pads) or their header
//! (magic "ZKLG"/"ZKSN" with version 1; Apache writes 2). On start, if any
//! are found, the tree they hold is recovered with the old decoders, written
//! as an Apache snapshot, and the old files are moved to
//! `version-2/pre-apache-format/`. Nothing else reads them.

pub mod snapshot;
pub mod txnlog;

use super::apache::zxid_from_name;
use crate::error::ServerError;
use crate::tree::{DataTree, Trigger};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Where converted files go, inside each `version-2` directory.
pub const ASIDE_DIR: &str = "pre-apache-format";

/// The old header: magic and a 4-byte format version of 1.
fn has_legacy_header(path: &Path) -> bool {
    let mut hdr = [0u8; 8];
    let Ok(mut f) = std::fs::File::open(path) else { return false };
    if f.read_exact(&mut hdr).is_err() {
        return false;
    }
    (&hdr[..4] == b"ZKLG" || &hdr[..4] == b"ZKSN") && hdr[4..] == 1u32.to_be_bytes()
}

/// Whether `dir/name` is a `prefix.*` file in the old format.
fn is_legacy(dir: &Path, name: &str, prefix: &str) -> bool {
    if zxid_from_name(name, prefix).is_none() {
        return false;
    }
    let hex = &name[prefix.len() + 1..];
    (hex.len() == 16 && hex.starts_with('0')) || has_legacy_header(&dir.join(name))
}

/// Old-format `prefix.*` files in `dir`.
pub fn find(dir: &Path, prefix: &str) -> Result<Vec<PathBuf>, ServerError> {
    let mut out = Vec::new();
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(ServerError::io(dir, e)),
    };
    for e in rd {
        let e = e.map_err(|e| ServerError::io(dir, e))?;
        if !e.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        if let Some(name) = e.file_name().to_str() {
            if is_legacy(dir, name, prefix) {
                out.push(e.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

fn refuse(path: &Path, reason: impl std::fmt::Display) -> ServerError {
    ServerError::Convert { path: path.display().to_string(), reason: reason.to_string() }
}

/// The tree the old files hold: newest good old snapshot, then the old logs
/// after it. Read-only: a torn tail is ignored, not truncated.
fn recover_old(snaps: &[PathBuf], logs: &[PathBuf]) -> Result<DataTree, ServerError> {
    let parse = |p: &PathBuf, prefix: &str| {
        p.file_name().and_then(|n| n.to_str()).and_then(|n| txnlog::parse_name(n, prefix).or(zxid_from_name(n, prefix)))
    };
    let mut snaps: Vec<(i64, &PathBuf)> = snaps.iter().filter_map(|p| Some((parse(p, "snapshot")?, p))).collect();
    snaps.sort();
    let mut tree = DataTree::new();
    for (_, path) in snaps.iter().rev() {
        let bytes = std::fs::read(path).map_err(|e| ServerError::io(path, e))?;
        match snapshot::decode(&bytes) {
            Ok(t) => {
                tree = t;
                break;
            }
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "skipping unreadable old-format snapshot"),
        }
    }
    let snapshot_zxid = tree.last_zxid();
    let mut logs: Vec<(i64, &PathBuf)> = logs.iter().filter_map(|p| Some((parse(p, "log")?, p))).collect();
    logs.sort();
    let mut triggers: Vec<Trigger> = Vec::new();
    for (i, (_, path)) in logs.iter().enumerate() {
        if logs.get(i + 1).is_some_and(|(next, _)| *next <= snapshot_zxid + 1) {
            continue;
        }
        let read = txnlog::read_log(path)?;
        if read.torn && i + 1 != logs.len() {
            return Err(refuse(path, format!("bad record at byte {} in a log that is not the newest", read.good_len)));
        }
        for e in &read.entries {
            if e.zxid > tree.last_zxid() {
                triggers.clear();
                let _ = tree.apply(e, &mut triggers);
            }
        }
    }
    Ok(tree)
}

/// Move `files` into `dir/pre-apache-format/`.
fn move_aside(dir: &Path, files: &[PathBuf]) -> Result<(), ServerError> {
    if files.is_empty() {
        return Ok(());
    }
    let aside = dir.join(ASIDE_DIR);
    std::fs::create_dir_all(&aside).map_err(|e| ServerError::io(&aside, e))?;
    for f in files {
        let Some(name) = f.file_name() else { continue };
        let to = aside.join(name);
        std::fs::rename(f, &to).map_err(|e| ServerError::io(&to, e))?;
    }
    super::txnlog::sync_dir(&aside)?;
    super::txnlog::sync_dir(dir)
}

/// Convert an old-format dataDir in place; returns the zxid of the Apache
/// snapshot written, or `None` if there was nothing old. On failure the old
/// files stay where they are and the server refuses to start.
pub fn convert(snap_dir: &Path, log_dir: &Path) -> Result<Option<i64>, ServerError> {
    let mut snaps = find(snap_dir, "snapshot")?;
    let mut logs = find(log_dir, "log")?;
    // Logs kept next to the snapshots (dataLogDir unset before, set now).
    if snap_dir != log_dir {
        logs.extend(find(snap_dir, "log")?);
        snaps.extend(find(log_dir, "snapshot")?);
    }
    if snaps.is_empty() && logs.is_empty() {
        return Ok(None);
    }
    tracing::warn!(
        snap_dir = %snap_dir.display(),
        log_dir = %log_dir.display(),
        snapshots = snaps.len(),
        logs = logs.len(),
        "found zookeeperd's old private on-disk format; converting it to Apache ZooKeeper's"
    );
    let tree = recover_old(&snaps, &logs)?;
    let zxid = tree.last_zxid();
    let bytes = crate::tree::snapshot::encode(&tree);
    let written = super::write_snapshot(snap_dir, zxid, &bytes)?;
    for (dir, files) in [(snap_dir, &snaps), (log_dir, &logs)] {
        let (here, there): (Vec<PathBuf>, Vec<PathBuf>) = files.iter().cloned().partition(|f| f.parent() == Some(dir));
        move_aside(dir, &here)?;
        if let Some(other) = there.first().and_then(|f| f.parent()) {
            move_aside(other, &there)?;
        }
    }
    tracing::warn!(
        snapshot = %written.display(),
        zxid = format_args!("0x{zxid:x}"),
        nodes = tree.node_count(),
        moved_to = ASIDE_DIR,
        "converted the old on-disk format to Apache ZooKeeper's; the old files were moved aside"
    );
    Ok(Some(zxid))
}
