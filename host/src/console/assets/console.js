// The console's little JavaScript: nothing here is needed to read a page or to submit a form.
// - On a workflow page, selecting a task in the graph shows its Input, Properties and
//   Transitions in the side panel.
// - On a run page, the run's event stream (the API's Server-Sent Events, with the session
//   cookie) says when the run changed; the changing part of the page is then fetched from
//   /runs/ID/live and put in place, so a person watches the run reach its question without
//   reloading. Typing in an answer form pauses the refresh so nothing typed is lost.
"use strict";

function selectTask(name) {
  const panel = document.getElementById("task-panel");
  if (!panel) return;
  document.querySelectorAll("svg.graph .task").forEach((g) =>
    g.classList.toggle("selected", g.dataset.task === name));
  let found = false;
  panel.querySelectorAll(".task-view").forEach((v) => {
    const on = v.dataset.task === name;
    v.hidden = !on;
    found = found || on;
  });
  const hint = document.getElementById("task-hint");
  if (hint) hint.hidden = found;
}

function showView(section, view) {
  section.querySelectorAll(".tabs button").forEach((b) =>
    b.setAttribute("aria-selected", String(b.dataset.view === view)));
  section.querySelectorAll(".view").forEach((v) => { v.hidden = v.dataset.view !== view; });
}

document.addEventListener("click", (e) => {
  const task = e.target.closest("svg.graph .task");
  if (task && document.getElementById("task-panel")) { selectTask(task.dataset.task); return; }
  const tab = e.target.closest(".tabs button");
  if (tab) showView(tab.closest(".task-view"), tab.dataset.view);
});
document.addEventListener("keydown", (e) => {
  const task = e.target.closest && e.target.closest("svg.graph .task");
  if (task && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); selectTask(task.dataset.task); }
});

function followRun(live) {
  const id = live.dataset.run;
  let pending = false;
  let source = null;
  const typing = () => {
    const el = document.activeElement;
    return el && live.contains(el) && /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName);
  };
  const refresh = async () => {
    if (pending) return;
    pending = true;
    try {
      // Wait while a person types in an answer: replacing the form would lose it.
      while (typing()) await new Promise((r) => setTimeout(r, 500));
      const reply = await fetch(`/runs/${encodeURIComponent(id)}/live`, { credentials: "same-origin" });
      if (reply.ok) live.innerHTML = await reply.text();
    } finally {
      pending = false;
    }
  };
  const open = () => {
    source = new EventSource(`/api/v1/runs/${encodeURIComponent(id)}/events`);
    let timer = null;
    const soon = () => { clearTimeout(timer); timer = setTimeout(refresh, 150); };
    source.addEventListener("run", soon);
    source.addEventListener("log", soon);
    source.addEventListener("end", () => { source.close(); refresh(); });
    source.onerror = () => {
      // The server went away or the session ended: try again later, calmly.
      source.close();
      setTimeout(open, 5000);
    };
  };
  const head = live.querySelector(".run-head");
  if (!head || head.dataset.finished !== "true") open();
}

document.addEventListener("DOMContentLoaded", () => {
  const live = document.getElementById("live");
  if (live) followRun(live);
});
