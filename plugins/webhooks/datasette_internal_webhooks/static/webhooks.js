// The webhooks pages: buttons and dialog forms call the JSON API and show the outcome in place.
// Parts of a page marked data-live are fetched again instead of reloading the page, so a new
// endpoint and its secret (shown once) appear together, and a redelivery shows its new attempt.
(() => {
  const POLL_MS = 300;
  const POLL_LIMIT_MS = 30000;

  async function call(url, body) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(body || {}),
    });
    let data;
    try {
      data = await response.json();
    } catch (error) {
      data = { ok: false, errors: [`The server answered ${response.status}`] };
    }
    if (!data.ok) throw new Error((data.errors || []).join("; "));
    return data;
  }

  async function getJSON(url) {
    const response = await fetch(url, { headers: { accept: "application/json" } });
    return response.json();
  }

  // Replace every [data-live] element with its counterpart from a fresh copy of the page.
  async function refresh() {
    const response = await fetch(location.href, { headers: { accept: "text/html" } });
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const element of document.querySelectorAll("[data-live]")) {
      const replacement = fresh.getElementById(element.id);
      if (replacement) element.replaceWith(document.importNode(replacement, true));
    }
    window.datasetteInternal?.renderTimes();
  }

  // Poll until check() returns something truthy; null when it never does in time.
  async function waitFor(check) {
    const deadline = Date.now() + POLL_LIMIT_MS;
    while (Date.now() < deadline) {
      const found = await check();
      if (found) return found;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    return null;
  }

  function say(text) {
    const status = document.querySelector(".webhooks-status");
    if (status) status.textContent = text;
  }

  function outcome(delivery) {
    if (delivery.status === "succeeded") return `delivered (HTTP ${delivery.last_status_code})`;
    return `${delivery.status}: ${delivery.last_error || "no answer"}`;
  }

  function showSecret(box, secret, title, link) {
    box.querySelector(".webhooks-secret").textContent = secret;
    box.querySelector("[data-di-copy]").dataset.diCopy = secret;
    const heading = box.querySelector(".webhooks-new-title");
    if (title) heading.textContent = title;
    const open = box.querySelector(".webhooks-open");
    if (link) {
      open.href = link.href;
      open.textContent = link.text;
      open.hidden = false;
    }
    box.hidden = false;
    box.focus();
  }

  function closeDialog(element) {
    element.closest("datasette-modal")?.requestClose("done");
  }

  function body(form) {
    const data = {};
    new FormData(form).forEach((value, key) => {
      if (value === "") return;
      if (key === "event_types") data[key] = value.split(/[\s,]+/).filter(Boolean);
      // datetime-local is the reader's own time: send it as an absolute time.
      else if (key === "since") data[key] = new Date(value).toISOString();
      else data[key] = value;
    });
    return data;
  }

  async function created(form, data) {
    const made = data.endpoint || data.incoming;
    const name = data.endpoint ? data.endpoint.url : data.incoming.slug;
    closeDialog(form);
    form.reset();
    await refresh();
    showSecret(
      document.getElementById("webhooks-new-secret"),
      data.secret,
      `Added ${name}.`,
      {
        href: form.dataset.page + made.id,
        text: data.endpoint ? "Open the endpoint" : "Open the incoming endpoint",
      },
    );
  }

  async function testEvent(button, data) {
    say("Test event queued…");
    const list = button.dataset.api.replace(/\/test$/, "/deliveries?_size=10");
    const delivery = await waitFor(async () => {
      const page = await getJSON(list);
      return page.deliveries.find((d) => d.message_id === data.message_id && d.attempts > 0);
    });
    await refresh();
    say(delivery ? `Test event ${outcome(delivery)}.` : "Test event still queued.");
  }

  async function redeliver(button) {
    const id = button.dataset.delivery;
    say(`Delivery ${id} queued again…`);
    const base = button.dataset.api.replace(/\/redeliver$/, "");
    const delivery = await waitFor(async () => {
      const data = await getJSON(base);
      return data.ok && data.delivery.attempts > 0 ? data.delivery : null;
    });
    await refresh();
    document.querySelector(`button[data-delivery="${id}"]`)?.focus();
    say(delivery ? `Delivery ${id} ${outcome(delivery)}.` : `Delivery ${id} is still queued.`);
  }

  async function after(then, element, data) {
    if (then === "created") await created(element, data);
    else if (then === "test") await testEvent(element, data);
    else if (then === "redeliver") await redeliver(element);
    else if (then === "refresh") {
      await refresh();
      say("Saved.");
    } else if (then === "secret") {
      showSecret(element.closest("dialog").querySelector(".webhooks-new-secret"), data.secret);
      element.hidden = true;
    } else if (then === "job") location.search = `?job=${encodeURIComponent(data.job_id)}`;
    else if (then === "go") location.href = element.dataset.href;
  }

  function errorBox(element) {
    return element.closest("form, dialog")?.querySelector(".webhooks-error");
  }

  async function run(element, url, data) {
    const box = errorBox(element);
    if (box) box.textContent = "";
    const control = element.matches("form") ? element.querySelector("[type=submit]") : element;
    control.disabled = true;
    try {
      await after(element.dataset.then, element, await call(url, data));
    } catch (error) {
      if (box) {
        box.textContent = error.message;
        box.scrollIntoView({ block: "nearest" });
      } else say(error.message);
    } finally {
      control.disabled = false;
    }
  }

  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-api]");
    if (!form) return;
    event.preventDefault();
    run(form, form.dataset.api, body(form));
  });

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-api]");
    if (!button) return;
    run(button, button.dataset.api, JSON.parse(button.dataset.body || "{}"));
  });

  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  document.querySelectorAll(".webhooks-zone").forEach((element) => {
    element.textContent = zone;
  });
})();
