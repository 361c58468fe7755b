//! The camera pre-flight: whether the hosted page's capture can work in an iframe here, decided
//! from facts the driver reads from the browser. Pure, tested natively.
//!
//! Unknown is not failure: a fact a browser does not expose (`None`) never makes the verdict
//! fail, so where a browser cannot tell, the iframe is tried.

/// What the browser says about the page, read by the driver (`driver::facts`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Facts<'a> {
    /// `isSecureContext`.
    pub secure: bool,
    /// `navigator.mediaDevices.getUserMedia` exists.
    pub media: bool,
    /// The page's Permissions Policy allows the camera for the hosted origin
    /// (`document.permissionsPolicy` or `document.featurePolicy`), where the browser exposes it.
    pub policy: Option<bool>,
    /// The page is itself in a frame. Alone it decides nothing: the policy above already
    /// accounts for the parent's delegation where it is exposed, and where it is not the
    /// browser cannot tell.
    pub framed: bool,
    /// `navigator.userAgent`.
    pub agent: &'a str,
    /// The camera permission's state (`navigator.permissions`), where the browser answers.
    pub permission: Option<&'a str>,
}

/// Why the camera cannot work in the iframe, in the order the verdict checks them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The page is not a secure context: no browser offers `getUserMedia` there.
    InsecureContext,
    /// The browser has no `navigator.mediaDevices.getUserMedia`.
    NoMediaDevices,
    /// The page's Permissions Policy (or a parent frame's) does not delegate the camera.
    CameraBlockedByPolicy,
    /// An in-app browser or WebView, where capture inside a cross-origin iframe fails.
    InAppBrowser,
    /// The person (or the browser's settings) denied the camera to this site.
    CameraDenied,
    /// The hosted page reported that the camera failed inside the iframe (a fallback reason,
    /// not a pre-flight verdict).
    CameraFailedInFrame,
    /// The iframe loaded but the hosted page posted nothing within `readyTimeoutMs` (a fallback
    /// reason, not a pre-flight verdict).
    FrameNotResponding,
}

/// Every reason, in `Reason` order.
pub const REASONS: [Reason; 5] = [
    Reason::InsecureContext,
    Reason::NoMediaDevices,
    Reason::CameraBlockedByPolicy,
    Reason::InAppBrowser,
    Reason::CameraDenied,
];

impl Reason {
    /// The stable code (`gu1kyc:fallback`'s `reason`, `preflight()`'s answer).
    pub fn as_str(self) -> &'static str {
        [
            "INSECURE_CONTEXT",
            "NO_MEDIA_DEVICES",
            "CAMERA_BLOCKED_BY_POLICY",
            "IN_APP_BROWSER",
            "CAMERA_DENIED",
            "CAMERA_FAILED_IN_FRAME",
            "FRAME_NOT_RESPONDING",
        ][self as usize]
    }
}

/// User-agent marks of in-app browsers and WebViews: Instagram, Facebook (iOS and Android),
/// Messenger, TikTok (two spellings), LinkedIn, WeChat, Snapchat, Line, and Android's WebView
/// (`; wv)`).
const IN_APP: [&[u8]; 11] = [
    b"Instagram",
    b"FBAN/",
    b"FBAV/",
    b"FB_IAB",
    b"musical_ly",
    b"BytedanceWebview",
    b"LinkedInApp",
    b"MicroMessenger",
    b"Snapchat",
    b" Line/",
    b"; wv)",
];

/// Whether `hay` contains `needle` (bytes; no `str::find`, which links a searcher of its own).
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Whether the user agent is an in-app browser or a WebView. On iOS every browser is WebKit,
/// and Safari and the other browsers say so (`Safari/`); an app's WKWebView does not.
pub fn in_app(agent: &str) -> bool {
    let a = agent.as_bytes();
    let ios = contains(a, b"iPhone") || contains(a, b"iPad") || contains(a, b"iPod");
    IN_APP.iter().any(|m| contains(a, m)) || (ios && !contains(a, b"Safari/"))
}

/// The verdict on the facts known now, the permission state included when given: `None` when
/// the iframe should be tried.
pub fn verdict(f: &Facts) -> Option<Reason> {
    let reason = if !f.secure {
        Reason::InsecureContext
    } else if !f.media {
        Reason::NoMediaDevices
    } else if f.policy == Some(false) {
        Reason::CameraBlockedByPolicy
    } else if in_app(f.agent) {
        Reason::InAppBrowser
    } else {
        return late(f.permission);
    };
    Some(reason)
}

