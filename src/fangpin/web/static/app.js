// fangpin: a little progressive enhancement, no build step. Pages work without it.
document.addEventListener("submit", function (ev) {
  var f = ev.target;
  if (f.classList && f.classList.contains("action")) {
    var btn = f.querySelector("button");
    if (!window.confirm((btn ? btn.textContent.trim() : "") + " ?")) { ev.preventDefault(); return; }
  }
  var b = f.querySelector && f.querySelector("button[type=submit]");
  if (b) { setTimeout(function () { b.disabled = true; }, 0); }  // no double submit
});
