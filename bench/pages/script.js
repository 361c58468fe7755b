// The least any script-delivered SDK can do: an async classic script that creates the iframe at
// once, with no checks and no other work. Its time to iframe is the cost of loading a script.
(function () {
  var el = document.getElementById("kyc");
  var f = document.createElement("iframe");
  f.setAttribute("allow", "camera; microphone; fullscreen; autoplay; encrypted-media");
  f.title = "Identity verification";
  f.src = el.getAttribute("data-src");
  el.appendChild(f);
})();