/// The verdict's last step, on the one fact that arrives late: the camera permission's state,
/// once every other fact has passed.
pub fn late(permission: Option<&str>) -> Option<Reason> {
    (permission == Some("denied")).then_some(Reason::CameraDenied)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
    const SAFARI_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
    const CHROME_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1";
    const WKWEBVIEW: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148";
    const INSTAGRAM: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 340.0.3.23.92 (iPhone14,5; iOS 17_5; en_US)";
    const FACEBOOK_ANDROID: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/UQ1A; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/131.0.6778.81 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/490.0.0.40.108;]";
    const ANDROID_WEBVIEW: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/131.0.0.0 Mobile Safari/537.36";
    const TIKTOK: &str = "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36 musical_ly_2023509030 BytedanceWebview/d8a21c6";
    const WECHAT: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x1800323a) NetType/WIFI Language/en";
    const LINKEDIN: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [LinkedInApp]/9.30.1";
    const SNAPCHAT: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36 Snapchat/13.20.0.40 (like Safari/604.1)";
    const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

    fn ok_facts(agent: &str) -> Facts<'_> {
        Facts {
            secure: true,
            media: true,
            policy: None,
            framed: false,
            agent,
            permission: None,
        }
    }

    #[test]
    fn codes_are_stable() {
        use Reason::*;
        let all = [
            InsecureContext,
            NoMediaDevices,
            CameraBlockedByPolicy,
            InAppBrowser,
            CameraDenied,
        ];
        let codes: Vec<_> = all.iter().map(|r| r.as_str()).collect();
        assert_eq!(
            codes,
            [
                "INSECURE_CONTEXT",
                "NO_MEDIA_DEVICES",
                "CAMERA_BLOCKED_BY_POLICY",
                "IN_APP_BROWSER",
                "CAMERA_DENIED"
            ]
        );
    }

    #[test]
    fn user_agents() {
        for a in [
            INSTAGRAM,
            FACEBOOK_ANDROID,
            ANDROID_WEBVIEW,
            TIKTOK,
            WECHAT,
            LINKEDIN,
            SNAPCHAT,
            WKWEBVIEW,
        ] {
            assert!(in_app(a), "{a}");
        }
        for a in [CHROME, SAFARI_IOS, CHROME_IOS, FIREFOX, ""] {
            assert!(!in_app(a), "{a}");
        }
    }

    /// Every combination of the facts, against the rule written out: the first failing fact in
    /// the documented order decides; an unknown fact never fails; `framed` alone decides nothing.
    #[test]
    fn every_combination() {
        let agents = [CHROME, INSTAGRAM];
        let policies = [None, Some(true), Some(false)];
        let permissions = [None, Some("granted"), Some("prompt"), Some("denied")];
        let mut seen = 0;
        for bits in 0..8u8 {
            let (secure, media, framed) = (bits & 1 != 0, bits & 2 != 0, bits & 4 != 0);
            for policy in policies {
                for agent in agents {
                    for permission in permissions {
                        let f = Facts {
                            secure,
                            media,
                            policy,
                            framed,
                            agent,
                            permission,
                        };
                        let expected = if !secure {
                            Some(Reason::InsecureContext)
                        } else if !media {
                            Some(Reason::NoMediaDevices)
                        } else if policy == Some(false) {
                            Some(Reason::CameraBlockedByPolicy)
                        } else if agent == INSTAGRAM {
                            Some(Reason::InAppBrowser)
                        } else if permission == Some("denied") {
                            Some(Reason::CameraDenied)
                        } else {
                            None
                        };
                        assert_eq!(verdict(&f), expected, "{f:?}");
                        seen += 1;
                    }
                }
            }
        }
        assert_eq!(seen, 8 * 3 * 2 * 4);
    }

    #[test]
    fn unknown_is_not_failure() {
        assert_eq!(verdict(&ok_facts(CHROME)), None);
        let framed = Facts {
            framed: true,
            ..ok_facts(FIREFOX)
        };
        assert_eq!(verdict(&framed), None);
        let blocked = Facts {
            policy: Some(false),
            permission: Some("granted"),
            ..ok_facts(CHROME)
        };
        assert_eq!(verdict(&blocked), Some(Reason::CameraBlockedByPolicy));
        let denied = Facts {
            permission: Some("denied"),
            ..ok_facts(SAFARI_IOS)
        };
        assert_eq!(verdict(&denied), Some(Reason::CameraDenied));
    }
}
