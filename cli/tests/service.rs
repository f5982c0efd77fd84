//! Running under a service manager, on both runtimes: systemd socket
//! activation (the listening socket passed as descriptor 3 with
//! LISTEN_PID and LISTEN_FDS) and sd_notify (READY=1 once serving,
//! STOPPING=1 when a shutdown begins), without systemd itself: the test
//! plays the manager.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::*;

fn socket_activation(rt: &str) {
    let root = fixture();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let fd = listener.as_raw_fd();
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!(
            "LISTEN_PID=$$ LISTEN_FDS=1 exec {} --runtime {rt} server --quiet --root {}",
            pared().display(),
            root.path().display()
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: only async-signal-safe calls (dup2, fcntl) between fork and
    // exec: the listener becomes descriptor 3, inherited across exec.
    unsafe {
        cmd.pre_exec(move || {
            if fd == 3 {
                let three = std::os::fd::BorrowedFd::borrow_raw(3);
                rustix::io::fcntl_setfd(three, rustix::io::FdFlags::empty())?;
            } else {
                let mut three = std::os::fd::FromRawFd::from_raw_fd(3);
                let old = std::os::fd::BorrowedFd::borrow_raw(fd);
                rustix::io::dup2(old, &mut three)?;
                std::mem::forget(three);
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("pared");
    drop(listener);
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains(&format!("(port {port},")), "{line}");
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"GET /hello.txt HTTP/1.0\r\n\r\n").unwrap();
    let r = read_response(&mut c, false);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"hello\n");
    let _ = child.kill();
    let _ = child.wait();
    let mut err = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut err);
    assert!(err.contains("LISTEN_FDS"), "{err}");
}

fn readiness_is_notified(rt: &str) {
    let root = fixture();
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify");
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut child = Command::new(pared())
        .args(["--runtime", rt, "server", "0", "--quiet", "--root"])
        .arg(root.path())
        .env("NOTIFY_SOCKET", &sock_path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 256];
    let n = sock.recv(&mut buf).expect("READY=1");
    let ready = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(
        ready.starts_with("READY=1\nSTATUS=serving on port "),
        "{ready}"
    );
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let n = sock.recv(&mut buf).expect("STOPPING=1");
    assert_eq!(&buf[..n], b"STOPPING=1");
    assert!(wait_exit(&mut child, Duration::from_secs(15)).is_some_and(|s| s.success()));
}

/// `--metrics ADDR`: Prometheus text on /metrics (requests by method and
/// status, bytes, open connections, refusals, duration histograms) and
/// `ok` on /health, on a listener of its own.
fn metrics_endpoint(rt: &str) {
    let root = fixture();
    let port = free_port();
    let s = Server::start(
        rt,
        root.path(),
        &[
            "--metrics",
            &format!("127.0.0.1:{port}"),
            // Three: the three requests from 127.0.0.1 below must never
            // meet the limit, even if their closes are not yet counted.
            "--max-per-client",
            "3",
        ],
    );
    assert_eq!(get(&s, "/hello.txt").status, 200);
    assert_eq!(get(&s, "/missing").status, 404);
    assert_eq!(put(&s, "/new.txt", b"12345").status, 201);
    // Three held connections from another address, each answered once so
    // the server has counted it (executors accept in parallel), then a
    // fourth from that address: refused.
    let held = [0, 1, 2].map(|_| {
        let mut c = connect_from(&s, "127.0.0.2", None);
        c.write_all(b"HEAD /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .unwrap();
        assert_eq!(read_response(&mut c, true).status, 200);
        c
    });
    let mut third = connect_from(&s, "127.0.0.2", None);
    third.write_all(b"GET /hello.txt HTTP/1.0\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut third, false).status, 503);
    let scrape = |path: &str| {
        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
            .unwrap();
        read_response(&mut c, false)
    };
    let health = scrape("/health");
    assert_eq!((health.status, health.body.as_slice()), (200, &b"ok\n"[..]));
    // A request is counted just after its answer is sent: scrape until
    // the six requests are in (bounded), then check every series.
    let mut text = String::new();
    for _ in 0..100 {
        let m = scrape("/metrics");
        assert_eq!(m.status, 200);
        text = String::from_utf8(m.body).unwrap();
        if text.contains("pared_http_request_duration_seconds_count 6\n") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let value = |series: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    };
    assert_eq!(
        value("pared_http_requests_total{method=\"GET\",code=\"200\"}"),
        1.0
    );
    assert_eq!(
        value("pared_http_requests_total{method=\"GET\",code=\"404\"}"),
        1.0
    );
    assert_eq!(
        value("pared_http_requests_total{method=\"PUT\",code=\"201\"}"),
        1.0
    );
    assert_eq!(value("pared_http_request_bytes_total"), 5.0);
    assert!(value("pared_http_response_bytes_total") >= 6.0);
    assert_eq!(
        value("pared_connections_refused_total{limit=\"per_client\"}"),
        1.0
    );
    assert!(value("pared_open_connections") >= 3.0, "{text}");
    assert_eq!(
        value("pared_http_requests_total{method=\"HEAD\",code=\"200\"}"),
        3.0
    );
    assert_eq!(value("pared_http_request_duration_seconds_count"), 6.0);
    assert_eq!(value("pared_upload_duration_seconds_count"), 1.0);
    assert_eq!(
        value("pared_http_request_duration_seconds_bucket{le=\"+Inf\"}"),
        6.0
    );
    // A parser nobody here wrote reads it all: Prometheus's own client.
    require_python_module("prometheus_client");
    let mut py = Command::new("python3")
        .args([
            "-c",
            "import sys; \
             from prometheus_client.parser import text_string_to_metric_families as parse; \
             [print(f.name, f.type, len(f.samples)) for f in parse(sys.stdin.read())]",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    py.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let parsed = py.wait_with_output().unwrap();
    assert!(parsed.status.success(), "{parsed:?}");
    let families = String::from_utf8(parsed.stdout).unwrap();
    for (name, kind) in [
        ("pared_http_requests", "counter"),
        ("pared_http_request_bytes", "counter"),
        ("pared_http_response_bytes", "counter"),
        ("pared_open_connections", "gauge"),
        ("pared_connections_refused", "counter"),
        ("pared_http_request_duration_seconds", "histogram"),
        ("pared_upload_duration_seconds", "histogram"),
    ] {
        assert!(
            families
                .lines()
                .any(|l| l.starts_with(&format!("{name} {kind} "))),
            "{name} {kind} not in\n{families}"
        );
    }
    drop(held);
}

/// `--qr`: the phone's address as a QR code, decoded by zbarimg (a reader
/// nobody here wrote) from the terminal art turned into an image.
fn qr_code_of_the_address(rt: &str) {
    require_tool("zbarimg");
    let root = fixture();
    let (mut child, mut out) = spawn_server_lines(rt, root.path(), &["--quiet", "--qr"]);
    let mut url = None;
    let mut open = String::new();
    let mut art = Vec::new();
    for _ in 0..60 {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if line.starts_with("pared: open ") {
            open = line.clone();
        }
        if let Some(u) = line.trim().strip_prefix("pared: scan to open ") {
            url = Some(u.to_owned());
        } else if url.is_some() {
            art.push(line.trim_end_matches('\n').to_owned());
            if line.starts_with('▀') {
                break;
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let url = url.expect("a scan line");
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("qr.pgm");
    let script = r#"
import sys
rows = open(sys.argv[1], encoding="utf-8").read().split("\n")
px = []
for r in rows:
    top, bottom = [], []
    for c in r:
        t, b = {"█": (1, 1), "▀": (1, 0), "▄": (0, 1), " ": (0, 0)}[c]
        top.append(t); bottom.append(b)
    px += [top, bottom]
s = 6
w, h = len(px[0]) * s, len(px) * s
data = bytearray()
for row in px:
    line = bytearray()
    for v in row:
        line += bytes([255 if v else 0]) * s
    data += bytes(line) * s
open(sys.argv[2], "wb").write(b"P5\n%d %d\n255\n" % (w, h) + bytes(data))
"#;
    let art_file = dir.path().join("art.txt");
    std::fs::write(&art_file, art.join("\n")).unwrap();
    let o = Command::new("python3")
        .args(["-c", script])
        .arg(&art_file)
        .arg(&image)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new("zbarimg")
        .args(["--raw", "-q"])
        .arg(&image)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), url);
    // A machine with an address besides loopback shows that one.
    let remote = open
        .split_whitespace()
        .any(|u| u.starts_with("http://") && !u.contains("://127.") && !u.contains("://[::1]"));
    if remote {
        assert!(
            !url.contains("://127.") && !url.contains("[::1]"),
            "a phone's address: {url}"
        );
    }
}

per_runtime!(
    socket_activation,
    readiness_is_notified,
    metrics_endpoint,
    qr_code_of_the_address
);
