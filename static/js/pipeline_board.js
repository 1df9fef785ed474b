// Drag a card onto another column: submits the card's own stage form through htmx. Without
// JavaScript (or htmx) the same form works with its Move button.
(function () {
  function init(root) {
    const board = root.querySelector ? root.querySelector("#board") || root : root;
    if (!board || !board.classList || !board.classList.contains("board")) return;
    board.classList.add("js-board");
    board.querySelectorAll(".card").forEach(function (card) {
      card.addEventListener("dragstart", function (event) {
        event.dataTransfer.setData("text/plain", card.dataset.opportunity);
      });
      const select = card.querySelector("select[name=stage]");
      if (select) select.addEventListener("change", function () { submit(card); });
    });
    board.querySelectorAll(".board-column").forEach(function (column) {
      column.addEventListener("dragover", function (event) { event.preventDefault(); column.classList.add("drop-target"); });
      column.addEventListener("dragleave", function () { column.classList.remove("drop-target"); });
      column.addEventListener("drop", function (event) {
        event.preventDefault();
        column.classList.remove("drop-target");
        const card = board.querySelector('.card[data-opportunity="' + event.dataTransfer.getData("text/plain") + '"]');
        const select = card && card.querySelector("select[name=stage]");
        if (!select || select.value === column.dataset.stage) return;
        select.value = column.dataset.stage;
        submit(card);
      });
    });
  }
  function submit(card) {
    const form = card.querySelector("form");
    // A board htmx has just swapped in may not be processed yet: process it so the form posts
    // through htmx and not as a full page.
    if (window.htmx) window.htmx.process(form);
    if (form.requestSubmit) form.requestSubmit(); else form.submit();
  }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSwap", function () { init(document); });
})();
