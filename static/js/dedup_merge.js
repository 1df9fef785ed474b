// Merge page: highlight the chosen value of each field, so the survivor's future record reads
// straight down the table. Without JavaScript the radios work the same, only unhighlighted.
(function () {
  "use strict";

  function mark(row) {
    row.querySelectorAll("td").forEach(function (cell) {
      var radio = cell.querySelector("input[type=radio]");
      cell.classList.toggle("chosen", Boolean(radio && radio.checked));
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".merge-table tbody tr").forEach(function (row) {
      mark(row);
      row.addEventListener("change", function () { mark(row); });
    });
  });
})();
