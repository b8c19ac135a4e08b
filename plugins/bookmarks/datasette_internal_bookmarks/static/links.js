// Short links pages: the edit and delete dialogs, enable/disable, and expiry in the reader's
// own time zone (datetime-local has no zone: it is converted to UTC here). No build step.
(() => {
  const page = document.querySelector(".short-links-page");
  if (!page) return;
  const api = page.dataset.linksApi;
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  let current = null; // the [data-code] element whose dialog is open

  const pad = (number) => String(number).padStart(2, "0");

  // "2027-01-15T22:00:00.000+00:00" → "2027-01-15T17:00" in the reader's zone.
  function toLocalInput(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
      `T${pad(date.getHours())}:${pad(date.getMinutes())}`;
  }

  // A datetime-local value is the reader's local time: new Date() reads it so.
  function toUtc(local) {
    return local ? new Date(local).toISOString() : null;
  }

  for (const hint of document.querySelectorAll("[data-time-zone-hint]")) {
    hint.textContent = `In your time zone (${zone}). Leave empty: never.`;
  }

  async function send(url, options) {
    const response = await fetch(url, {
      credentials: "same-origin",
      headers: { "content-type": "application/json", accept: "application/json" },
      ...options,
    });
    const body = await response.json();
    if (!body.ok) throw new Error(body.errors.join(" "));
    return body;
  }

  const linkUrl = (code) => `${api}/${encodeURIComponent(code)}`;
  const field = (form, name) => form.elements.namedItem(name);

  function showError(container, error) {
    const alert = container.querySelector("[role=alert]");
    alert.textContent = error.message;
    alert.hidden = false;
  }

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-action]");
    if (!button) return;
    current = button.closest("[data-code]");
    const data = current.dataset;
    if (button.dataset.action === "edit") {
      const form = document.getElementById("edit-link-form");
      field(form, "target").value = data.target;
      field(form, "title").value = data.title;
      field(form, "expires_local").value = toLocalInput(data.expiresAt);
      field(form, "max_visits").value = data.maxVisits;
      form.querySelector("[role=alert]").hidden = true;
    } else if (button.dataset.action === "delete") {
      document.querySelector("#delete-link-form [data-link-code]").textContent = data.code;
      document.querySelector("#delete-link-form [role=alert]").hidden = true;
    } else if (button.dataset.action === "toggle") {
      button.disabled = true;
      try {
        await send(linkUrl(data.code), {
          method: "POST",
          body: JSON.stringify({ disabled: data.disabled !== "true" }),
        });
        location.reload();
      } catch (error) {
        button.disabled = false;
        showError(page, error);
      }
    }
  });

  document.getElementById("edit-link-form")?.addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const maxVisits = field(form, "max_visits").value.trim();
    try {
      await send(linkUrl(current.dataset.code), {
        method: "POST",
        body: JSON.stringify({
          target: field(form, "target").value,
          title: field(form, "title").value,
          expires_at: toUtc(field(form, "expires_local").value),
          max_visits: maxVisits === "" ? null : maxVisits,
        }),
      });
      location.reload();
    } catch (error) {
      showError(form, error);
    }
  });

  document.getElementById("delete-link-form")?.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await send(linkUrl(current.dataset.code), { method: "DELETE" });
      if (page.dataset.afterDelete) location.assign(page.dataset.afterDelete);
      else location.reload();
    } catch (error) {
      showError(event.target, error);
    }
  });

  // The create form posts expires_at in UTC; without this script the field reads as UTC.
  document.getElementById("create-link")?.addEventListener("submit", (event) => {
    const form = event.target;
    field(form, "expires_at").value = toUtc(field(form, "expires_local").value) || "";
    field(form, "expires_local").disabled = true;
  });
})();
