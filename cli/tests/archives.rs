//! A folder as an archive (`?archive=tar` and `?archive=zip`, issue
//! "Folders out"), end to end on both runtimes, checked by readers nobody
//! here wrote (Python's tarfile and zipfile, bsdtar, `unzip -t`): Unicode,
//! long and empty names; dot-files and links out of the root left out;
//! Content-Length, ETag and HEAD agreeing; a download cut in the middle
//! resumed byte-exact by curl `-C -` and by `pared client -C`; 70,000
//! entries; a sparse file over 4 GiB (zip64).

mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use support::*;

fn tree(root: &Path) -> Vec<u8> {
    let t = root.join("t");
    std::fs::create_dir_all(t.join("empty")).unwrap();
    std::fs::create_dir_all(t.join("été/深い")).unwrap();
    let data = random_bytes(3 << 20, 7);
    std::fs::write(t.join("été/深い/big.bin"), &data).unwrap();
    std::fs::write(t.join(format!("{}.txt", "L".repeat(140))), b"long").unwrap();
    std::fs::write(t.join("a.txt"), b"alpha\n").unwrap();
    std::fs::write(t.join(".secret"), b"never").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", t.join("leak")).unwrap();
    std::os::unix::fs::symlink("été", t.join("dirlink")).unwrap();
    data
}

/// Runs Python with `script` on the archive at `path`; its stdout.
fn python(path: &Path, script: &str) -> String {
    let o = Command::new("python3")
        .args([
            "-c",
            &format!("import tarfile,sys; t=tarfile.open(sys.argv[1]); {script}"),
        ])
        .arg(path)
        .output()
        .expect("python3");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

fn curl(args: &[&str]) -> std::process::Output {
    require_tool("curl");
    Command::new("curl")
        .args(["-s", "--max-time", "120"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("curl")
}

fn tar_of_a_tree(rt: &str) {
    require_tool("bsdtar");
    let root = fixture();
    let big = tree(root.path());
    let s = Server::start(rt, root.path(), &[]);
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("t.tar");
    let url = s.url("/t/?archive=tar");
    let o = curl(&["-D", "-", "-o", whole.to_str().unwrap(), &url]);
    let head = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    assert!(head.contains("Content-Type: application/x-tar"), "{head}");
    assert!(head.contains("filename=\"t.tar\""), "{head}");
    let bytes = std::fs::read(&whole).unwrap();
    assert!(head.contains(&format!("Content-Length: {}", bytes.len())));
    let names = python(
        &whole,
        "print(sorted(m.name + ('/' if m.isdir() else '') for m in t))",
    );
    let long = format!("{}.txt", "L".repeat(140));
    assert_eq!(
        names,
        format!("['{long}', 'a.txt', 'empty/', 'été/', 'été/深い/', 'été/深い/big.bin']"),
        "dot-files, a link out of the root and a link to a folder are left out"
    );
    // The member's bytes, written out by tarfile, are the file's.
    let extracted = dir.path().join("big.out");
    python(
        &whole,
        &format!(
            "open({:?}, 'wb').write(t.extractfile('été/深い/big.bin').read())",
            extracted.to_str().unwrap()
        ),
    );
    assert!(std::fs::read(&extracted).unwrap() == big);
    assert_eq!(big.len(), 3 << 20);
    let listed = Command::new("bsdtar")
        .arg("-tf")
        .arg(&whole)
        .output()
        .unwrap();
    assert!(listed.status.success());
    assert_eq!(String::from_utf8_lossy(&listed.stdout).lines().count(), 6);
    // HEAD agrees with GET; the ETag holds until a file changes.
    let h = raw(&s, b"HEAD /t/?archive=tar HTTP/1.0\r\n\r\n");
    assert_eq!(h.header("content-length"), Some(bytes.len().to_string()));
    let etag = h.header("etag").expect("etag");
    assert!(head.contains(&format!("ETag: {etag}")));
    let cond = raw(
        &s,
        format!("GET /t/?archive=tar HTTP/1.0\r\nIf-None-Match: {etag}\r\n\r\n").as_bytes(),
    );
    assert_eq!(cond.status, 304);
    // Cut in the middle, resumed by curl -C -: byte-exact.
    let part = dir.path().join("part.tar");
    std::fs::write(&part, &bytes[..1_234_567]).unwrap();
    let o = curl(&["-C", "-", "-o", part.to_str().unwrap(), &url]);
    assert!(o.status.success());
    assert!(
        std::fs::read(&part).unwrap() == bytes,
        "curl -C - resumed byte-exact"
    );
    // And by pared client -C, cut by a proxy.
    let out = dir.path().join("client.tar");
    let (proxy, h) = cutting_proxy(s.port, 700_000);
    let cut = client(
        rt,
        &[
            "127.0.0.1",
            &proxy.to_string(),
            "GET",
            "/t/?archive=tar",
            "-o",
            out.to_str().unwrap(),
            "-C",
        ],
    );
    h.join().unwrap();
    assert_eq!(
        cut.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&cut.stderr)
    );
    let resumed = client(
        rt,
        &[
            "127.0.0.1",
            &s.port.to_string(),
            "GET",
            "/t/?archive=tar",
            "-o",
            out.to_str().unwrap(),
            "-C",
            "-v",
        ],
    );
    let err = String::from_utf8_lossy(&resumed.stderr);
    assert_eq!(resumed.status.code(), Some(0), "{err}");
    assert!(err.contains("< HTTP/1.0 206"), "{err}");
    assert!(
        std::fs::read(&out).unwrap() == bytes,
        "pared client -C resumed byte-exact"
    );
    // A changed file changes the archive's ETag.
    std::fs::write(root.path().join("t/a.txt"), b"ALPHA\n").unwrap();
    let after = raw(&s, b"HEAD /t/?archive=tar HTTP/1.0\r\n\r\n");
    assert_ne!(after.header("etag"), Some(etag));
}

/// 70 folders of 1,000 empty files under `many/`.
fn seventy_thousand(root: &Path) {
    let many = root.join("many");
    for d in 0..70 {
        let sub = many.join(format!("d{d:02}"));
        std::fs::create_dir_all(&sub).unwrap();
        for i in 0..1000 {
            std::fs::File::create(sub.join(format!("f{i:04}"))).unwrap();
        }
    }
}

fn tar_of_70000_entries(rt: &str) {
    require_tool("bsdtar");
    let root = fixture();
    seventy_thousand(root.path());
    let s = Server::start(rt, root.path(), &[]);
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("m.tar");
    let o = curl(&["-o", whole.to_str().unwrap(), &s.url("/many/?archive=tar")]);
    assert!(o.status.success());
    let n = python(
        &whole,
        "print(sum(1 for m in t if m.isfile()), sum(1 for m in t if m.isdir()))",
    );
    assert_eq!(n, "70000 70");
    let listed = Command::new("bsdtar")
        .arg("-tf")
        .arg(&whole)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout).lines().count(),
        70_070
    );
}

