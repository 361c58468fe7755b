//! The hosted-session iframe: its permission list and its lifetime.

use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlIFrameElement};

use crate::options::SessionUrl;

/// Permission features a hosted capture page may be delegated. Anything else in a session's
/// `iframeAllow` is dropped; in the `allow` option it is refused.
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

/// The iframe's `referrerpolicy`: the hosted page learns the integrator's origin, not the path.
pub const REFERRER_POLICY: &str = "strict-origin-when-cross-origin";

/// Used when neither the session nor the options name the permissions.
pub const DEFAULT_ALLOW: &str = "camera; microphone; fullscreen; autoplay; encrypted-media";

/// Splits an `allow` value into feature names (lowercased, allow-list tokens such as `*` or
/// `'self'` dropped: every delegated feature keeps the default `'src'` origin).
fn features(value: &str) -> impl Iterator<Item = String> + '_ {
    value
        .split(';')
        .filter_map(|d| d.split_ascii_whitespace().next())
        .map(str::to_ascii_lowercase)
}

fn join(list: &[String]) -> String {
    list.join("; ")
}

/// Filters a session's `iframeAllow` to known features, de-duplicated; the default when
/// nothing known remains.
pub fn filter_allow(value: Option<&str>) -> String {
    let mut kept: Vec<String> = Vec::new();
    for f in features(value.unwrap_or("")) {
        if KNOWN_FEATURES.contains(&f.as_str()) && !kept.contains(&f) {
            kept.push(f);
        }
    }
    if kept.is_empty() {
        DEFAULT_ALLOW.to_owned()
    } else {
        join(&kept)
    }
}

/// Checks the integrator's `allow` option: every feature must be known. Returns the normalised
/// value, or the first feature refused.
pub fn check_allow(value: &str) -> Result<String, String> {
    let mut kept: Vec<String> = Vec::new();
    for f in features(value) {
        if !KNOWN_FEATURES.contains(&f.as_str()) {
            return Err(f);
        }
        if !kept.contains(&f) {
            kept.push(f);
        }
    }
    if kept.is_empty() {
        return Err(String::from("(empty)"));
    }
    Ok(join(&kept))
}

/// The mounted iframe. Dropping it removes it from the document.
#[derive(Debug)]
pub struct Frame {
    iframe: HtmlIFrameElement,
    url: SessionUrl,
    loaded: bool,
}

impl Frame {
    /// Mounts the iframe for `url` in `container`, or adopts the one the drop-in loader put in
    /// place before the wasm arrived: a child `iframe[data-gu1-kyc]` marked `early` (or `loaded`,
    /// once its load event has fired) is kept when its `src`, `allow` and `referrerpolicy` are
    /// exactly what this function would set, so the hosted page is not loaded twice. Any other
    /// `iframe[data-gu1-kyc]` child is removed. A new iframe gets `allow` and `referrerpolicy`
    /// before `src`, so they apply to its first navigation; sizing goes through CSSOM only.
    /// `None` when the document refuses the element.
    pub fn mount(
        container: &Element,
        url: SessionUrl,
        allow: &str,
        title: &str,
        height: &str,
    ) -> Option<Frame> {
        let mut adopted: Option<HtmlIFrameElement> = None;
        let mut loaded = false;
        if let Ok(found) = container.query_selector_all(":scope > iframe[data-gu1-kyc]") {
            for i in 0..found.length() {
                let Some(node) = found.item(i) else { continue };
                let Ok(el) = node.dyn_into::<HtmlIFrameElement>() else {
                    continue;
                };
                let attr = |name: &str| el.get_attribute(name);
                let mark = attr("data-gu1-kyc");
                let placed = matches!(mark.as_deref(), Some("early" | "loaded"));
                let same = attr("src").as_deref() == Some(url.href.as_str())
                    && attr("allow").as_deref() == Some(allow)
                    && attr("referrerpolicy").as_deref() == Some(REFERRER_POLICY);
                if adopted.is_none() && placed && same {
                    loaded = mark.as_deref() == Some("loaded");
                    adopted = Some(el);
                } else {
                    el.remove();
                }
            }
        }
        let iframe = match adopted {
            Some(iframe) => iframe,
            None => {
                let document = container.owner_document()?;
                let iframe: HtmlIFrameElement =
                    document.create_element("iframe").ok()?.dyn_into().ok()?;
                iframe.set_attribute("allow", allow).ok()?;
                iframe
                    .set_attribute("referrerpolicy", REFERRER_POLICY)
                    .ok()?;
                iframe.set_attribute("data-gu1-kyc", "").ok()?;
                iframe
            }
        };
        iframe.set_title(title);
        let style = iframe.style();
        let _ = style.set_property("display", "block");
        let _ = style.set_property("width", "100%");
        let _ = style.set_property("height", height);
        let _ = style.set_property("border", "0");
        if !iframe.is_connected() {
            iframe.set_src(&url.href);
            container.append_child(&iframe).ok()?;
        }
        Some(Frame {
            iframe,
            url,
            loaded,
        })
    }

    /// Whether an adopted iframe had already loaded (its `data-gu1-kyc` says `loaded`), so its
    /// `load` event will not come again.
    pub fn loaded(&self) -> bool {
        self.loaded
    }

    /// The iframe element.
    pub fn element(&self) -> &HtmlIFrameElement {
        &self.iframe
    }

    /// The URL it shows.
    pub fn url(&self) -> &SessionUrl {
        &self.url
    }

    /// Points the iframe at a new session URL (the proxy reported a different one).
    pub fn navigate(&mut self, url: SessionUrl) {
        self.iframe.set_src(&url.href);
        self.url = url;
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        self.iframe.remove();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_allow_is_filtered_and_deduplicated() {
        assert_eq!(
            filter_allow(Some(
                "camera; microphone; fullscreen; autoplay; encrypted-media"
            )),
            DEFAULT_ALLOW
        );
        assert_eq!(
            filter_allow(Some("camera *; usb; Microphone 'self'; camera")),
            "camera; microphone"
        );
        assert_eq!(
            filter_allow(Some("geolocation;clipboard-write")),
            "geolocation; clipboard-write"
        );
    }

    #[test]
    fn nothing_known_falls_back_to_default() {
        assert_eq!(filter_allow(None), DEFAULT_ALLOW);
        assert_eq!(filter_allow(Some("")), DEFAULT_ALLOW);
        assert_eq!(filter_allow(Some("payment; usb; serial")), DEFAULT_ALLOW);
        assert_eq!(filter_allow(Some(" ; ;")), DEFAULT_ALLOW);
    }

    #[test]
    fn option_allow_refuses_unknown_features() {
        assert_eq!(
            check_allow("camera; microphone").unwrap(),
            "camera; microphone"
        );
        assert_eq!(check_allow("CAMERA *").unwrap(), "camera");
        assert_eq!(check_allow("camera; payment").unwrap_err(), "payment");
        assert_eq!(check_allow("usb").unwrap_err(), "usb");
        assert!(check_allow("").is_err());
        assert!(check_allow(";").is_err());
    }
}
