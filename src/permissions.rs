//! The permission features the hosted page's iframe is delegated (`allow`), as a bit set.

/// Permission features a hosted capture page may be delegated, in the order `allow` lists
/// them. Anything else in a session's `iframeAllow` is dropped; in the `allow` option it is
/// refused.
pub const KNOWN_FEATURES: [&str; 12] = [
    "camera",
    "microphone",
    "fullscreen",
    "autoplay",
    "encrypted-media",
    "geolocation",
    "clipboard-read",
    "clipboard-write",
    "accelerometer",
    "gyroscope",
    "magnetometer",
    "picture-in-picture",
];

/// A set of `KNOWN_FEATURES`, bit `i` for feature `i`.
pub type Permissions = u16;

/// The camera's bit: the pre-flight runs only for sessions delegated the camera.
pub const CAMERA: Permissions = 1;

/// Camera, microphone, fullscreen, autoplay, encrypted-media: used when neither the session
/// nor the options name a known feature.
pub const DEFAULT: Permissions = 0b1_1111;

/// `DEFAULT` as the iframe's `allow` attribute.
pub const DEFAULT_ALLOW: &str = "camera; microphone; fullscreen; autoplay; encrypted-media";

/// Reads an `allow` value: the set of known features it names, and the first feature it names
/// that is not known. Allow-list tokens such as `*` or `'self'` are dropped: every delegated
/// feature keeps the default `'src'` origin. Scanned byte by byte: `;` ends a directive, ASCII
/// white space ends its name.
fn scan(value: &str) -> (Permissions, Option<&str>) {
    let (mut set, mut unknown) = (0, None);
    let bytes = value.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        // One directive: skip white space, take the name, skip to past the next `;`.
        while bytes.get(at).is_some_and(u8::is_ascii_whitespace) {
            at += 1;
        }
        let start = at;
        while bytes
            .get(at)
            .is_some_and(|&b| b != b';' && !b.is_ascii_whitespace())
        {
            at += 1;
        }
        // Cut at ASCII bytes, so always on character boundaries.
        let name = value.get(start..at).unwrap_or_default();
        while bytes.get(at).is_some_and(|&b| b != b';') {
            at += 1;
        }
        at += 1;
        match KNOWN_FEATURES
            .iter()
            .position(|k| k.eq_ignore_ascii_case(name))
        {
            Some(i) => set |= 1 << i,
            None if !name.is_empty() => {
                unknown.get_or_insert(name);
            }
            None => {}
        }
    }
    (set, unknown)
}

/// Filters a session's `iframeAllow` to known features; `DEFAULT` when none remains.
pub fn filter(value: &str) -> Permissions {
    match scan(value).0 {
        0 => DEFAULT,
        set => set,
    }
}

/// Checks the integrator's `allow` option: every feature must be known. Returns the set, or
/// the first feature refused.
pub fn check(value: &str) -> Result<Permissions, &str> {
    match scan(value) {
        (_, Some(refused)) => Err(refused),
        (0, None) => Err("(empty)"),
        (set, None) => Ok(set),
    }
}

/// The `allow` attribute for a set: known features in their listed order, `; `-separated.
pub fn render(set: Permissions) -> String {
    let mut s = String::new();
    for (i, name) in KNOWN_FEATURES.iter().enumerate() {
        if set & (1 << i) != 0 {
            if !s.is_empty() {
                s.push_str("; ");
            }
            s.push_str(name);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_allow_is_filtered_and_deduplicated() {
        assert_eq!(render(filter(DEFAULT_ALLOW)), DEFAULT_ALLOW);
        assert_eq!(render(DEFAULT), DEFAULT_ALLOW);
        assert_eq!(
            render(filter("camera *; usb; Microphone 'self'; camera")),
            "camera; microphone"
        );
        assert_eq!(
            render(filter("geolocation;clipboard-write")),
            "geolocation; clipboard-write"
        );
    }

    #[test]
    fn nothing_known_falls_back_to_default() {
        for v in ["", "payment; usb; serial", " ; ;"] {
            assert_eq!(filter(v), DEFAULT, "{v}");
        }
    }

    #[test]
    fn option_allow_refuses_unknown_features() {
        assert_eq!(
            render(check("camera; microphone").unwrap()),
            "camera; microphone"
        );
        assert_eq!(render(check("CAMERA *").unwrap()), "camera");
        assert_eq!(check("camera; payment").unwrap_err(), "payment");
        assert_eq!(check("usb").unwrap_err(), "usb");
        assert!(check("").is_err());
        assert!(check(";").is_err());
    }
}
