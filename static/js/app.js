// Behaviour every page shares. Loaded after htmx (both deferred).
(function () {
  "use strict";

  // Status colours come from the database. The Content-Security-Policy forbids style="" attributes,
  // so the colour travels in data-status-color and is set here through the CSSOM, which CSP allows.
  const HEX_COLOUR = /^#[0-9a-fA-F]{6}$/;

  function paintStatusBadges(root) {
    const badges = root.querySelectorAll ? root.querySelectorAll("[data-status-color]") : [];
    const all = root.matches && root.matches("[data-status-color]") ? [root, ...badges] : badges;
    all.forEach((badge) => {
      const colour = badge.dataset.statusColor;
      if (HEX_COLOUR.test(colour)) {
        badge.style.setProperty("--status-color", colour);
      }
    });
  }

  // htmx.onLoad runs for the page and again for every fragment htmx swaps in.
  htmx.onLoad(paintStatusBadges);
})();
