// Polls every .datasette-internal-job element's job until it finishes.
document.querySelectorAll(".datasette-internal-job").forEach((element) => {
  const url = element.dataset.jobUrl;
  const bar = element.querySelector("progress");
  const text = element.querySelector(".job-text");
  const cancel = element.querySelector(".job-cancel");
  cancel.addEventListener("click", () => fetch(url + "/cancel", {method: "POST"}));
  const poll = async () => {
    const data = await (await fetch(url + ".json")).json();
    if (!data.ok) { text.textContent = data.errors.join("; "); return; }
    const job = data.job;
    bar.max = job.total || 1;
    bar.value = job.total ? job.done : 0;
    text.textContent = `${job.status}: ${job.done}${job.total ? " / " + job.total : ""}` +
      (job.error_count ? `, ${job.error_count} error(s)` : "");
    element.dataset.status = job.status;
    if (!job.finished) { setTimeout(poll, 500); return; }
    cancel.hidden = true;
    if ("reloadWhenDone" in element.dataset) location.reload();
  };
  poll();
});
