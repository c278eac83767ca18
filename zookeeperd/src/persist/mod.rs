//! Durability in Apache ZooKeeper 3.8's on-disk layout, so either server
//! starts on the other's dataDir: `dataDir/version-2/snapshot.<hex zxid>`
//! and `dataLogDir/version-2/log.<hex zxid>` (see `apache`). Recovery loads
//! the newest snapshot whose seals check and replays the later records of
//! every log; the log writer thread group-commits appends (one fsync for
//! everything queued meanwhile) and rolls to a new log at each snapshot.
//! A dataDir in zookeeperd's older private format is converted first
//! (`legacy`).

pub mod apache;
pub mod legacy;
pub mod txnlog;

use crate::error::ServerError;
use crate::tree::{snapshot, DataTree, Trigger};
use apache::snapshot_file_name;
use bytes::BytesMut;
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use tokio::sync::mpsc;
use txnlog::{list, read_log, sync_dir, LogWriter};

/// What recovery found.
pub struct Recovered {
    pub tree: DataTree,
    pub writer: LogWriter,
    pub snapshot_zxid: i64,
    pub replayed: usize,
    pub truncated_bytes: u64,
    /// The zxid of the snapshot written when an old-format dataDir was converted.
    pub converted: Option<i64>,
}

/// Convert an old-format dataDir if there is one, load the newest good
/// snapshot, replay later log records, cut a torn tail, and open a new log
/// for what comes next (Apache, too, never appends to a log it did not
/// create in the same run). `prealloc` is the log's zero-tail step.
pub fn recover(snap_dir: &Path, log_dir: &Path, prealloc: u64) -> Result<Recovered, ServerError> {
    for d in [snap_dir, log_dir] {
        std::fs::create_dir_all(d).map_err(|e| ServerError::io(d, e))?;
    }
    let converted = legacy::convert(snap_dir, log_dir)?;
    let mut tree = DataTree::new();
    let mut snapshot_zxid = None;
    for (zxid, path) in list(snap_dir, "snapshot")?.into_iter().rev() {
        let bytes = std::fs::read(&path).map_err(|e| ServerError::io(&path, e))?;
        match snapshot::decode(&bytes, zxid) {
            Ok(t) => {
                tree = t;
                snapshot_zxid = Some(zxid);
                break;
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "skipping unreadable snapshot")
            }
        }
    }
    let base = snapshot_zxid.unwrap_or(0);
    let logs = list(log_dir, "log")?;
    let mut replayed = 0;
    let mut truncated_bytes = 0;
    let mut triggers: Vec<Trigger> = Vec::new();
    for (i, (_, path)) in logs.iter().enumerate() {
        // Apache's FileTxnLog.getLogFiles: start at the newest log that
        // begins at or before the snapshot; skip the ones before it.
        if logs.get(i + 1).is_some_and(|(next_first, _)| *next_first <= base + 1) {
            continue;
        }
        let is_last = i + 1 == logs.len();
        let read = read_log(path, is_last)?;
        if read.torn {
            if !is_last {
                return Err(ServerError::Corrupt {
                    what: "txn log",
                    path: path.display().to_string(),
                    reason: format!("bad record at byte {} in a log that is not the newest", read.good_len),
                });
            }
            let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            truncated_bytes = size.saturating_sub(read.good_len);
            tracing::warn!(path = %path.display(), at = read.good_len, bytes = truncated_bytes, "truncating torn log tail");
            if read.good_len < apache::txnlog::HEADER_LEN as u64 {
                std::fs::remove_file(path).map_err(|e| ServerError::io(path, e))?;
                continue;
            }
            txnlog::truncate(path, read.good_len)?;
        }
        for e in &read.entries {
            if e.zxid <= tree.last_zxid() {
                continue;
            }
            triggers.clear();
            // Replay results are the same as when first applied.
            let _ = tree.apply(e, &mut triggers);
            replayed += 1;
        }
    }
    // Apache will not start on logs without a snapshot, and writes
    // snapshot.0 for a new database: so do we.
    let snapshot_zxid = match snapshot_zxid {
        Some(z) => z,
        None => {
            let z = tree.last_zxid();
            write_snapshot(snap_dir, z, &snapshot::encode(&tree))?;
            z
        }
    };
    let writer = LogWriter::create(log_dir, tree.last_zxid() + 1, prealloc)?;
    Ok(Recovered { tree, writer, snapshot_zxid, replayed, truncated_bytes, converted })
}

