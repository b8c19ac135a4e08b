// datasette-internal-comments: the comment forms inline (no page reload), the table page's
// dialog, @mention autocomplete, and focus kept where the keyboard user was. No build step.
// Without this file every form still works: POST, then a redirect back.

const status = document.createElement("div");
status.className = "visually-hidden";
status.setAttribute("role", "status");
status.setAttribute("aria-live", "polite");
document.body.append(status);

function announce(text) {
  status.textContent = "";
  // A change of text a moment later is announced even when the text is the same as before.
  setTimeout(() => (status.textContent = text), 50);
}

function renderTimes(root) {
  window.datasetteInternal?.renderTimes(root);
}

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
    return { ok: false, errors: [`Unexpected response (${response.status})`] };
  }
}

function showError(form, message) {
  let box = form.querySelector(".comment-error");
  if (!box) {
    box = document.createElement("p");
    box.className = "comment-error";
    box.setAttribute("role", "alert");
    form.append(box);
  }
  box.textContent = message;
}

async function reloadPanel(panel) {
  const response = await fetch(panel.dataset.fragmentUrl, { credentials: "same-origin" });
  const holder = document.createElement("div");
  holder.innerHTML = await response.text();
  const fresh = holder.querySelector(".comments-panel");
  if (!fresh) return panel;
  if (panel.classList.contains("comments-row-panel")) fresh.classList.add("comments-row-panel");
  panel.replaceWith(fresh);
  renderTimes(fresh);
  return fresh;
}

function focusIn(panel, keys) {
  for (const key of keys) {
    const target = key && panel.querySelector(`[data-focus="${CSS.escape(key)}"]`);
    if (target) {
      target.focus();
      return;
    }
  }
  panel.querySelector(".comments-heading")?.focus();
}

// The table page's badge of the dialog's row follows what the dialog shows.
function updateBadge(panel) {
  const body = panel.closest(".comments-dialog-body");
  if (!body?.dataset.row || !window.datasetteCommentsBadges) return;
  const threads = panel.querySelectorAll(".comment-thread");
  const open = panel.querySelectorAll(".comment-thread:not(.comment-thread-resolved)");
  window.datasetteCommentsBadges.set(body.dataset.row, {
    threads: threads.length,
    open: open.length,
  });
}

document.addEventListener("submit", async (event) => {
  const form = event.target;
  const panel = form.closest(".comments-panel");
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
    return;
  }
  if (!panel?.dataset.fragmentUrl) return;
  event.preventDefault();
  const submitter = event.submitter;
  const data = await postForm(form, submitter);
  if (!data.ok) {
    showError(form, (data.errors || ["Something went wrong"]).join(" "));
    return;
  }
  const after = (form.dataset.focusAfter || "")
    .replace("{thread}", data.thread?.id ?? "")
    .replace("{emoji}", submitter?.value ?? "");
  const fresh = await reloadPanel(panel);
  focusIn(fresh, [after, form.dataset.focusFallback]);
  updateBadge(fresh);
  if (form.dataset.done) announce(form.dataset.done);
});

// ---------------------------------------------------------------- the table page's dialog

async function openRow(badge) {
  const dialog = document.getElementById("comments-dialog");
  const modal = dialog?.closest("datasette-modal");
  if (!modal) return;
  const body = dialog.querySelector(".comments-dialog-body");
  const row = badge.closest("tr");
  const key = badge.dataset.commentsRow;
  const label = row.dataset.rowLabel;
  dialog.querySelector(".modal-title").textContent = label
    ? `Comments on ${label} (row ${key})`
    : `Comments on row ${key}`;
  const query = new URLSearchParams({
    database: body.dataset.database,
    table: body.dataset.table,
    row: key,
    fragment: "1",
    next: location.pathname + location.search,
  });
  body.dataset.row = key;
  body.setAttribute("aria-busy", "true");
  const response = await fetch(`${body.dataset.targetUrl}?${query}`, {
    credentials: "same-origin",
  });
  body.innerHTML = await response.text();
  body.removeAttribute("aria-busy");
  renderTimes(body);
  for (const active of document.querySelectorAll("tr.comments-row-active")) {
    active.classList.remove("comments-row-active");
  }
  row.classList.add("comments-row-active");
  dialog.addEventListener("close", () => row.classList.remove("comments-row-active"), {
    once: true,
  });
  modal.show({
    returnFocusTo: badge,
    initialFocus: body.querySelector('[data-focus="new"]') || body.querySelector(".comments-heading"),
  });
}

