// fangpin job page: poll GET /api/jobs/{id} and move the progress bar; reload when the job ends so the server
// renders the result (the job id is in the URL and its state in the database, so a reload never loses it).
(function () {
  var el = document.getElementById("job");
  if (!el) return;
  var st = el.getAttribute("data-status");
  if (st !== "queued" && st !== "running") return;
  var id = el.getAttribute("data-job"), en = document.documentElement.lang === "en";
  var bar = document.getElementById("job-progress"), stage = document.getElementById("job-stage");
  function poll() {
    fetch("/api/jobs/" + id, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (j) {
        if (!j) { setTimeout(poll, 3000); return; }
        bar.value = j.progress; bar.textContent = Math.round(j.progress * 100) + "%";
        stage.textContent = en ? j.stage_en : j.stage_zh;
        if (j.status === "done" || j.status === "failed") { window.location.reload(); return; }
        setTimeout(poll, 700);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 300);
})();

// feed upload page: show only the chosen feed's columns
(function () {
  var sel = document.getElementById("feed-select");
  if (!sel) return;
  function show() {
    document.querySelectorAll("[data-feed]").forEach(function (p) {
      p.hidden = p.getAttribute("data-feed") !== sel.value;
    });
  }
  sel.addEventListener("change", show);
  show();
})();
