// The New campaign form (TEXT or TEMPLATE, filters, live audience size, variables checked
// before submit, API errors beside the field they name) and the Contacts page (list, search,
// tags, CSV import with its per-line report).
"use strict";
const STANDARD_VARS = ["nome", "name", "email", "telefone", "phone"];
const OPERATORS = ["equals", "not_equals", "contains", "not_contains", "starts_with", "ends_with", "is_empty", "is_not_empty"];

// A labelled field with the place for its error: {wrap, input, error}.
function field(id, label, input) {
  input.id = id;
  const error = h("div", { class: "field-error", id: id + "-error", role: "alert" });
  input.setAttribute("aria-describedby", error.id);
  return { wrap: h("div", { class: "field" }, h("label", { for: id }, label), input, error), input, error };
}

Pages.newCampaign = async function (main) {
  const [channels, templates, tags, customs] = await Promise.all([
    Api.get("/campaigns/channels"), Api.get("/campaigns/templates"), Api.get("/campaigns/tags"), Api.get("/campaigns/custom-fields")]);
  const list = (x) => (Array.isArray(x) ? x : x.data || []);
  const customKeys = list(customs).map((f) => f.key);
  const f = {
    name: field("f-name", "Name", h("input", { required: true })),
    channel_id: field("f-channel", "Channel", h("select", {}, list(channels).map((c) => h("option", { value: c.id }, `${c.name} (${c.id})`)))),
    message_type: field("f-type", "Message type", h("select", {}, h("option", { value: "TEXT" }, "TEXT"), h("option", { value: "TEMPLATE" }, "TEMPLATE"))),
    content: field("f-body", "Text (variables: {{nome}}, {{email}}, {{telefone}}, custom field keys)", h("textarea", { rows: 3 })),
    template_id: field("f-template", "Template", h("select", {})),
    metadata: field("f-mapping", "Template variables ({{1}}=field, one per line)", h("textarea", { rows: 2 })),
    rate_limit_per_minute: field("f-rate", "Sends per minute (1–300)", h("input", { type: "number", min: 1, max: 300, value: 300 })),
    scheduled_at: field("f-schedule", "Schedule (optional)", h("input", { type: "datetime-local" })),
    filters: field("f-tags", "Contacts with any of the tags", h("select", { multiple: true }, list(tags).map((t) => h("option", { value: t.id }, t.name || t.id)))),
  };
  const ffField = h("select", { id: "ff-field", "aria-label": "Filter field" }, h("option", { value: "" }, "—"),
    ["name", "email", "phone"].map((k) => h("option", { value: k }, k)), customKeys.map((k) => h("option", { value: "custom:" + k }, k)));
  const ffOp = h("select", { id: "ff-op", "aria-label": "Operator" }, OPERATORS.map((o) => h("option", { value: o }, o)));
  const ffValue = h("input", { id: "ff-value", "aria-label": "Value" });
  const audience = h("p", { id: "audience", "aria-live": "polite" });
  const formError = h("p", { class: "error", id: "form-error", role: "alert" });
  const form = h("form", { class: "card", id: "new-campaign", novalidate: true },
    h("h1", {}, "New campaign"), Object.values(f).map((x) => x.wrap),
    h("label", {}, "Field filter"), h("div", { class: "row" }, ffField, ffOp, ffValue),
    audience, formError, h("button", { type: "submit", id: "create" }, "Create campaign"));
  main.append(form);
  function syncType() {
    const text = f.message_type.input.value === "TEXT";
    f.content.wrap.hidden = !text;
    f.template_id.wrap.hidden = f.metadata.wrap.hidden = text;
    const ch = f.channel_id.input.value;
    f.template_id.input.replaceChildren(...list(templates).filter((t) => t.channel_id === ch && t.status === "APPROVED")
      .map((t) => h("option", { value: t.id }, `${t.name} (${t.variables} variables)`)));
  }
  function filters() {
    const out = {};
    const tagIds = [...f.filters.input.selectedOptions].map((o) => o.value);
    if (tagIds.length) out.tag_ids = tagIds;
    if (ffField.value) {
      const custom = ffField.value.startsWith("custom:");
      const ff = { field: custom ? ffField.value.slice(7) : ffField.value, operator: ffOp.value, is_custom_field: custom };
      if (!ffOp.value.startsWith("is_")) ff.value = ffValue.value;
      out.field_filters = [ff];
    }
    return out;
  }
  async function preview() {
    try {
      const r = await Api.post("/campaigns/preview", { filters: filters(), channel_id: f.channel_id.input.value });
      audience.textContent = `Audience: ${fmt.n(r.total)} contacts`;
      f.filters.error.textContent = "";
    } catch (e) { audience.textContent = ""; f.filters.error.textContent = e.message; }
  }
  function mapping() {
    const out = {};
    for (const line of f.metadata.input.value.split("\n").map((l) => l.trim()).filter(Boolean)) {
      const [k, v] = line.split("=").map((s) => s.trim());
      out[k.startsWith("{{") ? k : `{{${k}}}`] = v;
    }
    return out;
  }
  // Client-side checks before anything is sent; false when one failed (shown beside its field).
  function check() {
    let ok = true;
    const fail = (x, m) => { x.error.textContent = m; ok = false; };
    if (!f.name.input.value.trim()) fail(f.name, "A name is required.");
    const rate = Number(f.rate_limit_per_minute.input.value);
    if (!Number.isInteger(rate) || rate < 1 || rate > 300) fail(f.rate_limit_per_minute, "Between 1 and 300.");
    if (f.message_type.input.value === "TEXT") {
      const body = f.content.input.value;
      if (!body.trim()) fail(f.content, "The text is required.");
      const unknown = [...body.matchAll(/\{\{\s*([^}]+?)\s*\}\}/g)].map((m) => m[1])
        .filter((v) => !STANDARD_VARS.includes(v.toLowerCase()) && !customKeys.includes(v));
      if (unknown.length) fail(f.content, `Unknown variable(s): ${unknown.map((v) => `{{${v}}}`).join(", ")}`);
    } else {
      const t = list(templates).find((x) => x.id === f.template_id.input.value);
      if (!t) fail(f.template_id, "Choose an approved template of this channel.");
      else {
        const m = mapping();
        for (let i = 1; i <= t.variables; i++) if (!m[`{{${i}}}`]) fail(f.metadata, `{{${i}}} needs a field.`);
      }
    }
    return ok;
  }
  // The API names the field first ("channel_id …", "content.text.body: …"): show it there.
  function place(message) {
    const first = message.split(/[\s:.[]/)[0];
    const target = f[first] || (first === "tag_ids" || first === "field_filters" ? f.filters : null);
    if (target) target.error.textContent = message; else formError.textContent = message;
  }
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    Object.values(f).forEach((x) => (x.error.textContent = ""));
    formError.textContent = "";
    if (!check()) return;
    const body = {
      name: f.name.input.value.trim(), channel_id: f.channel_id.input.value, message_type: f.message_type.input.value,
      rate_limit_per_minute: Number(f.rate_limit_per_minute.input.value), filters: filters(),
    };
    if (body.message_type === "TEXT") body.content = { type: "text", text: { body: f.content.input.value } };
    else { body.template_id = f.template_id.input.value; body.metadata = { template_variable_mapping: mapping() }; }
    if (f.scheduled_at.input.value) body.scheduled_at = new Date(f.scheduled_at.input.value).toISOString();
    try {
      const c = await Api.post("/campaigns", body);
      location.hash = "#/campaign/" + c.id;
    } catch (e) { place(e.message); }
  });
  [f.channel_id.input, f.message_type.input].forEach((x) => x.addEventListener("change", () => { syncType(); preview(); }));
  [f.filters.input, ffField, ffOp, ffValue].forEach((x) => x.addEventListener("change", preview));
  syncType();
  preview();
};

