// Forms and buttons with data-api send JSON to the webhooks API and show the answer.
(() => {
  const index = document.querySelector("a[href$='/-/webhooks']")?.href || "/-/webhooks";

  const show = (container, html) => { if (container) { container.innerHTML = html; } };
  const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

  async function send(url, body, then, resultBox) {
    const response = await fetch(url, {
      method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify(body),
    });
    const data = await response.json();
    if (!data.ok) { show(resultBox, `<p class="message-error">${escape(data.errors.join("; "))}</p>`); return; }
    if (then === "reload") { location.reload(); }
    else if (then === "reload-soon") { show(resultBox, "<p>Queued.</p>"); setTimeout(() => location.reload(), 1000); }
    else if (then === "index") { location.href = index; }
    else if (then === "job") { location.search = "?job=" + encodeURIComponent(data.job_id); }
    else if (then === "open-endpoint" || then === "show-secret") {
      const link = data.endpoint ? `<a class="webhooks-open" href="${escape(index + "/endpoints/" + data.endpoint.id)}">Open the endpoint</a>` : "";
      show(resultBox, `<p class="message-info">Secret (shown only now, store it safely): <code class="webhooks-secret">${escape(data.secret)}</code> ${link}</p>`);
    }
  }

  document.querySelectorAll("form.webhooks-form").forEach((form) => {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = {};
      new FormData(form).forEach((value, key) => {
        if (value === "") { return; }
        if (key === "event_types") { body[key] = value.split(/[\s,]+/).filter(Boolean); }
        else if (key === "since") { body[key] = value + "Z"; }
        else { body[key] = value; }
      });
      send(form.dataset.api, body, form.dataset.then, form.querySelector(".webhooks-result"));
    });
  });

  document.querySelectorAll("button.webhooks-action").forEach((button) => {
    button.addEventListener("click", () => {
      if (button.dataset.confirm && !confirm(button.dataset.confirm)) { return; }
      const box = document.querySelector(".webhooks-result");
      send(button.dataset.api, JSON.parse(button.dataset.body || "{}"), button.dataset.then, box);
    });
  });
})();
