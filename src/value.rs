//! Reading untrusted values (proxy answers, hosted-page messages) by key, without iterating
//! them and without a deserializer: the browser's `JsValue`, or JSON in native tests.

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

#[wasm_bindgen]
extern "C" {
    /// `Object.hasOwn`, which runs a proxy's trap: a message's data can be any object the page
    /// made, so what it throws is caught here rather than crossing the wasm frames.
    #[wasm_bindgen(catch, js_namespace = Object, js_name = hasOwn)]
    fn has_own(obj: &JsValue, key: &str) -> Result<bool, JsValue>;
}

/// A value from JSON or from `postMessage`.
pub trait Value: Sized {
    /// The value as a string, when it is one.
    fn text(&self) -> Option<String>;
    /// Whether it is a string.
    fn is_text(&self) -> bool;
    /// Whether it is `null` or `undefined`.
    fn is_null(&self) -> bool;
    /// Whether it is a plain object (not an array, a function or a primitive).
    fn is_object(&self) -> bool;
    /// Own property `key` of a plain object.
    fn field(&self, key: &str) -> Option<Self>;
    /// This string value parsed as JSON.
    fn parse(&self) -> Option<Self>;
}

impl Value for JsValue {
    fn text(&self) -> Option<String> {
        self.as_string()
    }

    fn is_text(&self) -> bool {
        self.is_string()
    }

    fn is_null(&self) -> bool {
        self.is_null() || self.is_undefined()
    }

    fn is_object(&self) -> bool {
        // `typeof` is "object": not a function, not a primitive.
        JsValue::is_object(self) && !js_sys::Array::is_array(self)
    }

    fn field(&self, key: &str) -> Option<JsValue> {
        if !Value::is_object(self) {
            return None;
        }
        if has_own(self, key) != Ok(true) {
            return None;
        }
        js_sys::Reflect::get(self, &JsValue::from_str(key)).ok()
    }

    fn parse(&self) -> Option<JsValue> {
        crate::js::json_parse(self).ok()
    }
}

#[cfg(test)]
impl Value for serde_json::Value {
    fn text(&self) -> Option<String> {
        self.as_str().map(str::to_owned)
    }
    fn is_text(&self) -> bool {
        self.is_string()
    }
    fn is_null(&self) -> bool {
        serde_json::Value::is_null(self)
    }
    fn is_object(&self) -> bool {
        serde_json::Value::is_object(self)
    }
    fn field(&self, key: &str) -> Option<serde_json::Value> {
        self.as_object()?.get(key).cloned()
    }
    fn parse(&self) -> Option<serde_json::Value> {
        serde_json::from_str(self.as_str()?).ok()
    }
}
