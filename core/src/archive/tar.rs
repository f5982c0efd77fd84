//! POSIX tar (pax interchange format) headers for one archive entry.
//!
//! Each entry is a 512-byte ustar header, preceded by a pax extended
//! header (type `x`) when the ustar fields cannot hold it: a path longer
//! than 100 bytes or not ASCII (pax's `path` is UTF-8 by definition), or a
//! size of 8 GiB or more. File data follows, padded to 512 bytes; the
//! archive ends with two zero blocks. Everything is a function of the
//! entry alone, so any byte of the archive can be produced again.

use super::ArchiveEntry;

/// The tar block size.
pub const BLOCK: u64 = 512;

/// The largest size the 11 octal digits of a ustar header hold.
const USTAR_MAX_SIZE: u64 = 0o77_777_777_777;

/// Bytes of padding after `len` bytes of data.
pub fn padding(len: u64) -> u64 {
    (BLOCK - len % BLOCK) % BLOCK
}

/// The modification time in whole seconds.
fn secs(e: &ArchiveEntry) -> u64 {
    u64::try_from(e.mtime_ns / 1_000_000_000).unwrap_or(u64::MAX)
}

/// The path as stored: a folder's ends with `/`.
fn stored_path(e: &ArchiveEntry) -> String {
    if e.is_dir {
        format!("{}/", e.path)
    } else {
        e.path.clone()
    }
}

fn needs_pax(e: &ArchiveEntry) -> bool {
    let p = stored_path(e);
    p.len() > 100 || !p.is_ascii() || e.size > USTAR_MAX_SIZE
}

/// The pax records of an entry (`"%d key=value\n"`, the length counting
/// itself).
fn pax_records(e: &ArchiveEntry) -> Vec<u8> {
    let mut out = Vec::new();
    let mut record = |key: &str, value: &str| {
        let body = format!(" {key}={value}\n");
        // The length field counts its own digits.
        let mut n = body.len() + 1;
        while n != body.len() + n.to_string().len() {
            n = body.len() + n.to_string().len();
        }
        out.extend_from_slice(format!("{n}{body}").as_bytes());
    };
    record("path", &stored_path(e));
    if e.size > USTAR_MAX_SIZE {
        record("size", &e.size.to_string());
    }
    out
}

/// The length of an entry's headers (pax and ustar), before its data.
pub fn header_len(e: &ArchiveEntry) -> u64 {
    if needs_pax(e) {
        let n = pax_records(e).len() as u64;
        BLOCK + n + padding(n) + BLOCK
    } else {
        BLOCK
    }
}

fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let s = format!("{value:0digits$o}");
    let s = &s.as_bytes()[s.len().saturating_sub(digits)..];
    field[..digits].copy_from_slice(s);
    field[digits] = 0;
}

fn ustar(name: &str, size: u64, mtime: u64, kind: u8, mode: u64) -> [u8; 512] {
    let mut h = [0u8; 512];
    let name = name.as_bytes();
    let n = name.len().min(100);
    h[..n].copy_from_slice(&name[..n]);
    octal(&mut h[100..108], mode);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size.min(USTAR_MAX_SIZE));
    octal(&mut h[136..148], mtime.min(USTAR_MAX_SIZE));
    h[156] = kind;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    // The checksum is summed with its own field as spaces.
    h[148..156].copy_from_slice(b"        ");
    let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
    h
}

/// An entry's headers (pax and ustar), [`header_len`] bytes.
pub fn headers(e: &ArchiveEntry) -> Vec<u8> {
    let path = stored_path(e);
    let (kind, mode, size) = if e.is_dir {
        (b'5', 0o755, 0)
    } else {
        (b'0', 0o644, e.size)
    };
    let mut out = Vec::with_capacity(header_len(e) as usize);
    let short = if needs_pax(e) {
        let records = pax_records(e);
        // The ustar name of a pax entry is a fallback for old readers.
        let tail: String = path
            .chars()
            .rev()
            .filter(char::is_ascii)
            .take(60)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        out.extend_from_slice(&ustar(
            &format!("PaxHeaders/{tail}"),
            records.len() as u64,
            secs(e),
            b'x',
            0o644,
        ));
        out.extend_from_slice(&records);
        out.resize(out.len() + padding(records.len() as u64) as usize, 0);
        tail
    } else {
        path
    };
    out.extend_from_slice(&ustar(&short, size, secs(e), kind, mode));
    out
}

#[cfg(test)]
mod tests {
    use super::super::sample as entry;
    use super::*;

    #[test]
    fn ustar_fields_and_checksum() {
        let h = headers(&entry("a/b.txt", false, 5));
        assert_eq!(h.len(), 512);
        assert_eq!(&h[..7], b"a/b.txt");
        assert_eq!(&h[124..136], b"00000000005\0");
        assert_eq!(h[156], b'0');
        assert_eq!(&h[257..265], b"ustar\x0000");
        let mut sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
        sum -= h[148..156].iter().map(|&b| u64::from(b)).sum::<u64>();
        sum += 8 * u64::from(b' ');
        let field = std::str::from_utf8(&h[148..154]).unwrap();
        assert_eq!(u64::from_str_radix(field, 8).unwrap(), sum);
        let d = headers(&entry("dir", true, 0));
        assert_eq!(&d[..4], b"dir/");
        assert_eq!(d[156], b'5');
    }

    #[test]
    fn long_unicode_and_huge_use_pax() {
        let long = format!("{}/x.bin", "d".repeat(120));
        for e in [
            entry(&long, false, 3),
            entry("été.txt", false, 3),
            entry("big.bin", false, 5 << 30 << 1),
        ] {
            let h = headers(&e);
            assert_eq!(h.len() as u64, header_len(&e));
            assert_eq!(h.len() % 512, 0);
            assert_eq!(h[156], b'x');
            let records = String::from_utf8_lossy(&h[512..]);
            assert!(
                records.contains(&format!(" path={}\n", e.path)),
                "{records}"
            );
            // Each record's length counts itself.
            let first = records.split('\n').next().unwrap();
            let n: usize = first.split(' ').next().unwrap().parse().unwrap();
            assert_eq!(n, first.len() + 1);
            if e.size > USTAR_MAX_SIZE {
                assert!(records.contains(&format!(" size={}\n", e.size)));
            }
        }
        assert_eq!(padding(0), 0);
        assert_eq!(padding(1), 511);
        assert_eq!(padding(512), 0);
    }
}