/// Write a snapshot atomically: temp file, fsync, rename, fsync the dir.
pub fn write_snapshot(dir: &Path, zxid: i64, bytes: &[u8]) -> Result<PathBuf, ServerError> {
    use std::io::Write;
    let final_path = dir.join(snapshot_file_name(zxid));
    let tmp = dir.join(format!(".{}.tmp", snapshot_file_name(zxid)));
    let mut f = std::fs::File::create(&tmp).map_err(|e| ServerError::io(&tmp, e))?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(|e| ServerError::io(&tmp, e))?;
    std::fs::rename(&tmp, &final_path).map_err(|e| ServerError::io(&final_path, e))?;
    sync_dir(dir)?;
    Ok(final_path)
}

/// Drop every logged txn after `zxid` and every snapshot past it (a
/// leader's TRUNC, or the old log under a leader's SNAP): later logs are
/// removed, the one holding `zxid` is cut after it.
pub fn truncate_after(snap_dir: &Path, log_dir: &Path, zxid: i64) -> Result<(), ServerError> {
    for (first, path) in list(log_dir, "log")? {
        if first > zxid {
            std::fs::remove_file(&path).map_err(|e| ServerError::io(&path, e))?;
            tracing::info!(path = %path.display(), "log after the truncation point removed");
        } else if let Some(at) = txnlog::end_of(&path, zxid)? {
            txnlog::truncate(&path, at)?;
            tracing::info!(path = %path.display(), at, "log truncated after 0x{zxid:x}");
        }
    }
    for (z, path) in list(snap_dir, "snapshot")? {
        if z > zxid {
            std::fs::remove_file(&path).map_err(|e| ServerError::io(&path, e))?;
        }
    }
    sync_dir(log_dir)?;
    sync_dir(snap_dir)
}

/// Keep the newest `retain` snapshots (at least 3, as ZooKeeper insists)
/// and the logs still needed to replay from the oldest of them; returns
/// the files removed (Apache's PurgeTxnLog, run by autopurge and
/// zkCleanup.sh).
pub fn purge(snap_dir: &Path, log_dir: &Path, retain: usize) -> Result<Vec<PathBuf>, ServerError> {
    let retain = retain.max(3);
    let snaps = list(snap_dir, "snapshot")?;
    if snaps.len() <= retain {
        return Ok(Vec::new());
    }
    let keep_from = snaps[snaps.len() - retain].0;
    let mut removed = Vec::new();
    for (_, p) in &snaps[..snaps.len() - retain] {
        std::fs::remove_file(p).map_err(|e| ServerError::io(p, e))?;
        removed.push(p.clone());
    }
    // As FileTxnLog.getLogFiles: the newest log starting at or before the
    // oldest kept snapshot, and every later one, stay.
    let logs = list(log_dir, "log")?;
    let oldest_needed = logs.iter().map(|(first, _)| *first).filter(|f| *f <= keep_from).max().unwrap_or(0);
    for (first, p) in &logs {
        if *first < oldest_needed {
            std::fs::remove_file(p).map_err(|e| ServerError::io(p, e))?;
            removed.push(p.clone());
        }
    }
    Ok(removed)
}

/// Commands for the writer thread.
pub enum LogCmd {
    /// Framed records (`apache::txnlog::encode_record`), in zxid order;
    /// the last zxid is what becomes durable.
    Append {
        last_zxid: i64,
        entries: Vec<BytesMut>,
    },
    /// A snapshot of the tree as of `zxid`, taken after that entry. Later
    /// appends go to a new log named `roll_at` (the next zxid to be
    /// logged: past `zxid` on a follower that logged txns not yet applied).
    Snapshot {
        zxid: i64,
        roll_at: i64,
        bytes: BytesMut,
    },
    /// Make everything written durable, then append to a new log named
    /// `roll_at` (a fuzzy snapshot starts).
    Roll {
        roll_at: i64,
    },
    Purge {
        retain: usize,
    },
    /// Flush, then stop.
    Shutdown,
}

/// Sender side of the writer thread. Unbounded, so the core never blocks
/// on a slow disk: what waits for the log is bounded by the clients, whose
/// replies are held until it is durable.
#[derive(Clone)]
pub struct LogHandle {
    tx: std_mpsc::Sender<LogCmd>,
}

impl LogHandle {
    pub fn send(&self, cmd: LogCmd) -> bool {
        self.tx.send(cmd).is_ok()
    }
}

/// fsyncs allowed in flight at once. Concurrent fdatasyncs share the
/// filesystem's journal commits, so a write that arrives while one is
/// running need not wait for it to finish before its own starts.
const SYNC_THREADS: usize = 2;

/// A request to make everything up to `zxid` (already written to `file`)
/// durable.
struct SyncReq {
    file: std::sync::Arc<std::fs::File>,
    zxid: i64,
}

