// The comment editor: a textarea marked data-rich becomes a small contenteditable editor that shows
// bold, italic, links and lists as they will look, and writes its HTML into a hidden field of the
// same name. The server sanitises that HTML like any other input (bleach); the editor only keeps
// the tags the server keeps, so what you see is what gets posted. Without JavaScript the textarea
// stays and accepts the same tags typed by hand.
(function () {
  "use strict";
  var KEPT = { P: 1, BR: 1, B: 1, STRONG: 1, I: 1, EM: 1, U: 1, S: 1, UL: 1, OL: 1, LI: 1, A: 1, CODE: 1, PRE: 1, BLOCKQUOTE: 1 };
  var SAFE_LINK = /^(https?:\/\/|mailto:)/i;
  var BUTTONS = [
    { text: "B", title: "Bold (Ctrl+B)", command: "bold", className: "rich-bold" },
    { text: "I", title: "Italic (Ctrl+I)", command: "italic", className: "rich-italic" },
    { text: "Link", title: "Link (Ctrl+K)", command: "createLink" },
    { text: "• List", title: "Bulleted list", command: "insertUnorderedList" },
    { text: "1. List", title: "Numbered list", command: "insertOrderedList" },
  ];

  // Copies only kept tags (and a link's http(s)/mailto address) from an inert <template>: a
  // textarea sent back after an error holds what was typed, which must not run or load anything.
  function copyKept(from, to) {
    Array.prototype.forEach.call(from.childNodes, function (node) {
      if (node.nodeType === Node.TEXT_NODE) {
        to.appendChild(document.createTextNode(node.textContent));
      } else if (node.nodeType === Node.ELEMENT_NODE && KEPT[node.tagName]) {
        var copy = document.createElement(node.tagName);
        var href = node.getAttribute("href");
        if (node.tagName === "A" && href && SAFE_LINK.test(href)) { copy.setAttribute("href", href); }
        copyKept(node, copy);
        to.appendChild(copy);
      } else if (node.nodeType === Node.ELEMENT_NODE) {
        copyKept(node, to);
      }
    });
  }

  function htmlOf(editor) {
    if (!editor.textContent.trim()) { return ""; }
    return editor.innerHTML.replace(/&nbsp;/g, " ");
  }

  function run(editor, command) {
    editor.focus();
    if (command !== "createLink") {
      document.execCommand(command, false, null);
      return;
    }
    var address = window.prompt("Link address", "https://");
    if (address && SAFE_LINK.test(address.trim())) {
      document.execCommand("createLink", false, address.trim());
    }
  }

  function toolbar(editor, sync) {
    var bar = document.createElement("div");
    bar.className = "rich-toolbar";
    bar.setAttribute("role", "toolbar");
    bar.setAttribute("aria-label", "Formatting");
    BUTTONS.forEach(function (spec) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "outline secondary " + (spec.className || "");
      button.textContent = spec.text;
      button.title = spec.title;
      button.setAttribute("aria-label", spec.title);
      button.setAttribute("data-command", spec.command);
      button.addEventListener("mousedown", function (event) { event.preventDefault(); }); // keep the selection
      button.addEventListener("click", function () { run(editor, spec.command); sync(); });
      bar.appendChild(button);
    });
    return bar;
  }

  function labelFor(area, editor) {
    var label = area.id ? document.querySelector('label[for="' + area.id + '"]') : null;
    if (!label) {
      editor.setAttribute("aria-label", area.getAttribute("aria-label") || "Comment");
      return;
    }
    label.id = label.id || area.id + "-label";
    label.removeAttribute("for");
    label.addEventListener("click", function () { editor.focus(); });
    editor.setAttribute("aria-labelledby", label.id);
  }

  function onKey(editor, sync) {
    return function (event) {
      if (!(event.ctrlKey || event.metaKey)) { return; }
      var key = event.key.toLowerCase();
      var command = { b: "bold", i: "italic", k: "createLink" }[key];
      if (command) {
        event.preventDefault();
        run(editor, command);
        sync();
      } else if (key === "enter" && editor.closest("form")) {
        event.preventDefault();
        sync();
        editor.closest("form").requestSubmit();
      }
    };
  }

  function build(area) {
    var hidden = document.createElement("input");
    hidden.type = "hidden";
    hidden.name = area.name;
    var editor = document.createElement("div");
    editor.className = "rich-editor";
    editor.contentEditable = "true";
    editor.id = area.id;
    editor.setAttribute("role", "textbox");
    editor.setAttribute("aria-multiline", "true");
    editor.setAttribute("data-testid", "rich-editor");
    ["aria-invalid", "aria-describedby"].forEach(function (name) {
      if (area.hasAttribute(name)) { editor.setAttribute(name, area.getAttribute(name)); }
    });
    if (area.required) { editor.setAttribute("aria-required", "true"); }
    var inert = document.createElement("template");
    inert.innerHTML = area.value;
    copyKept(inert.content, editor);
    var sync = function () { hidden.value = htmlOf(editor); };
    sync();
    editor.addEventListener("input", sync);
    editor.addEventListener("keydown", onKey(editor, sync));
    labelFor(area, editor);
    area.removeAttribute("id");
    var wrapper = document.createElement("div");
    wrapper.className = "rich-field";
    wrapper.appendChild(toolbar(editor, sync));
    wrapper.appendChild(editor);
    wrapper.appendChild(hidden);
    area.replaceWith(wrapper);
  }

  function enhance(root) {
    root.querySelectorAll("textarea[data-rich]").forEach(build);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.execCommand("defaultParagraphSeparator", false, "p"); // Enter starts a <p>, which the server keeps
    enhance(document);
  });
  document.addEventListener("htmx:afterSettle", function () { enhance(document); });
})();
