//! `--qr`: the address people should open, as a QR code on the terminal,
//! so a phone on the same network can open it by pointing its camera.
//! Drawn as `qrencode -t UTF8` does: two modules per character, light
//! modules as blocks (right on a dark terminal; scanners read both).

use qrcode::render::unicode::Dense1x2;
use qrcode::{EcLevel, QrCode};

/// The address a phone can reach: the first that is not loopback (a phone
/// cannot open 127.0.0.1), else the first.
pub fn phone_url(urls: &[String]) -> Option<&str> {
    let remote = urls
        .iter()
        .find(|u| !(u.contains("://127.") || u.contains("://[::1]") || u.contains("://localhost")));
    remote.or(urls.first()).map(String::as_str)
}

/// `url` as a QR code in text (with its quiet zone), or `None` when it
/// does not fit one.
pub fn render(url: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(url, EcLevel::L).ok()?;
    Some(
        code.render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .quiet_zone(true)
            .module_dimensions(1, 1)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_get_a_reachable_address() {
        let urls: Vec<String> = [
            "http://127.0.0.1:8/",
            "http://[::1]:8/",
            "http://192.0.2.7:8/",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(phone_url(&urls), Some("http://192.0.2.7:8/"));
        assert_eq!(phone_url(&urls[..1]), Some("http://127.0.0.1:8/"));
        assert_eq!(phone_url(&[]), None);
        let art = render("http://192.0.2.7:8/").unwrap();
        let widths: Vec<usize> = art.lines().map(|l| l.chars().count()).collect();
        // A version-1 or -2 code (21 or 25 modules) and a 4-module zone.
        assert!(widths.iter().all(|&w| w == widths[0]) && [29, 33].contains(&widths[0]));
        assert!(art.chars().all(|c| " █▀▄\n".contains(c)));
    }
}
