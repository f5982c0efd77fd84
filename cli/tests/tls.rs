//! pared's client over https against nginx with ssl, both runtimes:
//! certificates made here with rcgen (a test CA; a server certificate for
//! 127.0.0.1, ::1 and localhost; one for another name; an expired one).
//! Verified downloads and uploads, each verification failure with its
//! reason and exit code 9, `-k`, and the www.cnn.com flow: http → 301 →
//! https, followed and verified.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};
use support::*;

struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A CA and three server certificates signed by it: `good` (127.0.0.1,
/// ::1, localhost), `wrong` (other.example only) and `expired`.
fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "pared test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca_cert.pem()).unwrap();
    let make = |name: &str, sans: Vec<SanType>, expired: bool| {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.subject_alt_names = sans;
        p.distinguished_name.push(DnType::CommonName, name);
        if expired {
            p.not_before = rcgen::date_time_ymd(2020, 1, 1);
            p.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let cert = p.signed_by(&key, &ca_cert, &ca_key).unwrap();
        std::fs::write(dir.path().join(format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.path().join(format!("{name}.key")), key.serialize_pem()).unwrap();
    };
    let local = || {
        vec![
            SanType::IpAddress("127.0.0.1".parse().unwrap()),
            SanType::IpAddress("::1".parse().unwrap()),
            SanType::DnsName("localhost".try_into().unwrap()),
        ]
    };
    make("good", local(), false);
    make(
        "wrong",
        vec![SanType::DnsName("other.example".try_into().unwrap())],
        false,
    );
    make("expired", local(), true);
    make("good2", local(), false);
    Pki { dir }
}

/// nginx serving `root` over https with `cert`, with PUT and DELETE.
fn nginx_ssl(root: &Path, pki: &Pki, cert: &str) -> Nginx {
    Nginx::start(&format!(
        "server {{\n listen 127.0.0.1:{{port}} ssl;\n listen [::1]:{{port}} ssl;\n \
         ssl_certificate {};\n ssl_certificate_key {};\n ssl_protocols TLSv1.2 TLSv1.3;\n \
         root {};\n client_max_body_size 0;\n dav_methods PUT DELETE;\n create_full_put_path on;\n}}",
        pki.path(&format!("{cert}.pem")).display(),
        pki.path(&format!("{cert}.key")).display(),
        root.display()
    ))
}

fn code(o: &std::process::Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn https_with_a_trusted_ca(rt: &str) {
    let pki = pki();
    let site = tempfile::tempdir().unwrap();
    let data = random_bytes(20 << 20, 41);
    std::fs::write(site.path().join("big.bin"), &data).unwrap();
    std::fs::write(site.path().join("hello.txt"), b"hello over tls\n").unwrap();
    let ng = nginx_ssl(site.path(), &pki, "good");
    let ca = pki.path("ca.pem");
    let ca = ca.to_str().unwrap();
    let base = format!("https://127.0.0.1:{}", ng.port);
    let o = client(rt, &[&format!("{base}/hello.txt"), "--cacert", ca]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(o.stdout, b"hello over tls\n");
    // IPv6 literal, HEAD, and a 20 MiB download byte-exact.
    let o = client(
        rt,
        &[
            "HEAD",
            &format!("https://[::1]:{}/hello.txt", ng.port),
            "--cacert",
            ca,
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("200 OK"));
    let out = tempfile::tempdir().unwrap();
    let dst = out.path().join("big.bin");
    let o = client(
        rt,
        &[
            &format!("{base}/big.bin"),
            "-o",
            dst.to_str().unwrap(),
            "--cacert",
            ca,
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(std::fs::read(&dst).unwrap() == data, "download differs");
    // An upload over TLS, checked on disk.
    let local = out.path().join("up.bin");
    let up = random_bytes(3 << 20, 42);
    std::fs::write(&local, &up).unwrap();
    let o = client(
        rt,
        &[
            "PUT",
            &format!("{base}/dir/up.bin"),
            "--upload-from",
            local.to_str().unwrap(),
            "--cacert",
            ca,
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(std::fs::read(site.path().join("dir/up.bin")).unwrap() == up);
}

fn verification_failures_say_why(rt: &str) {
    let pki = pki();
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("f.txt"), b"secret").unwrap();
    let ca = pki.path("ca.pem");
    let ca = ca.to_str().unwrap();
    // Unknown issuer: the bundled roots do not know the test CA.
    let good = nginx_ssl(site.path(), &pki, "good");
    let url = format!("https://127.0.0.1:{}/f.txt", good.port);
    let o = client(rt, &[&url]);
    assert_eq!(code(&o), 9, "{}", stderr(&o));
    assert!(stderr(&o).contains("unknown issuer"), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    // -k: works, with a warning.
    let o = client(rt, &[&url, "-k"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(o.stdout, b"secret");
    assert!(stderr(&o).contains("not verified"), "{}", stderr(&o));
    // A certificate for another name.
    let wrong = nginx_ssl(site.path(), &pki, "wrong");
    let o = client(
        rt,
        &[
            &format!("https://127.0.0.1:{}/f.txt", wrong.port),
            "--cacert",
            ca,
        ],
    );
    assert_eq!(code(&o), 9, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("not valid for 127.0.0.1"),
        "{}",
        stderr(&o)
    );
    // An expired certificate.
    let expired = nginx_ssl(site.path(), &pki, "expired");
    let o = client(
        rt,
        &[
            &format!("https://localhost:{}/f.txt", expired.port),
            "--cacert",
            ca,
        ],
    );
    assert_eq!(code(&o), 9, "{}", stderr(&o));
    assert!(stderr(&o).contains("expired"), "{}", stderr(&o));
    // TLS to a plain-http port: a clear line, not a hang.
    let root = fixture();
    let plain = Server::start(rt, root.path(), &[]);
    let o = client(
        rt,
        &[
            &format!("https://127.0.0.1:{}/hello.txt", plain.port),
            "--timeout",
            "5",
        ],
    );
    assert_eq!(code(&o), 9, "{}", stderr(&o));
    assert!(stderr(&o).contains("does not speak TLS"), "{}", stderr(&o));
}

fn http_redirect_to_https_is_followed(rt: &str) {
    let pki = pki();
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("index.html"), b"<p>secure</p>").unwrap();
    let ng = nginx_ssl(site.path(), &pki, "good");
    // The www.cnn.com shape: the http site answers 301 to https.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let http_port = listener.local_addr().unwrap().port();
    let tls_port = ng.port;
    // Two connections: `--cacert` in the host-and-port form tries https
    // first (this port answers in plain http, so the client asks again in
    // http), then the request whose answer redirects to https.
    let server = std::thread::spawn(move || {
        for (mut s, _) in listener.incoming().take(2).flatten().map(|s| (s, ())) {
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut b = [0u8; 2048];
            let _ = s.read(&mut b);
            let _ = s.write_all(
                format!(
                    "HTTP/1.1 301 Moved Permanently\r\nLocation: https://localhost:{tls_port}/index.html\r\n\
                     Content-Length: 0\r\n\r\n"
                )
                .as_bytes(),
            );
        }
    });
    let ca = pki.path("ca.pem");
    let o = client(
        rt,
        &[
            "localhost",
            &http_port.to_string(),
            "GET",
            "index.html",
            "-L",
            "--cacert",
            ca.to_str().unwrap(),
        ],
    );
    server.join().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(o.stdout, b"<p>secure</p>");
}

/// pared serving https with `cert` from the test PKI (or extra args).
fn pared_tls(rt: &str, root: &Path, pki: &Pki, cert: &str, extra: &[&str]) -> Server {
    let c = pki.path(&format!("{cert}.pem"));
    let k = pki.path(&format!("{cert}.key"));
    let mut args = vec![
        "--tls-cert",
        c.to_str().unwrap(),
        "--tls-key",
        k.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    Server::start_with(rt, root, &refs, false)
}

fn sh(cmd: &mut Command) -> std::process::Output {
    cmd.stdin(Stdio::null()).output().expect("run tool")
}

/// The SHA-256 fingerprint of the certificate a server presents.
fn presented_fingerprint(port: u16) -> String {
    let o = sh(Command::new("sh").arg("-c").arg(format!(
        "echo | openssl s_client -connect 127.0.0.1:{port} 2>/dev/null | openssl x509 -noout -fingerprint -sha256"
    )));
    String::from_utf8_lossy(&o.stdout)
        .trim()
        .split('=')
        .nth(1)
        .unwrap_or("")
        .to_owned()
}

fn pared_serves_https(rt: &str) {
    require_tool("curl");
    require_tool("openssl");
    let pki = pki();
    let root = fixture();
    std::fs::create_dir(root.path().join("up")).unwrap();
    let s = pared_tls(rt, root.path(), &pki, "good", &[]);
    let ca = pki.path("ca.pem");
    let url = |p: &str| format!("https://127.0.0.1:{}{p}", s.port);
    // curl --cacert: GET, HEAD, PUT, and keep-alive over one connection.
    let o = sh(Command::new("curl")
        .args(["-sS", "--fail", "--max-time", "20", "--cacert"])
        .arg(&ca)
        .arg(url("/hello.txt")));
    assert_eq!(o.stdout, b"hello\n", "{}", stderr(&o));
    let o = sh(Command::new("curl")
        .args(["-sS", "-I", "--max-time", "20", "--cacert"])
        .arg(&ca)
        .arg(url("/hello.txt")));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("HTTP/1.0 200 OK"));
    let o = sh(Command::new("curl")
        .args([
            "-sS",
            "-v",
            "--max-time",
            "20",
            "-H",
            "Connection: keep-alive",
            "--cacert",
        ])
        .arg(&ca)
        .args([url("/hello.txt"), url("/hello.txt")]));
    assert_eq!(o.stdout, b"hello\nhello\n");
    let err = stderr(&o);
    assert!(
        err.contains("Re-using existing") || err.contains("Reusing existing"),
        "{err}"
    );
    // openssl s_client verifies the chain against the CA.
    let o = sh(Command::new("sh").arg("-c").arg(format!(
        "echo | openssl s_client -connect 127.0.0.1:{} -CAfile {} -verify_return_error 2>&1",
        s.port,
        ca.display()
    )));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("Verify return code: 0 (ok)"), "{text}");
    // pared's client against pared's server: a 50 MiB round trip.
    let work = tempfile::tempdir().unwrap();
    let data = random_bytes(50 << 20, 43);
    let src = work.path().join("big.bin");
    std::fs::write(&src, &data).unwrap();
    let ca_s = ca.to_str().unwrap();
    let o = client(
        rt,
        &[
            "PUT",
            &url("/up/big.bin"),
            "--upload-from",
            src.to_str().unwrap(),
            "--cacert",
            ca_s,
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(std::fs::read(root.path().join("up/big.bin")).unwrap() == data);
    let dst = work.path().join("back.bin");
    let o = client(
        rt,
        &[
            &url("/up/big.bin"),
            "-o",
            dst.to_str().unwrap(),
            "--cacert",
            ca_s,
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(std::fs::read(&dst).unwrap() == data, "round trip differs");
    // A range over TLS (a file body without sendfile).
    let o = sh(Command::new("curl")
        .args(["-sS", "--max-time", "20", "-r", "100-199", "--cacert"])
        .arg(&ca)
        .arg(url("/up/big.bin")));
    assert!(o.stdout == data[100..200]);
    // Plain http on the TLS port: a 400 that says so.
    let r = get(&s, "/hello.txt");
    assert_eq!(r.status, 400);
    assert!(String::from_utf8_lossy(&r.body).contains("speaks https"));
}

fn handshake_is_bounded(rt: &str) {
    let pki = pki();
    let root = fixture();
    let mut s = pared_tls(rt, root.path(), &pki, "good", &["--header-timeout", "2"]);
    // A client that trickles its ClientHello a byte at a time.
    let mut slow = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    slow.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let started = std::time::Instant::now();
    let hello = [
        0x16u8, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    let mut cut = None;
    for b in hello.iter().cycle().take(40) {
        if slow.write_all(&[*b]).is_err() {
            cut = Some(started.elapsed());
            break;
        }
        let mut buf = [0u8; 64];
        match slow.read(&mut buf) {
            Ok(0) | Err(_) if started.elapsed() > Duration::from_millis(1500) => {
                if matches!(slow.read(&mut buf), Ok(0)) {
                    cut = Some(started.elapsed());
                    break;
                }
            }
            _ => {}
        }
        // Meanwhile others are served.
        let ca = pki.path("ca.pem");
        let o = client(
            rt,
            &[
                &format!("https://127.0.0.1:{}/hello.txt", s.port),
                "--cacert",
                ca.to_str().unwrap(),
            ],
        );
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
    let cut = cut.expect("the trickled handshake was never cut");
    assert!(cut < Duration::from_secs(6), "cut after {cut:?}");
    s.terminate(Duration::from_secs(10));
    assert!(s
        .stderr_text()
        .contains("TLS handshake with 127.0.0.1 failed"));
}

fn sighup_reloads_the_certificate(rt: &str) {
    require_tool("openssl");
    let pki = pki();
    let root = fixture();
    let live = tempfile::tempdir().unwrap();
    let cert = live.path().join("cert.pem");
    let key = live.path().join("key.pem");
    std::fs::copy(pki.path("good.pem"), &cert).unwrap();
    std::fs::copy(pki.path("good.key"), &key).unwrap();
    let mut s = Server::start_with(
        rt,
        root.path(),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        false,
    );
    let first = presented_fingerprint(s.port);
    assert!(!first.is_empty());
    // An open connection keeps working across the reload.
    let ca = pki.path("ca.pem");
    std::fs::copy(pki.path("good2.pem"), &cert).unwrap();
    std::fs::copy(pki.path("good2.key"), &key).unwrap();
    let hup = |pid: u32| {
        Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
    };
    hup(s.child.id());
    let second = presented_fingerprint(s.port);
    assert!(!second.is_empty() && second != first, "{first} -> {second}");
    // A bad pair (a key that does not match) keeps the current one.
    std::fs::copy(pki.path("good.key"), &key).unwrap();
    hup(s.child.id());
    assert_eq!(presented_fingerprint(s.port), second);
    let o = client(
        rt,
        &[
            &format!("https://localhost:{}/hello.txt", s.port),
            "--cacert",
            ca.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    s.terminate(Duration::from_secs(10));
    let err = s.stderr_text();
    assert!(
        err.contains("reloaded") && err.contains("kept the old configuration"),
        "{err}"
    );
}

fn self_signed_and_key_formats(rt: &str) {
    require_tool("openssl");
    let root = fixture();
    // --tls-self-signed prints the fingerprint a client sees.
    let mut cmd = Command::new(pared());
    cmd.args([
        "--runtime",
        rt,
        "server",
        "0",
        "--tls-self-signed",
        "--quiet",
        "--root",
    ])
    .arg(root.path())
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line1 = String::new();
    let mut line2 = String::new();
    std::io::BufRead::read_line(&mut out, &mut line1).unwrap();
    std::io::BufRead::read_line(&mut out, &mut line2).unwrap();
    let port: u16 = line1
        .split("(port ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|p| p.parse().ok())
        .unwrap();
    assert!(line1.contains("https://"), "{line1}");
    let printed = line2.trim().rsplit(' ').next().unwrap().to_owned();
    assert_eq!(presented_fingerprint(port), printed);
    let o = client(rt, &[&format!("https://127.0.0.1:{port}/hello.txt"), "-k"]);
    assert_eq!(o.stdout, b"hello\n");
    let _ = child.kill();
    let _ = child.wait();
    // PKCS#1 (RSA) and SEC1 (EC) keys load as well as PKCS#8.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let made = sh(Command::new("sh").arg("-c").arg(format!(
        "cd {d} && openssl req -x509 -newkey rsa:2048 -nodes -keyout rsa8.pem -out rsa.crt \
           -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 -days 2 2>/dev/null && \
         openssl rsa -in rsa8.pem -traditional -out rsa1.pem 2>/dev/null && \
         openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ec8.pem \
           -out ec.crt -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 -days 2 2>/dev/null && \
         openssl ec -in ec8.pem -out sec1.pem 2>/dev/null && grep -q 'BEGIN RSA PRIVATE' rsa1.pem && \
         grep -q 'BEGIN EC PRIVATE' sec1.pem"
    )));
    assert!(made.status.success(), "openssl could not make the keys");
    for (crt, key) in [
        ("rsa.crt", "rsa1.pem"),
        ("ec.crt", "sec1.pem"),
        ("ec.crt", "ec8.pem"),
    ] {
        let s = Server::start(
            rt,
            root.path(),
            &[
                "--tls-cert",
                dir.path().join(crt).to_str().unwrap(),
                "--tls-key",
                dir.path().join(key).to_str().unwrap(),
            ],
        );
        // openssl's self-signed certificates are CAs, which webpki will
        // not take as a server's own: -k (the key loading is the point).
        let o = client(
            rt,
            &[&format!("https://127.0.0.1:{}/hello.txt", s.port), "-k"],
        );
        assert_eq!(code(&o), 0, "{key}: {}", stderr(&o));
        assert_eq!(o.stdout, b"hello\n");
    }
}

/// `--pin` trusts exactly the printed certificate (also without -k, in
/// the host-and-port form), refuses another; the self-signed certificate
/// names every address the start-up line tells people to open.
fn pinned_self_signed(rt: &str) {
    require_tool("openssl");
    let root = fixture();
    let s = Server::start(rt, root.path(), &["--tls-self-signed"]);
    let printed = presented_fingerprint(s.port);
    assert_eq!(printed.len(), 95, "{printed}");
    let port = s.port.to_string();
    let o = client(
        rt,
        &["127.0.0.1", &port, "GET", "hello.txt", "--pin", &printed],
    );
    assert_eq!(
        o.stdout,
        b"hello\n",
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!String::from_utf8_lossy(&o.stderr).contains("not verified"));
    let bare: String = printed
        .chars()
        .filter(|c| *c != ':')
        .collect::<String>()
        .to_lowercase();
    let o = client(
        rt,
        &[
            &format!("https://127.0.0.1:{port}/hello.txt"),
            "--pin",
            &format!("sha256:{bare}"),
        ],
    );
    assert_eq!(o.stdout, b"hello\n");
    let wrong = format!("00{}", &printed[2..]);
    let o = client(
        rt,
        &["127.0.0.1", &port, "GET", "hello.txt", "--pin", &wrong],
    );
    assert_eq!(o.status.code(), Some(9));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not the pinned one"));
    let o = client(
        rt,
        &["127.0.0.1", &port, "GET", "hello.txt", "--pin", "xyz"],
    );
    assert_ne!(o.status.code(), Some(0));
    // Every IPv4 address of the machine (`hostname -I`) is in the
    // certificate, as the start-up line lists them.
    let o = sh(Command::new("sh").arg("-c").arg(format!(
        "echo | openssl s_client -connect 127.0.0.1:{port} 2>/dev/null | openssl x509 -noout -ext subjectAltName"
    )));
    let sans = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        sans.contains("DNS:localhost") && sans.contains("IP Address:127.0.0.1"),
        "{sans}"
    );
    let addresses: Vec<String> = std::process::Command::new("hostname")
        .arg("-I")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    for a in addresses.iter().filter(|a| !a.contains(':')) {
        assert!(
            sans.contains(&format!("IP Address:{a}")),
            "{a} missing from {sans}"
        );
    }
}

per_runtime!(
    pinned_self_signed,
    https_with_a_trusted_ca,
    verification_failures_say_why,
    http_redirect_to_https_is_followed,
    pared_serves_https,
    handshake_is_bounded,
    sighup_reloads_the_certificate,
    self_signed_and_key_formats,
);