document.addEventListener("click", (event) => {
  const badge = event.target.closest(".comment-badge[data-comments-row]");
  if (badge) openRow(badge);
});

// A disclosure (edit, reaction picker) puts the keyboard inside it when it opens.
document.addEventListener(
  "toggle",
  (event) => {
    const details = event.target;
    if (!(details instanceof HTMLDetailsElement) || !details.open) return;
    if (!details.matches(".comment-edit, .comment-picker")) return;
    details.querySelector("textarea, .comment-pick")?.focus();
  },
  true,
);

// ---------------------------------------------------------------- @mention autocomplete

let suggestions = null; // {textarea, list, actors, active, start}
let suggestTimer = null;

function closeSuggestions() {
  if (!suggestions) return;
  suggestions.list.remove();
  suggestions.textarea.removeAttribute("aria-activedescendant");
  suggestions.textarea.removeAttribute("aria-controls");
  suggestions = null;
}

function highlight(index) {
  suggestions.active = index;
  suggestions.list.querySelectorAll("li").forEach((item, i) => {
    item.setAttribute("aria-selected", String(i === index));
  });
  suggestions.textarea.setAttribute("aria-activedescendant", `comment-mention-${index}`);
}

function choose(index) {
  const { textarea, actors, start } = suggestions;
  const end = textarea.selectionStart;
  const chosen = `@${actors[index].id} `;
  textarea.value = textarea.value.slice(0, start) + chosen + textarea.value.slice(end);
  textarea.selectionStart = textarea.selectionEnd = start + chosen.length;
  closeSuggestions();
  textarea.focus();
  announce(`Mentioned ${actors[index].name}`);
}

async function suggest(textarea, actorsUrl) {
  const before = textarea.value.slice(0, textarea.selectionStart);
  const match = before.match(/(^|\s)@([A-Za-z0-9_.\-]*)$/);
  closeSuggestions();
  if (!match) return;
  const response = await fetch(`${actorsUrl}?q=${encodeURIComponent(match[2])}`, {
    credentials: "same-origin",
  });
  const data = await response.json();
  if (!data.ok || !data.actors.length || document.activeElement !== textarea) return;
  const list = document.createElement("ul");
  list.className = "comment-mention-suggestions";
  list.id = "comment-mention-suggestions";
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-label", "People to mention");
  data.actors.forEach((actor, index) => {
    const item = document.createElement("li");
    item.id = `comment-mention-${index}`;
    item.setAttribute("role", "option");
    item.textContent = `@${actor.id}`;
    if (actor.name !== actor.id) {
      const name = document.createElement("span");
      name.className = "di-muted";
      name.textContent = actor.name;
      item.append(name);
    }
    item.addEventListener("mousedown", (event) => event.preventDefault());
    item.addEventListener("click", () => choose(index));
    list.append(item);
  });
  textarea.insertAdjacentElement("afterend", list);
  textarea.setAttribute("aria-controls", list.id);
  textarea.setAttribute("aria-autocomplete", "list");
  suggestions = { textarea, list, actors: data.actors, active: 0, start: before.length - match[2].length - 1 };
  highlight(0);
  announce(`${data.actors.length} people to mention: arrow keys to choose, Enter to insert`);
}

document.addEventListener("input", (event) => {
  const textarea = event.target;
  const panel = textarea.closest?.(".comments-panel");
  if (!panel?.dataset.actorsUrl || textarea.tagName !== "TEXTAREA") return;
  clearTimeout(suggestTimer);
  suggestTimer = setTimeout(() => suggest(textarea, panel.dataset.actorsUrl), 150);
});

document.addEventListener("focusout", (event) => {
  if (suggestions && event.target === suggestions.textarea) closeSuggestions();
});

// Capture phase: before Datasette's dialog sees Escape, so Escape closes the innermost thing.
document.addEventListener(
  "keydown",
  (event) => {
    if (suggestions && event.target === suggestions.textarea) {
      const count = suggestions.actors.length;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        highlight((suggestions.active + (event.key === "ArrowDown" ? 1 : count - 1)) % count);
        return;
      }
      if (event.key === "Enter" || event.key === "Tab") {
        event.preventDefault();
        choose(suggestions.active);
        return;
      }
      if (event.key === "Escape") {
        event.preventDefault();
        closeSuggestions();
        return;
      }
    }
    if (event.key === "Escape") {
      const details = event.target.closest?.(".comments-panel details[open]:not(.comment-thread)");
      if (details) {
        event.preventDefault();
        details.open = false;
        details.querySelector("summary").focus();
      }
    }
  },
  true,
);
