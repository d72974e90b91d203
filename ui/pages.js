// The login page, the campaigns list and one campaign's page (funnel, sends per minute,
// failure reasons, recipients, lifecycle buttons, live progress over the events stream).
"use strict";
const STATUSES = ["DRAFT", "SCHEDULED", "RUNNING", "PAUSED", "COMPLETED", "CANCELLED", "FAILED"];
const MESSAGE_STATUSES = ["PENDING", "SENT", "DELIVERED", "READ", "FAILED"];
const Pages = {};

Pages.login = function (main) {
  const err = h("p", { class: "error", id: "login-error", role: "alert" });
  const input = h("input", { id: "api-key", type: "password", autocomplete: "off", required: true });
  const form = h("form", { class: "card", id: "login" },
    h("h1", {}, "Irisgate dashboard"),
    h("label", { for: "api-key" }, "Workspace API key"), input,
    h("p", {}, h("button", { type: "submit" }, "Log in")), err);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    Api.setKey(input.value.trim());
    try {
      await Api.get("/campaigns?limit=1");
      location.hash = "#/campaigns";
    } catch (e) {
      Api.clear();
      err.textContent = e.status === 401 ? "This API key is not valid for any workspace." : "Login failed: " + e.message;
    }
  });
  main.append(form);
  input.focus();
};

function badge(status) { return h("span", { class: "badge " + status, "data-status": status }, status); }
function bar(done, total) {
  const pct = total ? Math.round((100 * done) / total) : 0;
  return h("div", { class: "bar", role: "progressbar", "aria-valuenow": pct, "aria-valuemin": 0, "aria-valuemax": 100 },
    h("span", { style: `width:${pct}%` }));
}
const processed = (s) => s.sent + s.delivered + s.read + s.failed;
const replied = (s) => (typeof s.replied === "number" ? s.replied : null);

Pages.campaigns = function (main, ctx) {
  const q = { status: "", search: "", page: 1 };
  const status = h("select", { id: "filter-status" }, h("option", { value: "" }, "All"),
    STATUSES.map((s) => h("option", { value: s }, s)));
  const search = h("input", { id: "search", type: "search", placeholder: "name" });
  const body = h("tbody", { id: "campaign-rows" });
  const pager = h("div", { class: "pager" });
  const err = h("p", { class: "error", role: "alert" });
  main.append(h("h1", {}, "Campaigns"),
    h("div", { class: "row" }, h("div", {}, h("label", { for: "filter-status" }, "Status"), status),
      h("div", {}, h("label", { for: "search" }, "Search by name"), search)),
    err,
    h("div", { class: "card table-wrap" }, h("table", { class: "cards" },
      h("thead", {}, h("tr", {}, ["Name", "Channel", "Status", "Progress", "Delivered", "Read", "Replied", "Failed", "Created / scheduled"].map((t) => h("th", {}, t)))),
      body)), pager);
  async function load() {
    try {
      // The search is by name over the page the API returns: the REST list has no name filter.
      const list = await Api.get(`/campaigns?page=${q.page}&limit=20${q.status ? "&status=" + q.status : ""}`);
      const rows = await Promise.all(list.data.map(async (c) => [c, await Api.get(`/campaigns/${c.id}/stats`)]));
      const term = q.search.toLowerCase();
      body.replaceChildren(...rows.filter(([c]) => !term || c.name.toLowerCase().includes(term)).map(([c, s]) => {
        const r = replied(s);
        return h("tr", { "data-id": c.id },
          h("td", { "data-label": "Name" }, h("a", { href: "#/campaign/" + c.id }, c.name)),
          h("td", { "data-label": "Channel" }, c.channel_id),
          h("td", { "data-label": "Status" }, badge(c.status)),
          h("td", { "data-label": "Progress" }, bar(processed(s), s.total_contacts),
            h("small", { class: "progress-text" }, `${fmt.n(processed(s))} / ${fmt.n(s.total_contacts)}`)),
          h("td", { "data-label": "Delivered" }, fmt.pct(s.delivered + s.read, processed(s))),
          h("td", { "data-label": "Read" }, fmt.pct(s.read, processed(s))),
          h("td", { "data-label": "Replied" }, r === null ? "—" : fmt.pct(r, processed(s))),
          h("td", { "data-label": "Failed", class: "failed" }, fmt.n(s.failed)),
          h("td", { "data-label": "Created / scheduled" }, fmt.time(c.scheduled_at || c.created_at)));
      }));
      const p = list.pagination;
      pager.replaceChildren(
        h("button", { type: "button", disabled: p.page <= 1, onclick: () => { q.page--; load(); } }, "Previous"),
        h("span", {}, `${fmt.n(p.page)} / ${fmt.n(Math.max(1, p.total_pages))} (${fmt.n(p.total)})`),
        h("button", { type: "button", disabled: p.page >= p.total_pages, onclick: () => { q.page++; load(); } }, "Next"));
      err.textContent = "";
    } catch (e) { err.textContent = e.message; }
  }
  status.addEventListener("change", () => { q.status = status.value; q.page = 1; load(); });
  search.addEventListener("input", () => { q.search = search.value; load(); });
  load();
  // Live without reload: the list is re-read every 3 s while the page is shown.
  ctx.every(3000, load);
};

