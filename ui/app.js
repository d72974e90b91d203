// The router: #/login, #/campaigns, #/campaign/{id}, #/new, #/contacts. Each page gets a
// context whose timers and event streams stop when the page is left.
"use strict";
let current = null;
function context() {
  const timers = [], aborts = [];
  return {
    every(ms, fn) { timers.push(setInterval(fn, ms)); },
    stream(id, onEvent) {
      const ac = new AbortController();
      aborts.push(ac);
      // Reconnects after a dropped stream (a restart, a 503 over the limit) every 2 s.
      const run = () => Api.events(id, onEvent, ac.signal).catch(() => {}).then(() => { if (!ac.signal.aborted) setTimeout(run, 2000); });
      run();
    },
    stop() { timers.forEach(clearInterval); aborts.forEach((a) => a.abort()); },
  };
}
async function route() {
  if (current) current.stop();
  current = context();
  const main = document.getElementById("main");
  main.replaceChildren();
  const [, page, id] = (location.hash || "#/campaigns").split("/");
  document.getElementById("top").hidden = !Api.key();
  if (!Api.key() || page === "login") { document.getElementById("top").hidden = true; return Pages.login(main); }
  try {
    if (page === "campaign" && id) Pages.campaign(main, current, decodeURIComponent(id));
    else if (page === "new") await Pages.newCampaign(main);
    else if (page === "contacts") Pages.contacts(main);
    else Pages.campaigns(main, current);
  } catch (e) { main.append(h("p", { class: "error", role: "alert" }, e.message)); }
}
document.getElementById("logout").addEventListener("click", () => { Api.clear(); location.hash = "#/login"; route(); });
window.addEventListener("hashchange", route);
route();
