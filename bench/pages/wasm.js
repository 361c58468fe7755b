// The least any npm-delivered wasm client can do: a module script that fetches and instantiates
// an empty wasm (8 bytes: the magic number and version, served by run.mjs as /empty.wasm), then
// creates the iframe. Its time to iframe is the cost of a module, a second request and a wasm
// instantiation, with no client code in them.
const { instance } = await WebAssembly.instantiate(await (await fetch("/empty.wasm")).arrayBuffer());
const el = document.getElementById("kyc");
const f = document.createElement("iframe");
f.setAttribute("allow", "camera; microphone; fullscreen; autoplay; encrypted-media");
f.title = "Identity verification";
f.src = el.getAttribute("data-src");
el.appendChild(f);
window.__instance = instance;
