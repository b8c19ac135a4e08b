/* datasette-internal-comments: progressive enhancement of the server-rendered comment forms.
   Without this file every form still works (POST, then a redirect back). */
(function () {
  "use strict";

  async function postForm(form, submitter) {
    const response = await fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form, submitter)),
      headers: { accept: "application/json" },
      credentials: "same-origin",
    });
    try {
      return await response.json();
    } catch (error) {
      return { ok: false, errors: ["Unexpected response (" + response.status + ")"] };
    }
  }

  function showError(form, message) {
    let box = form.querySelector(".comment-error");
    if (!box) {
      box = document.createElement("p");
      box.className = "comment-error";
      box.setAttribute("role", "alert");
      form.appendChild(box);
    }
    box.textContent = message;
  }

  async function reloadPanel(panel) {
    const response = await fetch(panel.dataset.fragmentUrl, { credentials: "same-origin" });
    const holder = document.createElement("div");
    holder.innerHTML = await response.text();
    const fresh = holder.querySelector(".comments-panel");
    if (fresh) {
      panel.replaceWith(fresh);
    }
  }

  document.addEventListener("submit", async function (event) {
    const form = event.target;
    const panel = form.closest(".comments-panel");
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    if (!panel || !panel.dataset.fragmentUrl) {
      return;
    }
    event.preventDefault();
    const data = await postForm(form, event.submitter);
    if (!data.ok) {
      showError(form, (data.errors || ["Something went wrong"]).join(" "));
      return;
    }
    await reloadPanel(panel);
    document.dispatchEvent(new CustomEvent("datasette-comments-changed"));
  });

  /* @mention autocomplete over actors who wrote comments you can see */
  let suggestTimer = null;
  document.addEventListener("input", function (event) {
    const textarea = event.target;
    const panel = textarea.closest && textarea.closest(".comments-panel");
    if (!panel || textarea.tagName !== "TEXTAREA" || !panel.dataset.actorsUrl) {
      return;
    }
    clearTimeout(suggestTimer);
    suggestTimer = setTimeout(() => suggest(textarea, panel.dataset.actorsUrl), 150);
  });

  async function suggest(textarea, actorsUrl) {
    const before = textarea.value.slice(0, textarea.selectionStart);
    const match = before.match(/(^|\s)@([A-Za-z0-9_.\-]*)$/);
    let list = textarea.parentNode.querySelector(".comment-mention-suggestions");
    if (list) {
      list.remove();
    }
    if (!match) {
      return;
    }
    const response = await fetch(actorsUrl + "?q=" + encodeURIComponent(match[2]), {
      credentials: "same-origin",
    });
    const data = await response.json();
    if (!data.ok || !data.actors.length) {
      return;
    }
    list = document.createElement("ul");
    list.className = "comment-mention-suggestions";
    for (const actor of data.actors) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = actor.name === actor.id ? "@" + actor.id : actor.name + " (@" + actor.id + ")";
      button.addEventListener("click", function () {
        const start = before.length - match[2].length;
        textarea.value =
          textarea.value.slice(0, start) + actor.id + " " + textarea.value.slice(textarea.selectionStart);
        list.remove();
        textarea.focus();
      });
      item.appendChild(button);
      list.appendChild(item);
    }
    textarea.insertAdjacentElement("afterend", list);
  }

  /* Table pages: a badge per row with its thread count, all counts from one request */
  function setUpTablePage() {
    const config = window.datasetteComments;
    if (!config || !document.querySelector("table.rows-and-columns")) {
      return;
    }
    // Datasette writes each row's path (tilde-encoded primary keys) into data-row.
    const rows = [];
    for (const tr of document.querySelectorAll("table.rows-and-columns tbody tr[data-row]")) {
      if (tr.querySelector("td.type-pk")) {
        rows.push({ tr: tr, key: tr.dataset.row });
      }
    }
    if (!rows.length) {
      return;
    }

    const dialog = document.createElement("dialog");
    dialog.className = "comments-dialog";
    dialog.innerHTML = '<button type="button" class="comments-dialog-close" aria-label="Close">×</button><div class="comments-dialog-body"></div>';
    document.body.appendChild(dialog);
    dialog.querySelector(".comments-dialog-close").addEventListener("click", () => dialog.close());

    async function openRow(key) {
      const query = new URLSearchParams({
        database: config.database,
        table: config.table,
        row: key,
        fragment: "1",
        next: location.pathname + location.search,
      });
      const response = await fetch(config.targetUrl + "?" + query, { credentials: "same-origin" });
      dialog.querySelector(".comments-dialog-body").innerHTML = await response.text();
      if (!dialog.open) {
        dialog.showModal();
      }
    }

    function renderBadges(counts) {
      for (const row of rows) {
        let badge = row.tr.querySelector(".comment-badge");
        if (!badge) {
          badge = document.createElement("button");
          badge.type = "button";
          badge.className = "comment-badge";
          badge.dataset.row = row.key;
          badge.addEventListener("click", () => openRow(row.key));
          row.tr.querySelector("td.type-pk").appendChild(badge);
        }
        const count = counts[row.key];
        badge.textContent = count ? "💬 " + count.threads : "💬";
        badge.classList.toggle("comment-badge-empty", !count);
        badge.classList.toggle("comment-badge-open", Boolean(count && count.open));
        badge.setAttribute(
          "aria-label",
          count ? count.threads + " comment threads (" + count.open + " open)" : "Add a comment"
        );
      }
    }

    async function loadBadges() {
      const query = new URLSearchParams({ database: config.database, table: config.table });
      for (const row of rows) {
        query.append("row", row.key);
      }
      const response = await fetch(config.badgesUrl + "?" + query, { credentials: "same-origin" });
      if (!response.ok) {
        return;
      }
      const data = await response.json();
      renderBadges(data.counts);
    }

    document.addEventListener("datasette-comments-changed", loadBadges);
    loadBadges();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUpTablePage);
  } else {
    setUpTablePage();
  }
})();
