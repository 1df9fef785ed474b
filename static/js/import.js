// Import wizard: "ignore every column without a field", highlight unmapped columns, confirm revert.
(function () {
  "use strict";

  function markUnmapped(select) {
    var row = select.closest("tr");
    if (row) row.classList.toggle("unmapped", !select.value);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-action='ignore-unmatched']");
    if (!button) return;
    var form = button.closest("form");
    form.querySelectorAll("table.mapping select").forEach(function (select) {
      if (!select.value) {
        select.value = "__ignore__";
        markUnmapped(select);
      }
    });
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("table.mapping select")) markUnmapped(event.target);
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });
})();
