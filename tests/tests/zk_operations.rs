//! Running zookeeperd as an operator would: the AdminServer's JSON commands
//! and Prometheus /metrics, systemd Type=notify readiness, SIGTERM, a TOML
//! config, the seeds' three-server zoo.cfg, maxClientCnxns.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use system_tests::{four_letter, free_port, wait_for, ZkServer};

fn http_get(port: u16, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect admin");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").expect("http response");
    (head.lines().next().unwrap_or("").to_string(), body.to_string())
}

#[test]
fn admin_server_commands_and_metrics() {
    let admin = free_port();
    let admin_port = admin.to_string();
    let server = ZkServer::start(&[
        ("admin.enableServer", "true"),
        ("admin.serverPort", &admin_port),
        ("admin.serverAddress", "127.0.0.1"),
    ]);
    let (status, body) = http_get(admin, "/commands/monitor");
    assert_eq!(status, "HTTP/1.1 200 OK");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["command"], "monitor");
    assert!(v["error"].is_null());
    assert_eq!(v["server_state"], "standalone");
    assert_eq!(v["znode_count"], 5);
    // Aliases answer as their primary name.
    let (_, body) = http_get(admin, "/commands/srvr");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["command"], "server_stats");
    // Unknown commands say so.
    let (_, body) = http_get(admin, "/commands/nonsense");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"], "Unknown command: nonsense");
    // Prometheus text with the mntr figures.
    let (status, body) = http_get(admin, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.lines().any(|l| l == "znode_count 5"), "{body}");
    assert!(body.contains("# TYPE num_alive_connections gauge"));
    drop(server);
}

#[cfg(unix)]
#[test]
fn systemd_notify_ready_and_clean_sigterm() {
    use std::os::unix::net::UnixDatagram;
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let sock_str = sock_path.display().to_string();
    let mut server = ZkServer::start_with_file(
        "zoo.cfg",
        "tickTime=2000\ndataDir={dataDir}\nclientPort={port}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n",
        &[("NOTIFY_SOCKET", &sock_str)],
    );
    let mut buf = [0u8; 256];
    // STATUS= lines may come first; READY=1 within the socket's timeout.
    let mut next = |want: &str| loop {
        let n = sock.recv(&mut buf).unwrap_or_else(|e| panic!("{want} from sd_notify: {e}"));
        if String::from_utf8_lossy(&buf[..n]).lines().any(|l| l == want) {
            break;
        }
    };
    next("READY=1");
    // srvr is always allowed, even with the default whitelist.
    assert!(four_letter(server.port, "srvr").unwrap().contains("Mode: standalone"));
    assert_eq!(four_letter(server.port, "stat").unwrap(), "stat is not executed because it is not in the whitelist.\n");
    let status = server.terminate().expect("was running");
    assert!(status.success(), "SIGTERM exit: {status:?}");
    next("STOPPING=1");
}

#[test]
fn toml_config() {
    let server = ZkServer::start_with_file(
        "zoo.toml",
        "tickTime = 200\ndataDir = \"{dataDir}\"\nclientPort = {port}\nclientPortAddress = \"127.0.0.1\"\n\
         [admin]\nenableServer = false\n[4lw.commands]\nwhitelist = \"conf,ruok\"\n",
        &[],
    );
    let conf = four_letter(server.port, "conf").unwrap();
    assert!(conf.contains("tickTime=200\n"), "{conf}");
    assert!(conf.contains("minSessionTimeout=400\n"), "{conf}");
}

#[test]
fn seed_three_server_zoo_cfg_without_myid_is_refused_naming_the_file() {
    // The seeds' zoo.cfg: an ensemble member needs dataDir/myid, as
    // Apache's QuorumPeerConfig insists; it must not quietly run alone.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort=0\n\
             autopurge.snapRetainCount=3\nautopurge.purgeInterval=1\nadmin.enableServer=false\n\
             server.1=peter-zk01.foo.bar:2888:3888;2181\nserver.2=peter-zk02.foo.bar:2888:3888;2181\n\
             server.3=peter-zk03.foo.bar:2888:3888;2181\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(system_tests::binary("zookeeperd")).arg(&cfg).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("myid") && err.contains(&dir.path().join("myid").display().to_string()), "{err}");
}

#[test]
fn bad_config_value_is_an_error_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("zoo.cfg");
    std::fs::write(&cfg, format!("dataDir={}\ntickTime=fast\n", dir.path().display())).unwrap();
    let out = std::process::Command::new(system_tests::binary("zookeeperd")).arg(&cfg).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tickTime") && err.contains("fast"), "{err}");
}

#[test]
fn max_client_cnxns_limits_connections_per_address() {
    let server = ZkServer::start(&[("maxClientCnxns", "2")]);
    let a = system_tests::zkraw::RawSession::connect(&server.addr(), 4000, 0, &[]).unwrap();
    let b = system_tests::zkraw::RawSession::connect(&server.addr(), 4000, 0, &[]).unwrap();
    assert!(
        system_tests::zkraw::RawSession::connect(&server.addr(), 4000, 0, &[]).is_err(),
        "third connection accepted"
    );
    drop(a);
    // A slot frees up once a connection closes.
    wait_for("a free connection slot", Duration::from_secs(10), || {
        system_tests::zkraw::RawSession::connect(&server.addr(), 4000, 0, &[]).ok()
    });
    drop(b);
}

#[test]
fn configured_from_zookeeper_variables_as_the_confluent_image() {
    let dir = tempfile::tempdir().unwrap();
    let port = system_tests::free_port();
    let data = dir.path().join("data");
    let mut child = std::process::Command::new(system_tests::binary("zookeeperd"))
        .env("ZOOKEEPER_CLIENT_PORT", port.to_string())
        .env("ZOOKEEPER_CLIENT_PORT_ADDRESS", "127.0.0.1")
        .env("ZOOKEEPER_TICK_TIME", "250")
        .env("ZOOKEEPER_DATA_DIR", &data)
        .env("ZOOKEEPER_DATA_LOG_DIR", &data)
        .env("ZOOKEEPER_ADMIN_ENABLE_SERVER", "false")
        .env("ZOOKEEPER_4LW_COMMANDS_WHITELIST", "*")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let conf = wait_for("zookeeperd configured from the environment", Duration::from_secs(20), || {
        four_letter(port, "srvr").ok().filter(|s| s.contains("Mode: standalone"))?;
        four_letter(port, "conf").ok()
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(conf.contains("tickTime=250\n"), "{conf}");
    assert!(conf.contains(&format!("dataDir={}", data.join("version-2").display())), "{conf}");
}
