// s3sessions viewer: small conveniences on top of pages that work without script.
// Loaded from /static (the Content-Security-Policy allows no other script); it only reads attributes the
// server wrote and sets text with textContent, never HTML.
"use strict";

(function () {
  function folds() {
    return Array.prototype.slice.call(document.querySelectorAll("details.fold"));
  }

  var tools = document.getElementById("transcript-tools");
  if (tools) {
    tools.hidden = false;
    document.getElementById("expand-all").addEventListener("click", function () {
      folds().forEach(function (fold) { fold.open = true; });
    });
    document.getElementById("collapse-all").addEventListener("click", function () {
      folds().forEach(function (fold) { fold.open = false; });
    });
  }

  if (navigator.clipboard && window.isSecureContext) {
    Array.prototype.forEach.call(document.querySelectorAll("button.copy[data-copy]"), function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(button.getAttribute("data-copy") || "").then(function () {
          button.textContent = "copied";
          window.setTimeout(function () { button.textContent = "copy"; }, 1500);
        });
      });
    });
  }

  // Opening a link to a message or turn inside a folded block: unfold what holds it.
  function reveal() {
    var id = "";
    try {
      id = decodeURIComponent(window.location.hash.slice(1));
    } catch (error) {
      return; // a malformed fragment names nothing of ours
    }
    var target = id ? document.getElementById(id) : null;
    for (var node = target; node; node = node.parentElement) {
      if (node.tagName === "DETAILS") { node.open = true; }
    }
  }
  window.addEventListener("hashchange", reveal);
  reveal();

  document.documentElement.setAttribute("data-viewer-script", "ready");
})();
