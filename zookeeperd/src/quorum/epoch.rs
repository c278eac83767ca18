//! `acceptedEpoch` and `currentEpoch` in the snapshot directory
//! (`dataDir/version-2`), as Apache's QuorumPeer keeps them: the number in
//! decimal, written to a temp file, synced and renamed over the old one. A missing file means the epoch of
//! the last logged zxid, and is then written (as Apache does on start).

use std::io::Write;
use std::path::Path;

pub const ACCEPTED: &str = "acceptedEpoch";
pub const CURRENT: &str = "currentEpoch";

/// Read `name`, or create it with `default`.
pub fn read_or_init(data_dir: &Path, name: &str, default: i64) -> std::io::Result<i64> {
    let path = data_dir.join(name);
    match std::fs::read_to_string(&path) {
        Ok(s) => s.trim().parse().map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} holds {:?}, not a number", path.display(), s),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::info!(
                file = name,
                epoch = default,
                "epoch file not found; created with the last logged zxid's epoch"
            );
            write(data_dir, name, default)?;
            Ok(default)
        }
        Err(e) => Err(e),
    }
}

pub fn write(data_dir: &Path, name: &str, epoch: i64) -> std::io::Result<()> {
    let tmp = data_dir.join(format!("{name}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(epoch.to_string().as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, data_dir.join(name))?;
    if let Ok(d) = std::fs::File::open(data_dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_take_the_default_and_writes_replace() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(read_or_init(dir.path(), CURRENT, 3).expect("init"), 3);
        assert_eq!(std::fs::read_to_string(dir.path().join(CURRENT)).expect("file"), "3");
        write(dir.path(), CURRENT, 12).expect("write");
        assert_eq!(read_or_init(dir.path(), CURRENT, 0).expect("read"), 12);
        std::fs::write(dir.path().join(ACCEPTED), "x").expect("garbage");
        assert!(read_or_init(dir.path(), ACCEPTED, 0).is_err());
    }
}
