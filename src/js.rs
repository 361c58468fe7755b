//! The JavaScript the whole crate calls: the page's document, `JSON.parse`, and property reads
//! and writes through `Reflect` with one import each and no exception check, for objects known
//! not to throw (see each function). The driver's own imports are in `driver::ffi`.

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(thread_local_v2, js_name = document)]
    static DOCUMENT: web_sys::Document;
    /// `JSON.parse`, which throws on text that is not JSON.
    #[wasm_bindgen(js_namespace = JSON, js_name = parse, catch)]
    pub(crate) fn json_parse(text: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = Reflect, js_name = set)]
    fn reflect_set(target: &JsValue, key: &str, value: &JsValue) -> bool;
    /// `Reflect.get` where it cannot throw: on objects this crate made, parsed JSON, `URL`s and
    /// the document's own nodes (plain data properties and the browser's own getters). Objects
    /// from the page (options, events, message data) are read with `Reflect::get`, which catches.
    #[wasm_bindgen(js_namespace = Reflect, js_name = get)]
    pub(crate) fn get(target: &JsValue, key: &str) -> JsValue;
}

/// The page's document.
pub(crate) fn document() -> web_sys::Document {
    DOCUMENT.with(Clone::clone)
}

/// `Reflect.set` on an object we created; it cannot throw for plain objects and errors, so it
/// is declared without an exception check.
pub(crate) fn set(target: &JsValue, key: &str, value: &JsValue) {
    reflect_set(target, key, value);
}
