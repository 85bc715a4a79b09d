// evidence-kit web app: plain JavaScript over the JSON API (no build step). Everything the page does, a
// script can do with the same requests (README, "Web app").
"use strict";
(() => {
  const M = JSON.parse(document.getElementById("messages").textContent);
  const MAX_UPLOAD = Number(document.body.dataset.maxUpload);
  const form = document.getElementById("facts");
  const filesSection = document.getElementById("files-section");
  const caseId = (form && form.dataset.case) || (filesSection && filesSection.dataset.case) || "";
  const caseKey = encodeURIComponent(caseId);  // a case folder made by hand may have any name
  let dirty = false;
  // Entries of a hand-written case.toml no field has (a mistyped key): left out when the page saves.
  let unknownKeys = JSON.parse((document.getElementById("unknown-keys") || { textContent: "[]" }).textContent);
  let pending = []; // start page: {file, kind} added before the case exists, uploaded by Create

  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];
  const say = (id, text) => { const el = document.getElementById(id); if (el) el.textContent = text; };
  const C = JSON.parse(($("#case-messages") || { textContent: "{}" }).textContent);  // the case page's own words

  async function request(method, url, body) {
    const options = { method, headers: {} };
    if (body instanceof FormData) options.body = body;
    else if (body !== undefined) { options.headers["content-type"] = "application/json"; options.body = JSON.stringify(body); }
    let response;
    try { response = await fetch(url, options); } catch (e) { return { status: 0, data: { problems: [M.network] } }; }
    let data = {};
    try { data = await response.json(); } catch (e) { /* 204 and HTML answers have no JSON */ }
    return { status: response.status, data };
  }

  function seconds(value) {
    const s = Number(value);
    return `${Math.floor(s / 60)}:${(s % 60).toFixed(1).padStart(4, "0")}`;
  }

  // --- the facts form ------------------------------------------------------------------------------------
  function collectFacts() {
    const facts = JSON.parse($("#initial-facts").textContent || "{}") || {};
    facts.order = { ...(facts.order || {}) };
    facts.dispute = { ...(facts.dispute || {}) };
    facts.facts = {};  // the situation facts: only those shown for the chosen reason, typed as case.toml types them
    for (const el of $$(".fact [name]", form)) {
      if (el.closest(".fact").hidden) continue;
      const value = factValue(el);
      if (value !== undefined) facts.facts[el.name.slice("facts.".length)] = value;
    }
    if (!Object.keys(facts.facts).length) delete facts.facts;
    for (const el of $$("[name]", form)) {
      if (el.name.startsWith("tracking.") || el.name.startsWith("facts.")) continue;
      const [table, key] = el.name.split(".");
      if (key === undefined) facts[table] = el.value; else facts[table][key] = el.value;
    }
    facts.tracking = $$(".tracking-row", form).map((row) => {
      const entry = {};
      for (const el of $$("[name]", row)) entry[el.name.split(".")[2]] = el.value.trim();
      return entry;
    }).filter((entry) => Object.values(entry).some(Boolean));
    const list = $("#photo-list");
    if (list) {
      const ranked = list.dataset.ranked === "true";
      facts.photos = $$("li.photo:not([hidden])", list).map((li, i) => {
        const hint = { file: li.dataset.path, caption: $(".caption", li).value.trim() };
        const rank = ranked ? i + 1 : Number(li.dataset.rank) || 0;
        if (rank) hint.rank = rank;
        const use = $(".use", li);
        if (use && !use.checked) hint.skip = true;  // never uploaded; the build chooses among the others
        return hint;
      }).filter((hint) => hint.rank || hint.caption || hint.skip);
    }
    const start = $("#video-start"), end = $("#video-end");
    if (start && end && trimIsForAnother()) {  // the trim was set for a video no longer chosen: not for this one
      const video = { ...(facts.video || {}) };
      delete video.start; delete video.end;
      if (Object.keys(video).length) facts.video = video; else delete facts.video;
    } else if (start && end) {
      const duration = Number(start.max);
      const video = { ...(facts.video || {}) };
      delete video.start; delete video.end;
      if (Number(start.value) > 0) video.start = Number(start.value);
      if (Number(end.value) < duration - 0.05) video.end = Number(end.value);
      if (Object.keys(video).length) facts.video = video; else delete facts.video;
    }
    const choice = $("input[name='video-choice']:checked");
    if (choice) {  // which video the form gets: one of them, or none
      const video = { ...(facts.video || {}) };
      const named = Boolean(video.file);
      delete video.file; delete video.skip;
      if (choice.value === "") video.skip = true;
      else if (named || $$("input[name='video-choice']").length > 2) video.file = choice.value;
      if (Object.keys(video).length) facts.video = video; else delete facts.video;
    }
    for (const path of unknownKeys) {
      let table = facts;
      for (const part of path.slice(0, -1)) table = table && typeof table === "object" ? table[part] : undefined;
      if (table && typeof table === "object") delete table[path[path.length - 1]];
    }
    return facts;
  }

  // The trim sliders belong to one video (the one the last save chose); another one chosen since hides them.
  function trimIsForAnother() {
    const trim = $("#files .trim");
    const choice = $("input[name='video-choice']:checked");
    return Boolean(trim && choice && choice.value && choice.value !== trim.closest(".video").dataset.path);
  }

  function showTrim() {
    const trim = $("#files .trim");
    if (trim) trim.hidden = trimIsForAnother();
  }

  // A fact as JSON: a number where case.toml wants one (anything else is sent as typed, for the server's
  // message), true/false for the checks, nothing for an empty field.
  function factValue(el) {
    const kind = el.dataset.kind;
    if (kind === "check") return el.checked ? true : undefined;
    const text = el.value.trim();
    if (!text) return undefined;
    if (kind === "works") return text === "true";
    if (kind === "count" && /^-?\d+(\.\d+)?$/.test(text)) return Number(text);
    return text;
  }

  // Only the facts valid for the chosen reason are shown (and sent); those for any reason always are. On
  // loading, a fact case.toml holds for another reason stays in sight (and is sent), so its problem is
  // seen and fixed rather than dropped unseen.
  function showFacts(keepFilled = false) {
    const reason = document.getElementById("f-dispute.reason").value;
    for (const field of $$(".fact", form)) {
      const reasons = field.dataset.reasons.split(" ").filter(Boolean);
      const filled = keepFilled && factValue($("[name]", field)) !== undefined;
      field.hidden = reasons.length > 0 && !reasons.includes(reason) && !filled;
    }
  }

  function clearProblems() {
    for (const el of $$("[data-error-for]")) { el.hidden = true; el.textContent = ""; }
    for (const el of $$(".field.invalid")) el.classList.remove("invalid");
    const box = $("#form-problems"); if (box) { box.hidden = true; box.textContent = ""; }
  }

  function showProblems(data) {
    clearProblems();
    const general = [];
    const fields = data.fields || {};
    if (!data.fields) general.push(...(data.problems || []));
    for (const [name, messages] of Object.entries(fields)) {
      const slot = $(`[data-error-for="${CSS.escape(name)}"]`) || $(`[data-error-for^="${CSS.escape(name + ".")}"]`);
      if (!slot || slot.closest(".fact[hidden]")) { general.push(...messages); continue; }
      slot.textContent = messages.join(" ");
      slot.hidden = false;
      slot.closest(".field").classList.add("invalid");
    }
    const box = $("#form-problems");
    if (box) {
      const items = general.map((p) => `<li>${p.replace(/[&<>]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;" }[c]))}</li>`);
      box.innerHTML = `<p>${M.fix_problems}</p>` + (items.length ? `<ul>${items.join("")}</ul>` : "");
      box.hidden = false;
    }
    const first = $(".field.invalid input, .field.invalid select, .field.invalid textarea");
    if (first) first.focus();
  }

  async function save() {
    say("save-status", M.saving);
    const facts = collectFacts();
    const { status, data } = caseId ? await request("PUT", `/api/cases/${caseKey}`, facts)
      : await request("POST", "/api/cases", facts);
    if (status === 200 || status === 201) {
      clearProblems();
      dirty = false;
      $("#initial-facts").textContent = JSON.stringify(facts);  // what case.toml now holds
      say("save-status", M.saved);
      const tomlProblems = $("#toml-problems");  // case.toml is valid now: what it had is fixed
      if (tomlProblems) tomlProblems.hidden = true;
      unknownKeys = [];
      if (caseId) await refreshFiles();  // the plan and the trim follow what was saved
      return true;
    }
    say("save-status", "");
    showProblems(data);
    return false;
  }

  // A date input writes its day in the browser's language, not the page's: the words under it say the day.
  const dayFormat = new Intl.DateTimeFormat(document.documentElement.lang || undefined, { dateStyle: "long" });
  function sayDay(input) {
    const words = document.getElementById(`w-${input.name}`);
    const [year, month, day] = input.value.split("-").map(Number);
    if (words) words.textContent = input.value ? dayFormat.format(new Date(year, month - 1, day)) : "";
  }

  function explainReason() {
    const select = document.getElementById("f-dispute.reason");
    const option = select && select.selectedOptions[0];
    if (!option) return;
    // A native select (Firefox's) shows the chosen title on one line, cut at 360 px: the line under it says it whole.
    const whole = getComputedStyle(select).appearance === "base-select" ? "" : option.text;
    say("h-dispute.reason", option.value ? [whole, option.dataset.wins, option.dataset.caveat].filter(Boolean).join(" · ") : "");
  }

  if (form) {
    form.addEventListener("submit", (event) => { event.preventDefault(); if (caseId) save(); else createCase(); });
    form.addEventListener("input", (event) => {
      dirty = true;
      if (event.target.type === "date") sayDay(event.target);
      const field = event.target.closest(".field");
      if (field && field.classList.contains("invalid")) {  // the buyer is fixing it: the message goes away
        field.classList.remove("invalid");
        const slot = $("[data-error-for]", field); slot.hidden = true;
      }
    });
    document.getElementById("f-dispute.reason").addEventListener("change", () => { explainReason(); showFacts(); });
    explainReason();
    showFacts(true);
    for (const button of $$("#toml-problems button.move-key")) {  // a mistyped key's value, into its field
      const target = document.getElementById(`f-${button.dataset.field}`);
      const label = target && $(`label[for="${CSS.escape(target.id)}"]`);
      if (!target || !label || !["INPUT", "TEXTAREA"].includes(target.tagName)) { button.remove(); continue; }
      const name = [...label.childNodes].filter((n) => !(n.classList && n.classList.contains("req")))
        .map((n) => n.textContent).join("").trim();
      button.textContent = C.use_as.replace("{label}", name);
      button.addEventListener("click", () => {
        target.value = button.dataset.value;
        target.dispatchEvent(new Event("input", { bubbles: true }));
        target.focus();
      });
    }
    $("#add-tracking").addEventListener("click", () => {
      const rows = $$(".tracking-row", form);
      const copy = rows[rows.length - 1].cloneNode(true);
      const index = rows.length;
      copy.dataset.row = index;
      for (const el of $$("[id], [for], [name], [data-error-for], [aria-describedby], [data-field]", copy)) {
        for (const attr of ["id", "for", "name", "data-error-for", "aria-describedby", "data-field"]) {
          if (el.hasAttribute(attr)) el.setAttribute(attr, el.getAttribute(attr).replace(/tracking\.\d+\./g, `tracking.${index}.`));
        }
        if (el.tagName === "INPUT") el.value = "";
        if (el.dataset.errorFor) el.hidden = true;
      }
      $("#tracking-rows").append(copy);
      $("input", copy).focus();
    });
  }

  // --- files ---------------------------------------------------------------------------------------------
  async function upload(id, files) {
    const total = files.reduce((sum, f) => sum + f.size, 0);
    if (total > MAX_UPLOAD) {
      say("upload-status", `${M.too_big} ${files.map((f) => f.name).join(", ")}`);
      return false;
    }
    const body = new FormData();
    for (const file of files) body.append("files", file, file.name);
    const kind = $("#file-kind") ? $("#file-kind").value : "auto";
    say("upload-status", M.uploading);
    const { status, data } = await send(`/api/cases/${encodeURIComponent(id)}/files?kind=${encodeURIComponent(kind)}`, body);
    const rejected = (data.rejected || []).map((r) => `${r.name}: ${r.message}`);
    if (status === 201) say("upload-status", [M.uploaded, ...rejected].join(" "));
    else say("upload-status", (data.problems || []).join(" "));
    return status === 201;
  }

  // XMLHttpRequest rather than fetch: it reports upload progress, which a 3 GB video needs.
  function send(url, body) {
    const bar = $("#upload-progress");
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.responseType = "json";
      if (bar) {
        bar.hidden = false; bar.value = 0;
        xhr.upload.onprogress = (event) => { if (event.lengthComputable) bar.value = event.loaded / event.total; };
      }
      xhr.onload = () => { if (bar) bar.hidden = true; resolve({ status: xhr.status, data: xhr.response || {} }); };
      xhr.onerror = () => { if (bar) bar.hidden = true; resolve({ status: 0, data: { problems: [M.network] } }); };
      xhr.send(body);
    });
  }

  async function refreshFiles() {
    // The server may have changed case.toml too (a removed file takes its hints along): start from it again.
    // What the buyer changed and has not saved (order, captions, skips, video choice and trim) stays, and so
    // does the focus.
    const kept = dirty ? filesState() : null;
    const focus = focusKey();
    const { status, data } = await request("GET", `/api/cases/${caseKey}`);
    if (status === 200) $("#initial-facts").textContent = JSON.stringify(data.facts);
    const files = await fragment(`/cases/${caseKey}/fragment/files`);
    if (files !== null) {
      $("#files").innerHTML = files;
      if (kept) restoreFiles(kept);
      bindSliders();
      showTrim();
      refocus(focus);
      if (kept) askPlan();
    }
    await refreshResult();
  }

  function filesState() {
    const list = $("#photo-list");
    const trim = $("#files .trim");
    return {
      ranked: list ? list.dataset.ranked : "false",
      photos: list ? $$("li.photo:not([hidden])", list).map((li) => ({
        path: li.dataset.path, caption: $(".caption", li).value, use: $(".use", li).checked })) : [],
      video: ($("input[name='video-choice']:checked") || {}).value,
      trim: trim ? { path: trim.closest(".video").dataset.path, start: $("#video-start").value, end: $("#video-end").value } : null,
    };
  }

  function restoreFiles(state) {
    const list = $("#photo-list");
    if (list) {
      const items = new Map($$("li.photo", list).map((li) => [li.dataset.path, li]));
      const known = state.photos.filter((p) => items.has(p.path));
      for (const p of known) {
        const li = items.get(p.path);
        $(".caption", li).value = p.caption;
        $(".use", li).checked = p.use;
      }
      if (state.ranked === "true") {
        list.dataset.ranked = "true";
        const placed = known.map((p) => items.get(p.path));
        list.append(...placed, ...[...items.values()].filter((li) => !placed.includes(li)));
      }
    }
    if (state.video !== undefined) {
      const radio = $$("input[name='video-choice']").find((r) => r.value === state.video);
      if (radio) radio.checked = true;
    }
    const trim = $("#files .trim");
    if (state.trim && trim && trim.closest(".video").dataset.path === state.trim.path) {
      $("#video-start").value = state.trim.start; $("#video-end").value = state.trim.end;
    }
  }

  // The focused control inside the file list, named so that it can be found again after the list is redrawn.
  function focusKey() {
    const el = document.activeElement;
    const box = $("#files");
    if (!el || !box || !box.contains(el)) return null;
    const item = el.closest("[data-path]");
    return { path: item ? item.dataset.path : null, kind: el.classList[0] || "", tag: el.tagName, name: el.name || "" };
  }

  function refocus(key) {
    if (!key || !key.path) return;
    const item = $$("#files [data-path]").find((el) => el.dataset.path === key.path && !el.hidden);
    if (!item) return;
    const candidates = item.matches(key.tag.toLowerCase()) ? [item] : [];
    candidates.push(...$$(key.tag.toLowerCase(), item));
    const found = candidates.find((el) => (el.classList[0] || "") === key.kind && (el.name || "") === key.name);
    if (found) found.focus({ preventScroll: true });
  }

  // Remove: the item goes from the list at once and the status offers Undo; the file itself is removed a
  // little later (or before an upload, a build or leaving the page), so Undo needs nothing back from the server.
  const REMOVE_DELAY = 10000;
  let removals = [];
  let removeTimer = null;

  function removeLater(button) {
    const item = button.closest("li.photo, .video, .others li");
    const kind = item.matches("li.photo") ? "li.photo" : item.matches(".video") ? ".video" : "li";
    const peers = [...item.parentElement.children].filter((el) => el.matches(kind) && !el.hidden);
    const at = peers.indexOf(item);
    const next = peers[at + 1] || peers[at - 1];
    const radio = $("input[name='video-choice']", item);
    removals.push({ path: button.dataset.path, name: button.dataset.name, item, checked: Boolean(radio && radio.checked) });
    if (radio) radio.checked = false;
    item.hidden = true;
    showRemovals(C.removed);
    clearTimeout(removeTimer);
    removeTimer = setTimeout(flushRemovals, REMOVE_DELAY);
    (next ? $("button.remove", next) : $("#undo-remove")).focus();
    askPlan();
  }

  function showRemovals(words) {
    const names = removals.map((r) => r.name).join(", ");
    say("remove-status", words.replace("{names}", names));
    $("#undo-remove").hidden = !removals.length;
  }

  function undoRemovals() {
    clearTimeout(removeTimer);
    const back = removals;
    if (!back.length) return;
    say("remove-status", C.restored.replace("{names}", back.map((r) => r.name).join(", ")));
    removals = [];
    $("#undo-remove").hidden = true;
    for (const r of back) {
      r.item.hidden = false;
      const radio = $("input[name='video-choice']", r.item);
      if (radio && r.checked) radio.checked = true;
    }
    $("button.remove", back[back.length - 1].item).focus();
    askPlan();
  }

  async function flushRemovals(leaving = false) {
    clearTimeout(removeTimer);
    const now = removals;
    if (!now.length) return;
    removals = [];
    const undo = $("#undo-remove");
    if (document.activeElement === undo) $("#remove-status").focus();
    undo.hidden = true;
    const problems = [];
    for (const r of now) {
      const url = `/api/cases/${caseKey}/files/${r.path.split("/").map(encodeURIComponent).join("/")}`;
      if (leaving) { fetch(url, { method: "DELETE", keepalive: true }); continue; }  // outlives the page
      const { status, data } = await request("DELETE", url);
      if (status !== 204 && status !== 404) problems.push(...(data.problems || []));
    }
    if (leaving) return;
    if (problems.length) say("remove-status", problems.join(" "));
    await refreshFiles();
  }

  // The slots shown are the library's (POST /plan with the page's unsaved order, skips and video choice), and
  // the list is put in its order: what is on screen is what Build uploads, in that order.
  let planAsked = 0, planTimer = null;
  // Every change counts as a new question at once, so an answer to an older one is never applied after it.
  function askPlan() { planAsked++; clearTimeout(planTimer); planTimer = setTimeout(showPlan, 120); }

  async function showPlan() {
    if (!$("#photo-list") && !$("#video-choice")) return;
    const asked = ++planAsked;
    const facts = collectFacts();
    const body = {};
    if (facts.photos) body.photos = facts.photos;
    if (facts.video) body.video = facts.video;
    const { status, data } = await request("POST", `/api/cases/${caseKey}/plan`, body);
    if (asked !== planAsked || status !== 200) return;  // a later change asked again: its answer counts
    if ($("li.photo.dragging")) return;  // mid-drag: the drop asks again
    applyPlan(data.plan);
  }

  function applyPlan(plan) {
    const list = $("#photo-list");
    const focused = document.activeElement;
    if (list) {
      const items = new Map($$("li.photo", list).map((li) => [li.dataset.path, li]));
      const ordered = plan ? plan.photos.map((p) => [items.get(p.path), p]).filter(([li]) => li) : [];
      for (const [li, p] of ordered) {
        $(".slot", li).textContent = p.label;
        li.classList.toggle("left-out", !p.used);
      }
      if (!plan) for (const li of items.values()) { $(".slot", li).textContent = ""; li.classList.remove("left-out"); }
      const now = $$("li.photo", list);
      const wanted = [...ordered.map(([li]) => li), ...now.filter((li) => !ordered.some(([o]) => o === li))];
      if (wanted.some((li, i) => now[i] !== li)) list.append(...wanted);
    }
    for (const shot of plan ? plan.chat : []) {  // chat screenshots in the slots the photos leave free
      const li = $$("ul.others li", document).find((el) => el.dataset.path === shot.path);
      const slot = li && $(".slot", li);
      if (!slot) continue;
      slot.textContent = shot.label;
      li.classList.toggle("left-out", !shot.used);
    }
    for (const video of plan ? plan.videos : []) {
      const box = $$(".video", $("#video-choice") || document).find((el) => el.dataset.path === video.path);
      if (!box) continue;
      $(".slot", box).textContent = video.label;
      box.classList.toggle("left-out", !video.used);
    }
    // Moving an element takes the focus off it: give it back to where the buyer was.
    if (focused && focused !== document.activeElement && document.contains(focused)) focused.focus();
  }

  async function refreshResult() {  // the result says when the case changed after its build
    const result = await fragment(`/cases/${caseKey}/fragment/result`);
    if (result !== null && $("#result")) $("#result").innerHTML = result;
  }

  // A part of the page as the server draws it, or null when it does not come (the app stopped, or the buyer
  // left the page while it was on its way: Firefox rejects the fetch then), never an uncaught error.
  async function fragment(url) {
    try {
      const response = await fetch(url);
      return response.ok ? await response.text() : null;
    } catch (e) { return null; }
  }

  async function addFiles(files) {
    if (!files.length) return;
    if (!caseId) { addPending(files); return; }  // start page: kept until the case is created
    await flushRemovals();
    if (dirty) await save();  // the list is redrawn from case.toml after the upload: keep the order and captions
    if (await upload(caseId, files)) await refreshFiles();
  }

  function dropTarget(el, onFiles) {
    el.addEventListener("dragover", (event) => {
      if (![...event.dataTransfer.types].includes("Files")) return;
      event.preventDefault(); document.body.classList.add("over"); $("#dropzone")?.classList.add("over");
    });
    el.addEventListener("dragleave", () => { document.body.classList.remove("over"); $("#dropzone")?.classList.remove("over"); });
    el.addEventListener("drop", (event) => {
      if (!event.dataTransfer.files.length) return;
      event.preventDefault();
      document.body.classList.remove("over"); $("#dropzone")?.classList.remove("over");
      onFiles([...event.dataTransfer.files]);
    });
  }
  dropTarget(document, addFiles);  // the whole page takes a drop (the drop zone is where it shows)
  const picker = $("#file-picker");
  if (picker) picker.addEventListener("change", async () => { await addFiles([...picker.files]); picker.value = ""; });
  // Files that came from the phone (phone.js's panel): into the list as they arrive.
  if (caseId) document.addEventListener("evidence-kit:files-changed", () => refreshFiles());

  const newCaseButton = $("#new-case-button");
  if (newCaseButton) newCaseButton.addEventListener("click", () => {
    const section = $("#new-case");
    section.hidden = !section.hidden;
    newCaseButton.setAttribute("aria-expanded", String(!section.hidden));
    if (!section.hidden) document.getElementById("f-order.number").focus();
  });

  // --- start page: files kept until Create, then uploaded by kind with progress ---------------------------
  const startBox = document.getElementById("start-messages");
  const S = startBox ? JSON.parse(startBox.textContent) : {};
  const fill = (text, values) => text.replace(/%\((\w+)\)s/g, (all, key) => (key in values ? values[key] : all));
  const numberIn = (options) => new Intl.NumberFormat(document.documentElement.lang || undefined, options);
  // As the server writes a size (i18n.file_size): MB from 0.1 MB, else kB.
  const fileSize = (bytes) => (bytes >= 100_000 ? fill(S.mb, { n: numberIn({ minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(bytes / 1e6) })
    : fill(S.kb, { n: numberIn({ minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(bytes / 1000) }));
  let creating = false;  // set by the first Create and never cleared once the case exists: one case per click
  const refused = [];  // {name, message}: files turned away, by this page or by the server

  function addPending(files) {
    const kind = $("#file-kind") ? $("#file-kind").value : "auto";
    for (const file of files) {
      if (file.size === 0) refused.push({ name: file.name, message: S.empty });
      else if (file.size > MAX_UPLOAD) refused.push({ name: file.name, message: fill(S.too_big, { mb: numberIn().format(MAX_UPLOAD / 1e6) }) });
      else pending.push({ file, kind });
    }
    drawPending();
    const section = $("#new-case"); section.hidden = false;
    $("#new-case-button").setAttribute("aria-expanded", "true");
    // A drop goes on to the order; the picker keeps the keyboard where it is, to add more.
    if (!$("#dropzone").contains(document.activeElement)) document.getElementById("f-order.number").focus();
  }

  function drawPending() {
    const list = $("#pending-list");
    list.textContent = "";
    pending.forEach((item, i) => {
      const li = document.createElement("li");
      const name = document.createElement("span"); name.className = "name"; name.textContent = item.file.name;
      const size = document.createElement("span"); size.className = "size";
      size.textContent = fileSize(item.file.size);
      const kind = $("#file-kind").cloneNode(true);
      kind.removeAttribute("id"); kind.className = "pending-kind"; kind.value = item.kind; kind.dataset.index = i;
      kind.setAttribute("aria-label", fill(S.kind_of, { name: item.file.name }));
      const remove = document.createElement("button");
      remove.type = "button"; remove.className = "remove secondary"; remove.dataset.index = i; remove.textContent = "✕";
      remove.setAttribute("aria-label", fill(S.remove, { name: item.file.name }));
      li.append(name, " ", size, kind, remove);
      list.append(li);
    });
    $("#pending-count").textContent = fill(S.pending, { n: numberIn().format(pending.length) });
    $("#pending-files").hidden = !pending.length;
    drawRefused([]);
  }

  function drawRefused(duplicates) {
    const box = $("#rejected-box");
    $("#rejected-title").textContent = S.not_added;
    $("#rejected-title").hidden = !refused.length;
    const list = $("#rejected-files");
    list.textContent = "";
    for (const r of refused) {
      const li = document.createElement("li");
      const name = document.createElement("strong"); name.textContent = r.name;
      li.append(name, `: ${r.message}`);
      list.append(li);
    }
    $("#duplicate-files")?.remove();
    if (duplicates.length) {
      const block = document.createElement("div"); block.id = "duplicate-files";
      const title = document.createElement("p"); title.textContent = S.already;
      const items = document.createElement("ul");
      for (const d of duplicates) {
        const li = document.createElement("li");
        const name = document.createElement("strong"); name.textContent = d.name;
        li.append(name, `: ${d.message}`);
        items.append(li);
      }
      block.append(title, items); box.append(block);
    }
    box.hidden = !refused.length && !duplicates.length;
  }

  const pendingList = $("#pending-list");
  if (pendingList) {
    pendingList.addEventListener("change", (event) => {
      if (event.target.classList.contains("pending-kind")) pending[Number(event.target.dataset.index)].kind = event.target.value;
    });
    pendingList.addEventListener("click", (event) => {
      const button = event.target.closest("button.remove");
      if (!button || creating) return;
      const index = Number(button.dataset.index);
      pending.splice(index, 1);
      drawPending();
      const next = $$("#pending-list button.remove")[Math.min(index, pending.length - 1)];
      (next || $("label[for='file-picker']")).focus();  // focus stays in the list, never falls to the page
    });
  }

  function busy(on) {
    for (const el of [$("#save"), $("#file-picker"), $("#file-kind"), ...$$("#pending-list select, #pending-list button")]) {
      if (el) el.disabled = on;
    }
    $("label[for='file-picker']")?.setAttribute("aria-disabled", String(on));
  }

  // One request per kind, each within the upload limit; the bar shows the bytes of all of them.
  function batches() {
    const groups = new Map();
    for (const item of pending) groups.set(item.kind, [...(groups.get(item.kind) || []), item.file]);
    const out = [];
    for (const [kind, files] of groups) {
      let batch = [], size = 0;
      for (const file of files) {
        const cost = file.size + 1024;  // with its part's headers
        if (batch.length && size + cost > MAX_UPLOAD) { out.push({ kind, files: batch }); batch = []; size = 0; }
        batch.push(file); size += cost;
      }
      if (batch.length) out.push({ kind, files: batch });
    }
    return out;
  }

  function post(url, body, onProgress) {
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.responseType = "json";
      xhr.upload.onprogress = (event) => { if (event.lengthComputable) onProgress(event.loaded / event.total); };
      xhr.onload = () => resolve({ status: xhr.status, data: xhr.response || {} });
      xhr.onerror = () => resolve({ status: 0, data: { problems: [M.network] } });
      xhr.send(body);
    });
  }

  async function uploadPending(id) {
    const duplicates = [];
    const total = pending.reduce((sum, item) => sum + item.file.size, 0) || 1;
    const count = pending.length;
    const bar = $("#upload-progress");
    let sent = 0, done = 0;
    const show = (fraction) => {
      bar.value = fraction;
      say("upload-status", fill(S.uploading, { percent: numberIn({ style: "percent" }).format(fraction),
        done: numberIn().format(done), total: numberIn().format(count) }));
    };
    bar.hidden = false; show(0);
    for (const { kind, files } of batches()) {
      const body = new FormData();
      for (const file of files) body.append("files", file, file.name);
      const size = files.reduce((sum, f) => sum + f.size, 0);
      const ends = files.map(((sum) => (f) => (sum += f.size))(0));  // where each file ends in the body
      const before = done;
      const { status, data } = await post(`/api/cases/${encodeURIComponent(id)}/files?kind=${encodeURIComponent(kind)}`,
        body, (part) => { done = before + ends.filter((end) => end <= part * size).length; show((sent + part * size) / total); });
      sent += size; done = before + files.length; show(sent / total);
      for (const item of data.stored || []) if (item.duplicate) duplicates.push(item);
      refused.push(...(data.rejected || []));
      if (status !== 201 && !(data.rejected || []).length) {  // the whole request refused: each file says why
        const why = (data.problems || []).join(" ") || M.network;
        refused.push(...files.map((f) => ({ name: f.name, message: why })));
      }
    }
    bar.hidden = true;
    return duplicates;
  }

  async function createCase() {
    if (creating) return;
    creating = true;
    busy(true);
    say("save-status", S.creating);
    const { status, data } = await request("POST", "/api/cases", collectFacts());
    if (status !== 201) {
      creating = false;
      busy(false);
      say("save-status", "");
      showProblems(data);
      return;
    }
    clearProblems();
    const url = `/cases/${encodeURIComponent(data.id)}`;
    const before = refused.length;
    const duplicates = pending.length ? await uploadPending(data.id) : [];
    if (refused.length === before && !duplicates.length) { location.href = url; return; }
    // Some files were not added: say which and why here, where they were chosen, with the way on.
    pending = [];
    drawPending();
    drawRefused(duplicates);
    say("save-status", "");
    say("upload-status", S.created);  // beside the list and the way on, not at the bottom of the form
    $("#open-case").href = url;
    $("#open-case-row").hidden = false;
    $("#open-case").focus();
  }

  function bindSliders() {
    const start = $("#video-start"), end = $("#video-end");
    if (!start || !end) return;
    const show = () => {
      if (Number(end.value) <= Number(start.value)) end.value = Math.min(Number(start.max), Number(start.value) + 0.1);
      say("video-start-out", seconds(start.value)); say("video-end-out", seconds(end.value));
    };
    for (const el of [start, end]) el.addEventListener("input", () => { dirty = true; show(); });
    show();
  }
  bindSliders();

  const filesBox = $("#files");
  if (filesBox) {
    filesBox.addEventListener("input", (event) => { if (event.target.classList.contains("caption")) dirty = true; });
    filesBox.addEventListener("change", (event) => {
      if (event.target.classList.contains("use") || event.target.name === "video-choice") { dirty = true; showTrim(); askPlan(); }
    });
    filesBox.addEventListener("click", async (event) => {
      const button = event.target.closest("button");
      if (!button) return;
      const li = button.closest("li.photo");
      if (button.classList.contains("remove")) { removeLater(button); return; }
      if (!li) return;
      if (button.classList.contains("up") && li.previousElementSibling) li.previousElementSibling.before(li);
      else if (button.classList.contains("down") && li.nextElementSibling) li.nextElementSibling.after(li);
      else return;
      $("#photo-list").dataset.ranked = "true"; dirty = true; button.focus();
      askPlan();
    });
    let dragged = null;
    filesBox.addEventListener("dragstart", (event) => {
      dragged = event.target.closest && event.target.closest("li.photo");
      if (dragged) { dragged.classList.add("dragging"); event.dataTransfer.effectAllowed = "move"; }
    });
    filesBox.addEventListener("dragover", (event) => {
      const over = event.target.closest && event.target.closest("li.photo");
      if (!dragged || !over || over === dragged) return;
      event.preventDefault();
      const after = over.compareDocumentPosition(dragged) & Node.DOCUMENT_POSITION_PRECEDING;
      if (after) over.after(dragged); else over.before(dragged);
    });
    filesBox.addEventListener("dragend", () => {
      if (dragged) { dragged.classList.remove("dragging"); $("#photo-list").dataset.ranked = "true"; dirty = true; askPlan(); }
      dragged = null;
    });
  }

  // --- build and progress --------------------------------------------------------------------------------
  const buildButton = $("#build");

  function stageRow(stage) {
    let row = $(`#stage-${CSS.escape(stage)}`);
    if (!row) {
      row = document.createElement("li");
      row.id = `stage-${stage}`;
      row.innerHTML = `<span class="label"></span><progress max="1" value="0"></progress><span class="msg"></span>`;
      $(".label", row).textContent = M[`stage_${stage}`] || stage;
      $("#stages").append(row);
    }
    return row;
  }

  function follow(job) {
    const stages = $("#stages");
    stages.hidden = false; stages.innerHTML = "";
    buildButton.disabled = true;
    const stale = $("#result .stale");  // the package shown is the one before this build, not out of date
    if (stale) stale.textContent = C.rebuilding;
    else if ($("#result .banner, #result .downloads")) {
      const note = document.createElement("p");
      note.className = "stale"; note.setAttribute("role", "note"); note.textContent = C.rebuilding;
      $("#result").prepend(note);
    }
    const events = new EventSource(`/api/jobs/${job}/events`);
    events.addEventListener("queued", () => say("build-status", M.queued));
    events.addEventListener("started", () => say("build-status", M.started));
    events.addEventListener("progress", (event) => {
      const step = JSON.parse(event.data);
      const row = stageRow(step.stage);
      $("progress", row).value = step.fraction;
      $(".msg", row).textContent = step.message || "";
    });
    events.addEventListener("done", async (event) => {
      events.close();
      const result = JSON.parse(event.data);
      for (const bar of $$("progress", stages)) if (result.status !== "failed") bar.value = 1;
      say("build-status", result.status === "failed" ? `${M.failed} ${result.said || result.message || ""}` : M[result.status] || result.status);
      await refreshFiles();  // the contact sheet may be new; the result comes with it
      // "Done" beside a package the form would not accept is no good news: say that evidence is missing.
      if (result.status !== "failed" && $("#result .missing")) say("build-status", `${M[result.status] || result.status} ${C.missing}`);
      buildButton.disabled = false;
      document.body.dataset.lastBuild = result.status;  // (tests wait for it: the page is complete by now)
      $("#result-section").scrollIntoView({ behavior: "smooth", block: "start" });
      // A disabled button loses the focus: the buyer is given it back, unless they went on elsewhere.
      if (!document.activeElement || document.activeElement === document.body) buildButton.focus({ preventScroll: true });
    });
  }

  if (buildButton) buildButton.addEventListener("click", async () => {
    buildButton.disabled = true;
    await flushRemovals();
    if (dirty && !(await save())) { buildButton.disabled = false; return; }
    const { status, data } = await request("POST", `/api/cases/${caseKey}/build`);
    if (status === 202) follow(data.job);
    else if (status === 409) { say("build-status", M.busy); follow(data.job); }
    else { say("build-status", (data.problems || []).join(" ")); buildButton.disabled = false; }
  });

  if (buildButton && caseId) {  // a page (re)loaded during a build follows it instead of offering another
    request("GET", `/api/cases/${caseKey}/build`).then(({ status, data }) => {
      if (status === 200 && data.job) follow(data.job);
    });
  }
  const undoButton = $("#undo-remove");
  if (undoButton) undoButton.addEventListener("click", undoRemovals);
  window.addEventListener("pagehide", () => flushRemovals(true));

  // --- result: texts to paste ----------------------------------------------------------------------------
  const result = $("#result");
  if (result) {
    result.addEventListener("input", (event) => {
      const area = event.target;
      if (!area.classList.contains("paste")) return;
      const block = area.closest(".text-block");
      const limit = Number(block.dataset.limit);
      const count = $(".count", block);
      // As the library and the dispute form count: UTF-16 units of the NFC text, every line end as CRLF (two).
      const chars = area.value.normalize("NFC").replace(/\r\n|\r|\n/g, "\r\n").length;
      count.textContent = `${chars} / ${limit}` + (chars > limit ? ` ${M.over_limit}` : "");
      count.classList.toggle("over", chars > limit);
    });
    result.addEventListener("click", async (event) => {
      const button = event.target.closest("button.copy");
      if (!button) return;
      const area = document.getElementById(button.dataset.target);
      const label = button.dataset.label || button.textContent;  // its own label, even when clicked again at once
      button.dataset.label = label;
      clearTimeout(Number(button.dataset.timer));
      try {
        await navigator.clipboard.writeText(area.value);
      } catch (e) {
        area.select();
        if (!document.execCommand("copy")) { button.textContent = M.copy_failed; return; }
      }
      button.textContent = M.copied;
      button.dataset.timer = String(setTimeout(() => { button.textContent = label; }, 2000));
    });
  }

  for (const el of $$("time[data-epoch]")) el.textContent = new Date(Number(el.dataset.epoch) * 1000).toLocaleString(document.documentElement.lang);
  window.addEventListener("beforeunload", (event) => { if (dirty && caseId) event.preventDefault(); });
})();
