// evidence-kit: files straight from the phone (phone.py). Two small parts: the case page's panel (asks, shows
// the QR code and what arrives, closes the link) and the phone page (hashes each file, sends it in pieces
// that resume after a lost connection). No build step, no library.
"use strict";
(() => {
  const $ = (sel, root = document) => root.querySelector(sel);

  // --- the case page's panel ------------------------------------------------------------------------------
  const panel = $("#phone-panel");
  if (panel) {
    const P = JSON.parse($("#phone-panel-messages").textContent);
    const url = `/api/cases/${encodeURIComponent(panel.dataset.case)}/phone`;
    let timer = null;
    let seen = 0;
    const show = (view) => {
      $("#phone-active").hidden = !view.active;
      $("#phone-open").hidden = view.active;
      if (!view.active) { clearInterval(timer); timer = null; return; }
      $("#phone-qr").src = view.qr;
      $("#phone-url").textContent = view.url;
      $("#phone-left").textContent = P.left.replace("%(minutes)s", Math.max(1, Math.ceil(view.seconds_left / 60)));
      const list = $("#phone-arrived");
      $("#phone-arrived-title").hidden = view.added.length === 0;
      list.replaceChildren(...view.added.map((f) => Object.assign(document.createElement("li"),
        { textContent: f.path })));
      if (view.added.length > seen) {
        seen = view.added.length;
        document.dispatchEvent(new CustomEvent("evidence-kit:files-changed"));  // app.js shows them in the list
      }
    };
    const poll = async () => {
      const response = await fetch(url, { cache: "no-store" });
      if (!response.ok) return;
      const view = await response.json();
      if (!view.active && timer) $("#phone-status").textContent = P.expired;
      show(view);
    };
    $("#phone-open").addEventListener("click", async () => {
      if (!window.confirm(P.ask)) return;
      const response = await fetch(url, { method: "POST" });
      const data = await response.json();
      if (!response.ok) { $("#phone-status").textContent = (data.problems || []).join(" "); return; }
      $("#phone-status").textContent = "";
      seen = 0;
      show(data);
      timer = setInterval(poll, 2000);
    });
    $("#phone-close").addEventListener("click", async () => {
      await fetch(url, { method: "DELETE" });
      show({ active: false, added: [] });
      $("#phone-status").textContent = P.closed;
    });
    // Leaving the page closes the link too: it is never left open behind the buyer's back.
    window.addEventListener("pagehide", () => { if (timer) fetch(url, { method: "DELETE", keepalive: true }); });
    poll().then(() => { if (!$("#phone-active").hidden) timer = setInterval(poll, 2000); });
    return;
  }

  // --- the phone page ---------------------------------------------------------------------------------------
  if (!document.body.classList.contains("phone")) return;
  const M = JSON.parse($("#phone-messages").textContent);
  const PIECE = 8 << 20;  // bytes per request: a 2 GB video is 250 requests, well inside the rate limit
  const READ = 4 << 20;  // bytes hashed at a time (a phone's memory is small)

  // SHA-256 that takes the file piece by piece: WebCrypto has no streaming digest, and on a plain-http LAN
  // address (not a secure context) it is not there at all.
  const K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
    0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
    0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
    0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2]);
  class Sha256 {
    constructor() {
      this.h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19]);
      this.w = new Uint32Array(64);
      this.buf = new Uint8Array(64);
      this.n = 0;
      this.length = 0;
    }
    update(data) {
      let i = 0;
      this.length += data.length;
      if (this.n) {
        while (this.n < 64 && i < data.length) this.buf[this.n++] = data[i++];
        if (this.n < 64) return;
        this.block(this.buf, 0);
        this.n = 0;
      }
      for (; i + 64 <= data.length; i += 64) this.block(data, i);
      while (i < data.length) this.buf[this.n++] = data[i++];
    }
    block(d, o) {
      const w = this.w, h = this.h;
      for (let t = 0; t < 16; t++, o += 4) w[t] = (d[o] << 24) | (d[o + 1] << 16) | (d[o + 2] << 8) | d[o + 3];
      for (let t = 16; t < 64; t++) {
        const a = w[t - 15], b = w[t - 2];
        const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
        const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
        w[t] = (w[t - 16] + s0 + w[t - 7] + s1) | 0;
      }
      let A = h[0], B = h[1], C = h[2], D = h[3], E = h[4], F = h[5], G = h[6], H = h[7];
      for (let t = 0; t < 64; t++) {
        const s1 = ((E >>> 6) | (E << 26)) ^ ((E >>> 11) | (E << 21)) ^ ((E >>> 25) | (E << 7));
        const t1 = (H + s1 + ((E & F) ^ (~E & G)) + K[t] + w[t]) | 0;
        const s0 = ((A >>> 2) | (A << 30)) ^ ((A >>> 13) | (A << 19)) ^ ((A >>> 22) | (A << 10));
        const t2 = (s0 + ((A & B) ^ (A & C) ^ (B & C))) | 0;
        H = G; G = F; F = E; E = (D + t1) | 0; D = C; C = B; B = A; A = (t1 + t2) | 0;
      }
      h[0] += A; h[1] += B; h[2] += C; h[3] += D; h[4] += E; h[5] += F; h[6] += G; h[7] += H;
    }
    hex() {
      const bytes = this.length;
      this.buf[this.n++] = 0x80;
      if (this.n > 56) { this.buf.fill(0, this.n); this.block(this.buf, 0); this.n = 0; }
      this.buf.fill(0, this.n);
      const view = new DataView(this.buf.buffer);
      view.setUint32(56, Math.floor(bytes / 0x20000000));  // the length in bits, as two 32-bit halves
      view.setUint32(60, (bytes % 0x20000000) * 8);
      this.block(this.buf, 0);
      return [...this.h].map((x) => x.toString(16).padStart(8, "0")).join("");
    }
  }

  async function digest(file, onProgress) {
    const hash = new Sha256();
    for (let at = 0; at < file.size; at += READ) {
      hash.update(new Uint8Array(await file.slice(at, at + READ).arrayBuffer()));
      onProgress(Math.min(file.size, at + READ) / file.size);
    }
    return hash.hex();
  }

  async function api(method, url, body) {
    try {
      const response = await fetch(url, { method, cache: "no-store", headers: { "content-type": "application/json" },
        body: body ? JSON.stringify(body) : undefined });
      let data = {};
      try { data = await response.json(); } catch { /* HEAD, 204 */ }
      return { status: response.status, data, headers: response.headers };
    } catch {
      return { status: 0, data: {} };
    }
  }

  function piece(id, file, offset, onProgress) {  // XHR: fetch cannot report upload progress
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PATCH", `/phone/api/uploads/${id}`);
      xhr.setRequestHeader("upload-offset", String(offset));
      xhr.setRequestHeader("content-type", "application/offset+octet-stream");
      xhr.responseType = "json";
      xhr.upload.onprogress = (event) => onProgress(offset + event.loaded);
      xhr.onload = () => resolve({ status: xhr.status, data: xhr.response || {},
        offset: Number(xhr.getResponseHeader("upload-offset")) });
      xhr.onerror = () => resolve({ status: 0, data: {} });
      xhr.send(file.slice(offset, Math.min(file.size, offset + PIECE)));
    });
  }

  const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function send(file, kind, row) {
    const bar = $("progress", row), status = $(".state", row);
    const say = (text, cls = "") => { status.textContent = text; status.className = `state ${cls}`; };
    say(M.preparing);
    const sha256 = await digest(file, (part) => { bar.value = part * 0.1; });
    let started = await api("POST", "/phone/api/uploads", { name: file.name, size: file.size, sha256, kind });
    for (let tries = 0; started.status === 0 && tries < 30; tries++) {
      say(M.resuming); await wait(2000);
      started = await api("POST", "/phone/api/uploads", { name: file.name, size: file.size, sha256, kind });
    }
    if (started.status === 401) return say(M.expired, "bad");
    if (started.status === 0) return say(M.network, "bad");
    if (started.status >= 300) return say(`${M.failed} ${(started.data.problems || []).join(" ")}`, "bad");
    const id = started.data.id;
    let offset = started.data.offset;
    say(M.sending);
    for (let lost = 0; lost < 100;) {
      const answer = await piece(id, file, offset, (at) => { bar.value = 0.1 + 0.9 * at / file.size; });
      if (answer.status === 204) { offset = answer.offset; lost = 0; say(M.sending); continue; }
      if (answer.status === 201) {
        bar.value = 1;
        return say((answer.data.stored || []).some((s) => s.duplicate) ? M.already : M.added, "ok");
      }
      if (answer.status === 401) return say(M.expired, "bad");
      if (answer.status !== 0 && answer.status !== 409) {
        return say(`${M.failed} ${(answer.data.problems || []).join(" ")}`, "bad");
      }
      // Lost connection (or an answer about the offset): ask what the computer holds and go on from there.
      lost++;
      say(M.resuming);
      if (answer.status === 0) await wait(Math.min(10000, 1000 * lost));
      const held = await api("GET", `/phone/api/uploads/${id}`);
      if (held.status === 200) offset = held.data.offset;
      else if (held.status === 401) return say(M.expired, "bad");
    }
    return say(M.network, "bad");
  }

  let queue = Promise.resolve();
  function add(files) {
    const kind = $("#phone-kind").value;
    for (const file of files) {
      const row = document.createElement("li");
      const name = Object.assign(document.createElement("span"), { className: "name", textContent: file.name });
      const bar = Object.assign(document.createElement("progress"), { max: 1, value: 0 });
      const state = Object.assign(document.createElement("span"), { className: "state" });
      row.append(name, bar, state);
      $("#phone-list").append(row);
      queue = queue.then(() => send(file, kind, row));  // one at a time: the Wi-Fi is shared
    }
  }
  for (const id of ["#phone-files", "#phone-camera"]) {
    const input = $(id);
    input.addEventListener("change", () => { add([...input.files]); input.value = ""; });
  }
})();
