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
    let server = std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
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

per_runtime!(
    https_with_a_trusted_ca,
    verification_failures_say_why,
    http_redirect_to_https_is_followed,
);