Pages.contacts = function (main) {
  const search = h("input", { id: "contact-search", type: "search" });
  const rows = h("tbody", { id: "contact-rows" });
  const pager = h("div", { class: "pager" });
  const file = h("input", { id: "csv-file", type: "file", accept: ".csv,text/csv" });
  const progress = h("progress", { id: "import-progress", max: 100, value: 0, hidden: true });
  const report = h("div", { id: "import-report", "aria-live": "polite" });
  let page = 1;
  main.append(h("h1", {}, "Contacts"),
    h("div", { class: "card" }, h("h2", {}, "Import CSV"), h("p", {}, "Header: name,email,phone,tags,<custom field keys>; tags separated by |"),
      h("label", { for: "csv-file" }, "CSV file"), file, progress, report),
    h("div", { class: "row" }, h("div", {}, h("label", { for: "contact-search" }, "Search (this page)"), search)),
    h("div", { class: "card table-wrap" }, h("table", { class: "cards" },
      h("thead", {}, h("tr", {}, ["Name", "Phone", "Email", "Tags"].map((t) => h("th", {}, t)))), rows)), pager);
  async function load() {
    const list = await Api.get(`/contacts?page=${page}&limit=50`);
    const term = search.value.toLowerCase();
    rows.replaceChildren(...list.data.filter((c) => !term || [c.name, c.phone, c.email, ...(c.tags || [])].some((v) => v && String(v).toLowerCase().includes(term)))
      .map((c) => h("tr", {}, h("td", { "data-label": "Name" }, c.name || ""), h("td", { "data-label": "Phone" }, c.phone || ""),
        h("td", { "data-label": "Email" }, c.email || ""), h("td", { "data-label": "Tags" }, (c.tags || []).join(", ")))));
    const p = list.pagination;
    pager.replaceChildren(
      h("button", { type: "button", disabled: p.page <= 1, onclick: () => { page--; load(); } }, "Previous"),
      h("span", {}, `${fmt.n(p.page)} / ${fmt.n(Math.max(1, p.total_pages))} (${fmt.n(p.total)})`),
      h("button", { type: "button", disabled: p.page >= p.total_pages, onclick: () => { page++; load(); } }, "Next"));
  }
  // The upload's progress comes from XMLHttpRequest (fetch reports none); the report at the end.
  file.addEventListener("change", () => {
    if (!file.files[0]) return;
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/contacts/import");
    xhr.setRequestHeader("X-API-Key", Api.key() || "");
    xhr.setRequestHeader("Content-Type", "text/csv");
    progress.hidden = false;
    progress.value = 0;
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) progress.value = (100 * e.loaded) / e.total; };
    xhr.onload = () => {
      progress.value = 100;
      let r = null;
      try { r = JSON.parse(xhr.responseText); } catch (_) { r = null; }
      if (xhr.status !== 200) { report.replaceChildren(h("p", { class: "error" }, (r && r.message) || "HTTP " + xhr.status)); return; }
      report.replaceChildren(h("p", {}, `Created ${fmt.n(r.created)}, updated ${fmt.n(r.updated)}, invalid ${fmt.n(r.invalid.length)}`),
        h("ul", {}, r.invalid.map((x) => h("li", {}, `line ${x.line}: ${x.message}`))));
      load();
    };
    xhr.onerror = () => report.replaceChildren(h("p", { class: "error" }, "The upload failed"));
    xhr.send(file.files[0]);
  });
  search.addEventListener("input", load);
  load();
};
