// "Copy short link" in Datasette's action menus: make the link (or reuse the actor's link to
// the same view), then copy it with core's copy button ("Copied!", or the link selected where
// there is no clipboard). No build step.
(() => {
  let toast;

  function showToast() {
    if (!toast) {
      toast = document.createElement("div");
      toast.className = "short-link-toast";
      document.body.append(toast);
    }
    toast.replaceChildren();
    toast.hidden = false;
    return toast;
  }

  function closeButton() {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "di-button";
    button.textContent = "Close";
    button.addEventListener("click", () => { toast.hidden = true; });
    return button;
  }

  async function makeLink(item) {
    const response = await fetch(item.dataset.shortLinkApi, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({
        target: item.dataset.shortLinkTarget,
        title: item.dataset.shortLinkTitle || "",
        reuse: true,
      }),
    });
    const body = await response.json();
    if (!body.ok) throw new Error(body.errors.join(" "));
    return body.link;
  }

  document.addEventListener("click", async (event) => {
    const item = event.target.closest("[data-short-link-target]");
    if (!item) return;
    event.preventDefault();
    item.closest("details")?.removeAttribute("open");
    const box = showToast();
    const status = document.createElement("span");
    status.className = "di-copied";
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    status.textContent = "Making a short link…";
    box.append(status);
    let link;
    try {
      link = await makeLink(item);
    } catch (error) {
      status.textContent = `Could not make a short link: ${error.message}`;
      box.append(closeButton());
      return;
    }
    const label = document.createElement("strong");
    label.textContent = "Short link:";
    const anchor = document.createElement("a");
    anchor.href = link.page;
    anchor.className = "short-link-url";
    anchor.textContent = link.url;
    // Core's copy button: it writes "Copied!" into the element after it.
    const copy = document.createElement("button");
    copy.type = "button";
    copy.className = "di-button";
    copy.dataset.diCopy = link.url;
    copy.textContent = "Copy again";
    status.textContent = "";
    box.replaceChildren(label, anchor, copy, status, closeButton());
    anchor.focus();
    copy.click();
  });
})();