Pages.campaign = function (main, ctx, id) {
  const err = h("p", { class: "error", role: "alert", id: "campaign-error" });
  const title = h("h1", {}, "Campaign");
  const head = h("div", { class: "card", id: "summary" });
  const actions = h("div", { class: "actions", id: "actions" });
  const funnel = h("div", { class: "card" }, h("h2", {}, "Funnel"), h("div", { id: "funnel-box" }));
  const perMinute = h("div", { class: "card" }, h("h2", {}, "Sends per minute"), h("div", { id: "minute-box" }));
  const reasons = h("div", { class: "card" }, h("h2", {}, "Failure reasons"), h("ul", { id: "reasons" }));
  const mStatus = h("select", { id: "message-status" }, h("option", { value: "" }, "All"),
    MESSAGE_STATUSES.map((s) => h("option", { value: s }, s)));
  const phone = h("input", { id: "phone-search", type: "search" });
  const rows = h("tbody", { id: "message-rows" });
  const pager = h("div", { class: "pager" });
  main.append(title, err, head, actions, funnel, perMinute, reasons,
    h("div", { class: "card" }, h("h2", {}, "Recipients"),
      h("div", { class: "row" }, h("div", {}, h("label", { for: "message-status" }, "Status"), mStatus),
        h("div", {}, h("label", { for: "phone-search" }, "Phone"), phone),
        h("a", { id: "export", href: `/api/v1/campaigns/${id}/messages.csv`, download: "" }, "Export CSV")),
      h("div", { class: "table-wrap" }, h("table", { class: "cards" },
        h("thead", {}, h("tr", {}, ["Phone", "Status", "Attempts", "Sent", "Delivered", "Read", "Failed", "Reason"].map((t) => h("th", {}, t)))), rows)),
      pager));
  let campaign = null, page = 1;
  const samples = []; // [time ms, processed] from the live stats, for sends per minute.
  function renderStats(s) {
    const p = processed(s), r = replied(s);
    head.replaceChildren(badge(s.status), " ", bar(p, s.total_contacts),
      h("span", { id: "progress-text" }, `${fmt.n(p)} / ${fmt.n(s.total_contacts)}`),
      h("p", {}, `Started ${fmt.time(s.started_at)} · completed ${fmt.time(s.completed_at)} · success ${fmt.n(s.success_rate)} %`));
    funnel.querySelector("#funnel-box").replaceChildren(Charts.funnel([
      ["total", s.total_contacts], ["sent", s.sent + s.delivered + s.read], ["delivered", s.delivered + s.read],
      ["read", s.read], ["replied", r || 0], ["failed", s.failed]]));
    samples.push([Date.now(), p]);
    const minutes = new Map();
    for (let i = 1; i < samples.length; i++) {
      const m = Math.floor(samples[i][0] / 60000) * 60000;
      minutes.set(m, (minutes.get(m) || 0) + Math.max(0, samples[i][1] - samples[i - 1][1]));
    }
    perMinute.querySelector("#minute-box").replaceChildren(
      Charts.perMinute([...minutes].slice(-30).map(([minute, count]) => ({ minute, count }))));
    renderActions(s);
  }
  function renderActions(s) {
    const status = s.status;
    const act = (name, label, cls, confirmText, body, then) => h("button", { type: "button", id: "btn-" + name, class: cls,
      onclick: async () => {
        if (confirmText && !confirm(confirmText)) return;
        try {
          const answer = await Api.post(`/campaigns/${id}/${name}`, body);
          err.textContent = "";
          if (then) then(answer); else refresh();
        } catch (e) { err.textContent = e.message; }
      } }, label);
    const can = {
      start: status === "DRAFT", pause: status === "RUNNING", resume: status === "PAUSED",
      cancel: !["COMPLETED", "CANCELLED", "FAILED"].includes(status),
      // The API retries failures of a campaign that has run (campaign-features.md); invalid
      // numbers and opt-outs are never taken back, so the count here is an upper bound.
      retry: ["RUNNING", "PAUSED", "COMPLETED", "FAILED"].includes(status) && s.failed > 0,
    };
    actions.replaceChildren(...[
      can.start && act("start", "Start"), can.pause && act("pause", "Pause"), can.resume && act("resume", "Resume"),
      can.retry && act("retry", "Retry failed", "", `Send the failed recipients (up to ${fmt.n(s.failed)}) again? ` +
        "Invalid numbers and opted-out people are left out.", { scope: "failed" }),
      act("clone", "Clone", "", null, {}, (copy) => { location.hash = `#/campaign/${copy.id}`; }),
      can.cancel && act("cancel", "Cancel", "danger", "Cancel this campaign? Unsent recipients will never be sent."),
    ].filter(Boolean));
  }
  async function loadMessages() {
    try {
      const list = await Api.get(`/campaigns/${id}/messages?page=${page}&limit=50${mStatus.value ? "&status=" + mStatus.value : ""}`);
      const term = phone.value.replace(/\D/g, "");
      rows.replaceChildren(...list.data.filter((m) => !term || m.phone.replace(/\D/g, "").includes(term)).map((m) =>
        h("tr", {}, h("td", { "data-label": "Phone" }, m.phone), h("td", { "data-label": "Status" }, m.status),
          h("td", { "data-label": "Attempts", class: "attempts" }, fmt.n(m.attempts)),
          h("td", { "data-label": "Sent" }, fmt.time(m.sent_at)), h("td", { "data-label": "Delivered" }, fmt.time(m.delivered_at)),
          h("td", { "data-label": "Read" }, fmt.time(m.read_at)), h("td", { "data-label": "Failed" }, fmt.time(m.failed_at)),
          h("td", { "data-label": "Reason" }, m.error_code ? `${m.error_code} ${m.error_message || ""}` : ""))));
      const p = list.pagination;
      pager.replaceChildren(
        h("button", { type: "button", disabled: p.page <= 1, onclick: () => { page--; loadMessages(); } }, "Previous"),
        h("span", {}, `${fmt.n(p.page)} / ${fmt.n(Math.max(1, p.total_pages))}`),
        h("button", { type: "button", disabled: p.page >= p.total_pages, onclick: () => { page++; loadMessages(); } }, "Next"));
      const failed = await Api.get(`/campaigns/${id}/messages?status=FAILED&limit=100`);
      const counts = new Map();
      for (const m of failed.data) {
        const k = m.error_code ? `${m.error_code} ${m.error_message || ""}` : "unknown";
        counts.set(k, (counts.get(k) || 0) + 1);
      }
      reasons.querySelector("#reasons").replaceChildren(...(counts.size ? [...counts].map(([k, n]) => h("li", {}, `${k}: ${fmt.n(n)}`))
        : [h("li", {}, "No failures")]));
    } catch (e) { err.textContent = e.message; }
  }
  async function refresh() {
    try {
      campaign = await Api.get(`/campaigns/${id}`);
      title.textContent = campaign.name;
      renderStats(await Api.get(`/campaigns/${id}/stats`));
    } catch (e) { err.textContent = e.message; }
    loadMessages();
  }
  mStatus.addEventListener("change", () => { page = 1; loadMessages(); });
  phone.addEventListener("input", loadMessages);
  refresh();
  ctx.stream(id, (event, data) => {
    if (event === "progress") renderStats(data);
    if (event === "status") loadMessages();
  });
};
