// Lead list: "select page", the inputs each bulk action needs, the column picker, the filter panel
// on small screens, and keyboard navigation (j/k move, Enter open, x select, / search).
// Without JavaScript every input stays visible and the forms work the same.
(function () {
  "use strict";

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-lead-row]"));
  }

  function initSelectPage() {
    var pageBox = document.querySelector("[data-select-page]");
    if (!pageBox) return;
    pageBox.addEventListener("change", function () {
      document.querySelectorAll('input[name="ids"][form="bulk-form"]').forEach(function (box) {
        box.checked = pageBox.checked;
        box.dispatchEvent(new Event("change", { bubbles: true }));
      });
    });
  }

  // An SDR or a manager cannot delete pool leads: say so before the server refuses the whole job.
  function initBulkForm() {
    var form = document.getElementById("bulk-form");
    var operation = document.querySelector('[data-testid="bulk-operation"]');
    if (!form || !operation) return;
    var warning = form.querySelector("[data-bulk-warning]");
    var submit = form.querySelector('[data-testid="bulk-submit"]');
    function sync() {
      document.querySelectorAll("[data-bulk-for]").forEach(function (input) {
        input.hidden = input.getAttribute("data-bulk-for") !== operation.value;
      });
      var blocked = form.hasAttribute("data-pool-untrashable") && operation.value === "delete" &&
        document.querySelector('input[name="ids"][data-pool]:checked') !== null;
      warning.hidden = !blocked;
      submit.disabled = blocked;
    }
    operation.addEventListener("change", sync);
    document.addEventListener("change", function (event) {
      if (event.target.name === "ids") sync();
    });
    sync();
  }

  function initColumns() {
    var form = document.querySelector("[data-column-form]");
    if (!form) return;
    form.addEventListener("change", function () { form.requestSubmit(); });
  }

  // The panel opens when filters are active; on a phone the chips say which, so it starts closed.
  function initPanel() {
    var panel = document.querySelector("[data-filter-panel]");
    if (panel && window.matchMedia("(max-width: 767px)").matches) panel.open = false;
  }

  var focused = -1;

  function focusRow(index) {
    var all = rows();
    if (!all.length) return;
    focused = Math.max(0, Math.min(index, all.length - 1));
    all.forEach(function (row, i) { row.classList.toggle("is-focused", i === focused); });
    all[focused].scrollIntoView({ block: "nearest" });
  }

  // Letters belong to whatever the user is typing in; a ticked checkbox still lets j/k/x work.
  function isTyping(target) {
    var tag = target.tagName;
    if (tag === "INPUT") return target.type !== "checkbox" && target.type !== "radio";
    return target.isContentEditable || tag === "TEXTAREA" || tag === "SELECT";
  }

  function onKey(event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return;
    var row = rows()[focused];
    if (event.key === "j") focusRow(focused + 1);
    else if (event.key === "k") focusRow(focused - 1);
    else if (event.key === "Enter" && row && !event.target.closest("a, button, summary")) {
      window.location.assign(row.querySelector("[data-row-link]").href);
    } else if (event.key === "x" && row) {
      var box = row.querySelector('input[name="ids"]');
      if (!box) return;
      box.checked = !box.checked;
      box.dispatchEvent(new Event("change", { bubbles: true }));
    } else if (event.key === "/") {
      var search = document.getElementById("id_q");
      if (!search) return;
      var panel = search.closest("details");
      if (panel) panel.open = true;
      search.focus();
    } else return;
    event.preventDefault();
  }

  function init() {
    initSelectPage();
    initBulkForm();
    initColumns();
    initPanel();
    document.addEventListener("keydown", onKey);
  }
  document.addEventListener("DOMContentLoaded", init);
})();