/// Start the writer. Durable zxids (or a fatal error) come back on the
/// returned channel, possibly out of order: an fsync that started after a
/// record was written covers it, so the reader keeps the maximum.
pub fn spawn_writer(
    mut writer: LogWriter,
    snap_dir: PathBuf,
    log_dir: PathBuf,
    force_sync: bool,
    prealloc: u64,
) -> (LogHandle, mpsc::UnboundedReceiver<Result<i64, ServerError>>, std::thread::JoinHandle<()>) {
    let (tx, rx) = std_mpsc::channel::<LogCmd>();
    let (dtx, drx) = mpsc::unbounded_channel();
    let (sync_tx, sync_rx) = std_mpsc::channel::<SyncReq>();
    let sync_rx = std::sync::Arc::new(std::sync::Mutex::new(sync_rx));
    let mut syncers = Vec::new();
    for i in 0..SYNC_THREADS {
        let sync_rx = sync_rx.clone();
        let dtx = dtx.clone();
        let h = std::thread::Builder::new().name(format!("zk-fsync-{i}")).spawn(move || loop {
            // Take the newest pending request; older ones are covered by it.
            let req = {
                let Ok(rx) = sync_rx.lock() else { return };
                let Ok(mut req) = rx.recv() else { return };
                while let Ok(newer) = rx.try_recv() {
                    req = newer;
                }
                req
            };
            match req.file.sync_data() {
                Ok(()) => {
                    let _ = dtx.send(Ok(req.zxid));
                }
                Err(e) => {
                    let _ = dtx.send(Err(ServerError::io("txn log fsync", e)));
                    return;
                }
            }
        });
        match h {
            Ok(h) => syncers.push(h),
            Err(e) => tracing::error!(error = %e, "cannot start fsync thread"),
        }
    }
    let handle = std::thread::Builder::new()
        .name("zk-txnlog".into())
        .spawn(move || {
            let mut run = || -> Result<(), ServerError> {
                let mut file = writer.sync_handle()?;
                // A new log unless the current one is already empty and
                // starts where the next append will.
                let roll = |writer: &mut LogWriter, file: &mut std::sync::Arc<std::fs::File>, roll_at: i64| {
                    if writer.first_zxid != roll_at {
                        *writer = LogWriter::create(&log_dir, roll_at, prealloc)?;
                        *file = writer.sync_handle()?;
                    }
                    Ok::<(), ServerError>(())
                };
                while let Ok(first) = rx.recv() {
                    let mut cmds = vec![first];
                    // Group commit: take everything already queued.
                    while let Ok(more) = rx.try_recv() {
                        cmds.push(more);
                    }
                    let mut written = None;
                    let mut stop = false;
                    for cmd in cmds {
                        match cmd {
                            LogCmd::Append { last_zxid, entries } => {
                                for e in &entries {
                                    writer.append(e)?;
                                }
                                written = Some(last_zxid);
                            }
                            LogCmd::Snapshot { zxid, roll_at, bytes } => {
                                // The old log must be whole on disk before we move on.
                                writer.sync(force_sync)?;
                                if let Some(z) = written.take() {
                                    let _ = dtx.send(Ok(z));
                                }
                                let p = write_snapshot(&snap_dir, zxid, &bytes)?;
                                tracing::info!(path = %p.display(), zxid = format_args!("0x{zxid:x}"), "snapshot written");
                                // Everything up to the snapshot is durable in it.
                                let _ = dtx.send(Ok(zxid));
                                roll(&mut writer, &mut file, roll_at)?;
                            }
                            LogCmd::Roll { roll_at } => {
                                writer.sync(force_sync)?;
                                if let Some(z) = written.take() {
                                    let _ = dtx.send(Ok(z));
                                }
                                roll(&mut writer, &mut file, roll_at)?;
                            }
                            LogCmd::Purge { retain } => {
                                let n = purge(&snap_dir, &log_dir, retain)?.len();
                                if n > 0 {
                                    tracing::info!(removed = n, "purged old snapshots and logs");
                                }
                            }
                            LogCmd::Shutdown => stop = true,
                        }
                    }
                    writer.flush()?;
                    if let Some(z) = written {
                        if !force_sync {
                            let _ = dtx.send(Ok(z));
                        } else if stop || sync_tx.send(SyncReq { file: file.clone(), zxid: z }).is_err() {
                            writer.sync(true)?;
                            let _ = dtx.send(Ok(z));
                        }
                    }
                    if stop {
                        writer.sync(force_sync)?;
                        break;
                    }
                }
                Ok(())
            };
            if let Err(e) = run() {
                tracing::error!(error = %e, "txn log writer failed");
                let _ = dtx.send(Err(e));
            }
            drop(sync_tx);
            for h in syncers {
                let _ = h.join();
            }
        })
        .expect("spawn txn log thread");
    (LogHandle { tx }, drx, handle)
}
