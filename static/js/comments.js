// A tiny formatting toolbar for comment boxes: wraps the selection in the few tags the server keeps.
// Without JavaScript the textarea still accepts the same tags typed by hand.
(function () {
  "use strict";
  var BUTTONS = [
    ["B", "<b>", "</b>"],
    ["I", "<i>", "</i>"],
    ["• List", "<ul>\n<li>", "</li>\n</ul>"],
    ["Code", "<code>", "</code>"],
    ["Link", '<a href="https://">', "</a>"],
  ];

  function wrap(area, before, after) {
    var start = area.selectionStart, end = area.selectionEnd, text = area.value;
    area.value = text.slice(0, start) + before + text.slice(start, end) + after + text.slice(end);
    area.focus();
    area.setSelectionRange(start + before.length, end + before.length);
  }

  function enhance(root) {
    root.querySelectorAll("textarea[data-rich]:not([data-rich-ready])").forEach(function (area) {
      area.setAttribute("data-rich-ready", "true");
      var bar = document.createElement("div");
      bar.className = "rich-toolbar";
      BUTTONS.forEach(function (spec) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "outline secondary";
        button.textContent = spec[0];
        button.addEventListener("click", function () { wrap(area, spec[1], spec[2]); });
        bar.appendChild(button);
      });
      area.parentNode.insertBefore(bar, area);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  document.addEventListener("htmx:afterSwap", function (event) { enhance(event.target); });
})();
