//! Property reads and writes on JavaScript objects through `Reflect`, with one import each and no
//! exception check, for objects known not to throw (see each function).

use wasm_bindgen::JsValue;

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = Reflect, js_name = set)]
    fn reflect_set(target: &JsValue, key: &str, value: &JsValue) -> bool;
    /// `Reflect.get` where it cannot throw: on objects this crate made, parsed JSON, `URL`s and
    /// the document's own nodes (plain data properties and the browser's own getters). Objects
    /// from the page (options, events, message data) are read with `Reflect::get`, which catches.
    #[wasm_bindgen(js_namespace = Reflect, js_name = get)]
    pub(crate) fn get(target: &JsValue, key: &str) -> JsValue;
}

/// `Reflect.set` on an object we created; it cannot throw for plain objects and errors, so it
/// is declared without an exception check.
pub(crate) fn set(target: &JsValue, key: &str, value: &JsValue) {
    reflect_set(target, key, value);
}
