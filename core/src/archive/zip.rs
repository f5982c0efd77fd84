//! Zip (stored, no compression) records for one archive (APPNOTE 6.3):
//! a local header before each entry's data, a central directory after
//! the last, then the end records. Names are UTF-8 (flag bit 11); sizes
//! of 4 GiB and more, offsets past 4 GiB and more than 65,534 entries use
//! zip64 fields. Times are DOS times in UTC, with the exact second in an
//! extended-timestamp field (0x5455). Each entry's CRC-32 is written in
//! its local header (no data descriptors), so every byte is a function
//! of the entries and their CRCs, which the host supplies.

use super::ArchiveEntry;

const LOCAL: u64 = 30;
const CENTRAL: u64 = 46;
const END: u64 = 22;
const END64: u64 = 56;
const LOCATOR: u64 = 20;
/// The extended timestamp field: header (4), flags (1), mtime (4).
const XTIME: u64 = 9;
const MAX32: u64 = 0xFFFF_FFFF;

fn stored_name(e: &ArchiveEntry) -> String {
    if e.is_dir {
        format!("{}/", e.path)
    } else {
        e.path.clone()
    }
}

fn secs(e: &ArchiveEntry) -> u64 {
    u64::try_from(e.mtime_ns / 1_000_000_000).unwrap_or(u64::MAX)
}

/// The local header's length for `e`.
pub fn local_len(e: &ArchiveEntry) -> u64 {
    let zip64 = if e.size >= MAX32 { 20 } else { 0 };
    LOCAL + stored_name(e).len() as u64 + XTIME + zip64
}

/// The zip64 fields an entry's central header needs: sizes, offset.
fn central_zip64(e: &ArchiveEntry, offset: u64) -> (bool, bool) {
    (e.size >= MAX32, offset >= MAX32)
}

/// The central header's length for `e`, whose local header is at `offset`.
pub fn central_len(e: &ArchiveEntry, offset: u64) -> u64 {
    let (sizes, off) = central_zip64(e, offset);
    let fields = 16 * u64::from(sizes) + 8 * u64::from(off);
    let extra = if fields > 0 { 4 + fields } else { 0 };
    CENTRAL + stored_name(e).len() as u64 + XTIME + extra
}

/// True when the end needs the zip64 records.
pub fn needs_end64(count: usize, cd_start: u64, cd_len: u64) -> bool {
    count >= 0xFFFF || cd_start >= MAX32 || cd_len >= MAX32
}

/// The end records' length.
pub fn end_len(count: usize, cd_start: u64, cd_len: u64) -> u64 {
    if needs_end64(count, cd_start, cd_len) {
        END64 + LOCATOR + END
    } else {
        END
    }
}

/// DOS date and time (UTC) of a time in seconds since the epoch; dates
/// before 1980 are 1980-01-01.
fn dos_time(secs: u64) -> (u16, u16) {
    let days = (secs / 86_400) as i64;
    let (y, m, d) = crate::log::civil(days);
    if y < 1980 {
        return (0, (1 << 5) | 1);
    }
    let s = secs % 86_400;
    let time = (((s / 3600) << 11) | ((s / 60 % 60) << 5) | ((s % 60) / 2)) as u16;
    let date = (((y - 1980).min(127) as u16) << 9) | ((m as u16) << 5) | d as u16;
    (time, date)
}

fn xtime(e: &ArchiveEntry, out: &mut Vec<u8>) {
    out.extend_from_slice(&0x5455u16.to_le_bytes());
    out.extend_from_slice(&5u16.to_le_bytes());
    out.push(1);
    out.extend_from_slice(&(secs(e).min(u64::from(u32::MAX)) as u32).to_le_bytes());
}

/// The local header of `e`, whose data's CRC-32 is `crc`.
pub fn local(e: &ArchiveEntry, crc: u32) -> Vec<u8> {
    let name = stored_name(e);
    let big = e.size >= MAX32;
    let (time, date) = dos_time(secs(e));
    let mut h = Vec::with_capacity(local_len(e) as usize);
    h.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    h.extend_from_slice(&(if big { 45u16 } else { 20 }).to_le_bytes());
    h.extend_from_slice(&0x0800u16.to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes());
    h.extend_from_slice(&time.to_le_bytes());
    h.extend_from_slice(&date.to_le_bytes());
    h.extend_from_slice(&crc.to_le_bytes());
    let size32 = if big { u32::MAX } else { e.size as u32 };
    h.extend_from_slice(&size32.to_le_bytes());
    h.extend_from_slice(&size32.to_le_bytes());
    h.extend_from_slice(&(name.len() as u16).to_le_bytes());
    let extra = XTIME + if big { 20 } else { 0 };
    h.extend_from_slice(&(extra as u16).to_le_bytes());
    h.extend_from_slice(name.as_bytes());
    xtime(e, &mut h);
    if big {
        h.extend_from_slice(&1u16.to_le_bytes());
        h.extend_from_slice(&16u16.to_le_bytes());
        h.extend_from_slice(&e.size.to_le_bytes());
        h.extend_from_slice(&e.size.to_le_bytes());
    }
    h
}

