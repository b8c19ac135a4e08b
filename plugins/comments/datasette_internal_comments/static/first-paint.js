// datasette-internal-comments, run inline at the end of Datasette's table and row pages, before
// the first paint: each row's badge with the thread counts read with the page, and the row
// page's threads moved below the row's data. No request: everything it needs is in the page
// (the counts in window.datasetteCommentsPage, the dialog and the badge icon from top_table).
(() => {
  const panel = document.querySelector(".comments-row-panel");
  const data = document.querySelector("section.content .table-wrapper");
  if (panel && data) data.after(panel);

  // Set just before this script on a table page, with the thread counts of the rows shown.
  const page = window.datasetteCommentsPage;
  const icon = document.getElementById("comments-badge-icon");
  if (!page || !icon) return;
  const counts = page.counts;
  const rows = [];
  for (const tr of document.querySelectorAll("table.rows-and-columns tbody tr[data-row]")) {
    const cell = tr.querySelector("td.type-pk");
    if (!cell) continue;
    const badge = document.createElement("button");
    badge.type = "button";
    badge.className = "row-inline-action comment-badge";
    badge.dataset.commentsRow = tr.dataset.row;
    badge.append(icon.content.cloneNode(true));
    (cell.querySelector(".row-inline-actions") || cell).append(badge);
    rows.push(tr.dataset.row);
  }
  const badges = {
    counts,
    draw() {
      for (const badge of document.querySelectorAll(".comment-badge[data-comments-row]")) {
        const count = this.counts[badge.dataset.commentsRow];
        const label = badge.closest("tr").dataset.rowLabel || badge.dataset.commentsRow;
        badge.querySelector(".comment-badge-count")?.remove();
        if (count) {
          const number = document.createElement("span");
          number.className = "comment-badge-count";
          number.textContent = count.threads;
          badge.append(number);
        }
        badge.classList.toggle("comment-badge-empty", !count);
        badge.classList.toggle("comment-badge-open", Boolean(count && count.open));
        const what = count
          ? `${count.threads} comment thread${count.threads === 1 ? "" : "s"}, ${count.open} open`
          : "no comments yet";
        badge.setAttribute("aria-label", `Comments on row ${label}: ${what}`);
        badge.title = count ? `Comments: ${what}` : "Add a comment";
      }
    },
    set(key, count) {
      if (count.threads) this.counts[key] = count;
      else delete this.counts[key];
      this.draw();
    },
  };
  window.datasetteCommentsBadges = badges;
  badges.draw();
  // A table whose rows Datasette showed without calling render_cell (only a primary key
  // column): counts were not read with the page, so ask for them once.
  if (!page.counted && rows.length) {
    const query = new URLSearchParams({
      database: document.querySelector(".comments-dialog-body").dataset.database,
      table: document.querySelector(".comments-dialog-body").dataset.table,
    });
    for (const key of rows) query.append("row", key);
    fetch(`${page.badgesUrl}?${query}`, { credentials: "same-origin" })
      .then((response) => (response.ok ? response.json() : null))
      .then((answer) => {
        if (!answer) return;
        badges.counts = answer.counts;
        badges.draw();
      });
  }
})();
