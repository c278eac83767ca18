//! zookeeperd as a systemd Type=notify service, with systemd played by a
//! datagram socket in NOTIFY_SOCKET: READY=1 only once the server serves
//! (an ensemble member after its quorum is in sync), STATUS= naming the
//! role, and watchdog pings when WatchdogSec asks for them.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use system_tests::{ZkEnsemble, ZkServer};

/// Everything systemd would have heard until `until` says stop, or the
/// deadline passes.
fn listen(sock: &UnixDatagram, within: Duration, mut until: impl FnMut(&[String]) -> bool) -> Vec<String> {
    sock.set_read_timeout(Some(Duration::from_millis(100))).expect("timeout");
    let deadline = Instant::now() + within;
    let mut heard = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline && !until(&heard) {
        if let Ok(n) = sock.recv(&mut buf) {
            heard.extend(String::from_utf8_lossy(&buf[..n]).lines().map(str::to_string));
        }
    }
    heard
}

fn has(heard: &[String], prefix: &str) -> bool {
    heard.iter().any(|l| l.starts_with(prefix))
}

#[test]
fn standalone_is_ready_at_once_says_its_mode_and_feeds_the_watchdog() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("notify");
    let sock = UnixDatagram::bind(&path).expect("bind");
    let p = path.display().to_string();
    let server = ZkServer::start_with_file(
        "zoo.cfg",
        "tickTime=200\ndataDir={dataDir}\nclientPort={port}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n",
        &[("NOTIFY_SOCKET", &p), ("WATCHDOG_USEC", "400000")],
    );
    let heard = listen(&sock, Duration::from_secs(20), |h| {
        has(h, "READY=1") && h.iter().filter(|l| *l == "WATCHDOG=1").count() >= 3
    });
    assert!(has(&heard, "READY=1"), "{heard:?}");
    assert!(has(&heard, "STATUS=standalone, zxid 0x"), "{heard:?}");
    assert!(heard.iter().filter(|l| *l == "WATCHDOG=1").count() >= 3, "{heard:?}\n{}", server.log());
}

#[test]
fn an_ensemble_member_is_ready_only_once_its_quorum_serves() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("notify");
    let sock = UnixDatagram::bind(&path).expect("bind");
    let p = path.display().to_string();
    let mut ens = ZkEnsemble::configure();
    ens.start_member(0, &[("NOTIFY_SOCKET", &p)]);
    // Alone it looks for a leader, and says so, but is not ready.
    let heard = listen(&sock, Duration::from_secs(20), |h| has(h, "STATUS=looking for a leader"));
    assert!(has(&heard, "STATUS=looking for a leader"), "{heard:?}\n{}", ens.log(0));
    let more = listen(&sock, Duration::from_secs(2), |h| has(h, "READY=1"));
    assert!(!has(&more, "READY=1"), "ready without a quorum: {more:?}");
    ens.start_member(1, &[]);
    ens.start_member(2, &[]);
    ens.wait_quorum();
    let heard = listen(&sock, Duration::from_secs(30), |h| has(h, "READY=1"));
    assert!(has(&heard, "READY=1"), "{heard:?}\n{}", ens.log(0));
    let role = heard.iter().rfind(|l| l.starts_with("STATUS=")).cloned().unwrap_or_default();
    assert!(
        role.starts_with("STATUS=leading, 2 of 2 followers synced") || role.starts_with("STATUS=following leader "),
        "{heard:?}"
    );
}

/// Log lines for the journal: no colours when stderr is not a terminal,
/// and under systemd (JOURNAL_STREAM) a syslog priority in front of each
/// line, so `journalctl -p warning` finds the warnings.
#[test]
fn log_lines_suit_the_journal() {
    let run = |journal: bool| {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = dir.path().join("zoo.cfg");
        // An unknown key makes zookeeperd warn; a port already taken ends it
        // with an error.
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = taken.local_addr().expect("addr").port();
        std::fs::write(
            &cfg,
            format!(
                "dataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\nnoSuchKey=1\n",
                dir.path().display()
            ),
        )
        .expect("zoo.cfg");
        let mut cmd = std::process::Command::new(system_tests::binary("zookeeperd"));
        cmd.arg(&cfg).env_remove("NO_COLOR").env_remove("JOURNAL_STREAM");
        if journal {
            cmd.env("JOURNAL_STREAM", "8:12345");
        }
        let out = cmd.output().expect("run zookeeperd");
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let plain = run(false);
    assert!(!plain.contains('\u{1b}'), "no colours on a pipe: {plain:?}");
    let journal = run(true);
    assert!(!journal.contains('\u{1b}'), "{journal:?}");
    let lines: Vec<&str> = journal.lines().filter(|l| l.starts_with('<')).collect();
    assert!(!lines.is_empty(), "{journal:?}");
    assert!(lines.iter().all(|l| l.len() > 3 && l[1..2].parse::<u8>().is_ok() && &l[2..3] == ">"), "{journal:?}");
    assert!(lines.iter().any(|l| l.starts_with("<4>") && l.contains("noSuchKey")), "a warning at 4: {journal:?}");
    assert!(lines.iter().any(|l| l.starts_with("<3>")), "an error at 3: {journal:?}");
    assert!(lines.iter().any(|l| l.starts_with("<6>")), "info at 6: {journal:?}");
}