/// The central directory header of `e`, its local header at `offset`.
pub fn central(e: &ArchiveEntry, crc: u32, offset: u64) -> Vec<u8> {
    let name = stored_name(e);
    let (sizes, off) = central_zip64(e, offset);
    let (time, date) = dos_time(secs(e));
    let mut h = Vec::with_capacity(central_len(e, offset) as usize);
    h.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    // Made by Unix (3), spec 4.5; needed 4.5 with zip64 fields, else 2.0.
    h.extend_from_slice(&(3u16 << 8 | 45).to_le_bytes());
    h.extend_from_slice(&(if sizes || off { 45u16 } else { 20 }).to_le_bytes());
    h.extend_from_slice(&0x0800u16.to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes());
    h.extend_from_slice(&time.to_le_bytes());
    h.extend_from_slice(&date.to_le_bytes());
    h.extend_from_slice(&crc.to_le_bytes());
    let size32 = if sizes { u32::MAX } else { e.size as u32 };
    h.extend_from_slice(&size32.to_le_bytes());
    h.extend_from_slice(&size32.to_le_bytes());
    h.extend_from_slice(&(name.len() as u16).to_le_bytes());
    let fields = 16 * u64::from(sizes) + 8 * u64::from(off);
    let extra = XTIME + if fields > 0 { 4 + fields } else { 0 };
    h.extend_from_slice(&(extra as u16).to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes()); // comment
    h.extend_from_slice(&0u16.to_le_bytes()); // disk
    h.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
    let mode: u32 = if e.is_dir { 0o040_755 } else { 0o100_644 };
    let dos_dir: u32 = if e.is_dir { 0x10 } else { 0 };
    h.extend_from_slice(&(mode << 16 | dos_dir).to_le_bytes());
    let off32 = if off { u32::MAX } else { offset as u32 };
    h.extend_from_slice(&off32.to_le_bytes());
    h.extend_from_slice(name.as_bytes());
    xtime(e, &mut h);
    if fields > 0 {
        h.extend_from_slice(&1u16.to_le_bytes());
        h.extend_from_slice(&(fields as u16).to_le_bytes());
        if sizes {
            h.extend_from_slice(&e.size.to_le_bytes());
            h.extend_from_slice(&e.size.to_le_bytes());
        }
        if off {
            h.extend_from_slice(&offset.to_le_bytes());
        }
    }
    h
}

/// The end records: zip64 end and locator when needed, then the end of
/// the central directory.
pub fn end(count: usize, cd_start: u64, cd_len: u64) -> Vec<u8> {
    let mut h = Vec::new();
    let n = count as u64;
    if needs_end64(count, cd_start, cd_len) {
        let at = cd_start + cd_len;
        h.extend_from_slice(&0x0606_4b50u32.to_le_bytes());
        h.extend_from_slice(&(END64 - 12).to_le_bytes());
        h.extend_from_slice(&(3u16 << 8 | 45).to_le_bytes());
        h.extend_from_slice(&45u16.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&n.to_le_bytes());
        h.extend_from_slice(&n.to_le_bytes());
        h.extend_from_slice(&cd_len.to_le_bytes());
        h.extend_from_slice(&cd_start.to_le_bytes());
        h.extend_from_slice(&0x0706_4b50u32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&at.to_le_bytes());
        h.extend_from_slice(&1u32.to_le_bytes());
    }
    let n16 = if count >= 0xFFFF {
        u16::MAX
    } else {
        count as u16
    };
    h.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes());
    h.extend_from_slice(&n16.to_le_bytes());
    h.extend_from_slice(&n16.to_le_bytes());
    h.extend_from_slice(&(cd_len.min(MAX32) as u32).to_le_bytes());
    h.extend_from_slice(&(cd_start.min(MAX32) as u32).to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::super::sample as e;
    use super::*;

    #[test]
    fn lengths_match_the_records() {
        for x in [
            e("a.txt", false, 3),
            e("été", true, 0),
            e("big", false, 5 << 30),
        ] {
            assert_eq!(local(&x, 7).len() as u64, local_len(&x));
            for off in [0, 5 << 30] {
                assert_eq!(central(&x, 7, off).len() as u64, central_len(&x, off));
            }
        }
        for (n, start, len) in [(3, 100, 200), (70_000, 100, 200), (2, 5 << 30, 10)] {
            assert_eq!(end(n, start, len).len() as u64, end_len(n, start, len));
        }
        // 2023-11-14 22:13:20 UTC.
        assert_eq!(
            dos_time(1_700_000_000),
            (
                (22 << 11 | 13 << 5 | 10) as u16,
                ((43 << 9) | (11 << 5) | 14) as u16
            )
        );
        assert_eq!(dos_time(0), (0, 33), "before 1980");
    }
}
