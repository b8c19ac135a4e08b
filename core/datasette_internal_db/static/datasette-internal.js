// Core's behaviour for plugin pages: relative times, dialogs, copy buttons. No build step.
(() => {
  const units = [
    ["year", 31536000], ["month", 2592000], ["week", 604800],
    ["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1],
  ];
  const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

  function describe(date) {
    const seconds = (date.getTime() - Date.now()) / 1000;
    for (const [unit, size] of units) {
      if (Math.abs(seconds) >= size || unit === "second") {
        return relative.format(Math.round(seconds / size), unit);
      }
    }
  }

  // Shows "3 hours ago"; the tooltip keeps the absolute time in the reader's zone, named.
  function renderTimes(root = document) {
    for (const element of root.querySelectorAll("time.di-time[datetime]")) {
      const date = new Date(element.getAttribute("datetime"));
      if (Number.isNaN(date.getTime())) continue;
      element.title = date.toLocaleString(undefined, {
        year: "numeric", month: "short", day: "numeric",
        hour: "2-digit", minute: "2-digit", timeZoneName: "short",
      });
      element.textContent = describe(date);
    }
  }

  async function copy(button) {
    const text = button.dataset.diCopy;
    const status = button.nextElementSibling;
    try {
      await navigator.clipboard.writeText(text);
      if (status) status.textContent = "Copied!";
    } catch (error) {
      // No clipboard (plain http, or refused): show the text selected, ready for Ctrl+C.
      const field = document.createElement("input");
      field.value = text;
      field.readOnly = true;
      field.setAttribute("aria-label", "Link to copy");
      button.replaceWith(field);
      field.select();
      if (status) status.textContent = "Press Ctrl+C to copy";
    }
  }

  document.addEventListener("click", (event) => {
    const opener = event.target.closest("[data-di-open]");
    if (opener) {
      const dialog = document.getElementById(opener.dataset.diOpen);
      dialog?.closest("datasette-modal")?.show({ returnFocusTo: opener });
      return;
    }
    const closer = event.target.closest("[data-di-close]");
    if (closer) {
      closer.closest("datasette-modal")?.requestClose("close-button");
      return;
    }
    const copier = event.target.closest("[data-di-copy]");
    if (copier) copy(copier);
  });

  window.datasetteInternal = { renderTimes };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => renderTimes());
  } else {
    renderTimes();
  }
})();
