//! The Content-Type of a file, guessed from its name.

/// The Content-Type for a file name, guessed from its extension.
pub fn content_type(name: &str) -> &'static str {
    match name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .as_deref()
    {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("txt" | "text" | "md" | "log" | "csv" | "rs" | "toml" | "py" | "sh" | "c" | "h") => {
            "text/plain; charset=utf-8"
        }
        _ => mime_guess::from_path(name)
            .first_raw()
            .unwrap_or("application/octet-stream"),
    }
}
