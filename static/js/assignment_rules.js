// Rule editor: "Add a condition" / "Add a member" append a blank formset row from the
// <template> Django rendered with the __prefix__ placeholder, and bump TOTAL_FORMS.
document.addEventListener("DOMContentLoaded", () => {
  for (const fieldset of document.querySelectorAll("[data-formset]")) {
    const prefix = fieldset.dataset.formset;
    const total = fieldset.querySelector(`input[name="${prefix}-TOTAL_FORMS"]`);
    const template = fieldset.querySelector("template");
    const rows = fieldset.querySelector(".formset-rows");
    const button = fieldset.querySelector("[data-add-row]");
    if (!total || !template || !rows || !button) continue;
    button.addEventListener("click", () => {
      const index = Number(total.value);
      const html = template.innerHTML.replaceAll("__prefix__", String(index));
      rows.insertAdjacentHTML("beforeend", html);
      total.value = String(index + 1);
      rows.lastElementChild?.querySelector("select, input")?.focus();
    });
  }
});
