// Lead list: "select page" checkbox and showing only the inputs the chosen bulk action needs.
// Without JavaScript every input stays visible and the form works the same.
(function () {
  "use strict";
  function init() {
    var pageBox = document.querySelector("[data-select-page]");
    if (pageBox) {
      pageBox.addEventListener("change", function () {
        document.querySelectorAll('input[name="ids"][form="bulk-form"]').forEach(function (box) {
          box.checked = pageBox.checked;
        });
      });
    }
    var operation = document.querySelector('[data-testid="bulk-operation"]');
    if (!operation) return;
    function sync() {
      document.querySelectorAll("[data-bulk-for]").forEach(function (input) {
        input.hidden = input.getAttribute("data-bulk-for") !== operation.value;
      });
    }
    operation.addEventListener("change", sync);
    sync();
  }
  document.addEventListener("DOMContentLoaded", init);
})();
