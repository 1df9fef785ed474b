// The lead page. When htmx puts a panel back with an error (a status change refused for want of a
// note, an empty comment), move the focus to the field to fix: keyboard and screen-reader users
// land where the message is, instead of on a button that no longer exists.
(function () {
  "use strict";
  document.addEventListener("htmx:afterSettle", function () {
    var invalid = document.querySelector('#status-panel [aria-invalid="true"], #comments [aria-invalid="true"]');
    if (invalid) { invalid.focus(); }
  });
})();