/// `huge/` with a sparse file over 4 GiB and a small one after it; the
/// big one's size.
fn huge_folder(root: &Path) -> u64 {
    let dir = root.join("huge");
    std::fs::create_dir(&dir).unwrap();
    let size: u64 = (4 << 30) + 12345;
    std::fs::File::create(dir.join("sparse.bin"))
        .unwrap()
        .set_len(size)
        .unwrap();
    std::fs::write(dir.join("zz-after.txt"), b"after the big one\n").unwrap();
    size
}

/// What bsdtar lists of the archive at `url`, streamed into it.
fn bsdtar_lists(url: &str) -> String {
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!("curl -s --max-time 300 '{url}' | bsdtar -tvf -"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A sparse file over 4 GiB, streamed straight into bsdtar.
fn tar_of_a_file_over_4_gib(rt: &str) {
    require_tool("bsdtar");
    let root = fixture();
    let size = huge_folder(root.path());
    let s = Server::start(rt, root.path(), &[]);
    let listing = bsdtar_lists(&s.url("/huge/?archive=tar"));
    assert!(
        listing.contains(&size.to_string()) && listing.contains("sparse.bin"),
        "{listing}"
    );
    assert!(listing.contains("zz-after.txt"), "{listing}");
}

/// A file written to while the archive streams ends the body short: the
/// client sees a cut transfer, never a corrupt archive.
fn a_changing_file_cuts_the_archive(rt: &str) {
    use std::io::{Read, Seek, Write};
    let root = fixture();
    let dir = root.path().join("live");
    std::fs::create_dir(&dir).unwrap();
    let big = dir.join("log.bin");
    std::fs::write(&big, random_bytes(40 << 20, 3)).unwrap();
    let s = Server::start(rt, root.path(), &[]);
    let mut c = connect_from(&s, "127.0.0.1", Some(8192));
    c.write_all(b"GET /live/?archive=tar HTTP/1.0\r\n\r\n")
        .unwrap();
    let mut first = vec![0u8; 256 * 1024];
    c.read_exact(&mut first).unwrap();
    let text = String::from_utf8_lossy(&first[..2000]).into_owned();
    let declared: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.trim().parse().ok())
        .expect("Content-Length");
    // The server is in the middle of the file now: write to it in place.
    let mut f = std::fs::OpenOptions::new().write(true).open(&big).unwrap();
    f.seek(std::io::SeekFrom::Start(30 << 20)).unwrap();
    f.write_all(b"changed").unwrap();
    drop(f);
    let mut rest = Vec::new();
    let _ = c.read_to_end(&mut rest);
    let head_len = text.find("\r\n\r\n").unwrap() + 4;
    assert!(
        first.len() + rest.len() - head_len < declared,
        "the whole archive went out although the file changed"
    );
}

/// Python's zipfile over HTTP Range requests: the archive is never
/// downloaded whole, so a 4 GiB one is read where it matters.
const RANGED_ZIP: &str = r#"
import io, sys, urllib.request, zipfile
class Ranged(io.RawIOBase):
    def __init__(self, url):
        self.url, self.pos = url, 0
        self.size = int(urllib.request.urlopen(urllib.request.Request(url, method="HEAD")).headers["Content-Length"])
    def seekable(self): return True
    def readable(self): return True
    def tell(self): return self.pos
    def seek(self, off, whence=0):
        self.pos = [off, self.pos + off, self.size + off][whence]
        return self.pos
    def readinto(self, b):
        if self.pos >= self.size: return 0
        end = min(self.pos + len(b), self.size) - 1
        r = urllib.request.urlopen(urllib.request.Request(self.url, headers={"Range": "bytes=%d-%d" % (self.pos, end)}))
        assert r.status == 206, r.status
        data = r.read()
        b[:len(data)] = data
        self.pos += len(data)
        return len(data)
z = zipfile.ZipFile(io.BufferedReader(Ranged(sys.argv[1]), 1 << 20))
"#;

fn ranged_zip(url: &str, script: &str) -> String {
    let o = Command::new("python3")
        .args(["-c", &format!("{RANGED_ZIP}\n{script}")])
        .arg(url)
        .output()
        .expect("python3");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

fn zip_of_a_tree(rt: &str) {
    require_tool("unzip");
    let root = fixture();
    tree(root.path());
    let s = Server::start(rt, root.path(), &[]);
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("t.zip");
    let url = s.url("/t/?archive=zip");
    let o = curl(&["-D", "-", "-o", whole.to_str().unwrap(), &url]);
    let head = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(head.contains("Content-Type: application/zip"), "{head}");
    let bytes = std::fs::read(&whole).unwrap();
    assert!(head.contains(&format!("Content-Length: {}", bytes.len())));
    let t = Command::new("unzip")
        .arg("-tq")
        .arg(&whole)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&t.stdout).contains("No errors detected"),
        "{}",
        String::from_utf8_lossy(&t.stdout)
    );
    let o = Command::new("python3")
        .args([
            "-c",
            "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; \
             print(sorted(i.filename for i in z.infolist())); \
             print(z.read('été/深い/big.bin') == open(sys.argv[2],'rb').read())",
        ])
        .arg(&whole)
        .arg(root.path().join("t/été/深い/big.bin"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let long = format!("{}.txt", "L".repeat(140));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        format!("['{long}', 'a.txt', 'empty/', 'été/', 'été/深い/', 'été/深い/big.bin']\nTrue")
    );
    // Read through Range requests too (the central directory first).
    assert_eq!(
        ranged_zip(&url, "print(len(z.infolist()), z.read('a.txt'))"),
        "6 b'alpha\\n'"
    );
    // Cut in the middle, resumed by curl -C -: byte-exact.
    let part = dir.path().join("part.zip");
    std::fs::write(&part, &bytes[..2_000_000]).unwrap();
    let o = curl(&["-C", "-", "-o", part.to_str().unwrap(), &url]);
    assert!(o.status.success());
    assert!(
        std::fs::read(&part).unwrap() == bytes,
        "curl -C - resumed byte-exact"
    );
    let tar = raw(&s, b"HEAD /t/?archive=tar HTTP/1.0\r\n\r\n");
    let zip = raw(&s, b"HEAD /t/?archive=zip HTTP/1.0\r\n\r\n");
    assert_ne!(tar.header("etag"), zip.header("etag"));
}

fn zip_of_70000_entries(rt: &str) {
    require_tool("unzip");
    let root = fixture();
    seventy_thousand(root.path());
    let s = Server::start(rt, root.path(), &[]);
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("m.zip");
    assert!(
        curl(&["-o", whole.to_str().unwrap(), &s.url("/many/?archive=zip")])
            .status
            .success()
    );
    let o = Command::new("python3")
        .args([
            "-c",
            "import zipfile,sys; print(len(zipfile.ZipFile(sys.argv[1]).infolist()))",
        ])
        .arg(&whole)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "70070",
        "zip64 end records"
    );
    let t = Command::new("unzip")
        .arg("-tq")
        .arg(&whole)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&t.stdout).contains("No errors detected"));
}

/// A sparse file over 4 GiB: zip64 sizes, read by Python's zipfile over
/// Range requests and streamed into bsdtar.
fn zip_of_a_file_over_4_gib(rt: &str) {
    require_tool("bsdtar");
    let root = fixture();
    let size = huge_folder(root.path());
    let s = Server::start(rt, root.path(), &[]);
    let url = s.url("/huge/?archive=zip");
    let seen = ranged_zip(
        &url,
        "i = z.getinfo('sparse.bin'); f = z.open(i); print(i.file_size, f.read(4096) == bytes(4096), z.read('zz-after.txt'))",
    );
    assert_eq!(seen, format!("{size} True b'after the big one\\n'"));
    let listing = bsdtar_lists(&url);
    assert!(listing.contains(&size.to_string()), "{listing}");
}

per_runtime!(
    tar_of_a_tree,
    tar_of_70000_entries,
    a_changing_file_cuts_the_archive,
    zip_of_a_tree,
    zip_of_70000_entries
);

#[test]
fn zip_of_a_file_over_4_gib_std() {
    zip_of_a_file_over_4_gib("std");
}

#[test]
fn tar_of_a_file_over_4_gib_std() {
    tar_of_a_file_over_4_gib("std");
}
