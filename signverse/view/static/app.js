// signverse view: the page. Plain JS, no build step. Talks only to the JSON API of signverse/view/app.py.
"use strict";

const $ = (sel) => document.querySelector(sel);
const state = {
  info: null, offset: 0, limit: 50, sort: "", total: 0,
  clip: null, pose: null, other: null, playing: false, t: 0, last: null, statsLoaded: false,
};

function showError(message) {
  const box = $("#error");
  box.textContent = message;
  box.hidden = false;
  clearTimeout(showError.timer);
  showError.timer = setTimeout(() => { box.hidden = true; }, 6000);
}

async function api(path) {
  const response = await fetch(path);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || `${response.status} ${path}`);
  return body;
}

const fmt = (v, digits = 2) => (v === null || v === undefined) ? "" :
  (typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(digits)) : String(v));

function cell(row, value, cls) {
  const td = document.createElement("td");
  td.textContent = value;
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

// ---------------------------------------------------------------- clip list
function filterParams() {
  const params = new URLSearchParams();
  for (const el of $("#filters").querySelectorAll("input, select")) {
    if (el.name && el.value.trim() !== "") params.set(el.name, el.value.trim());
  }
  params.set("offset", state.offset);
  params.set("limit", state.limit);
  if (state.sort) params.set("sort", state.sort);
  return params;
}

async function loadClips() {
  const started = performance.now();
  let page;
  try {
    page = await api(`/api/clips?${filterParams()}`);
  } catch (err) { showError(err.message); return; }
  state.total = page.total;
  const body = $("#clips tbody");
  body.replaceChildren();
  for (const c of page.clips) {
    const tr = document.createElement("tr");
    tr.dataset.clipId = c.clip_id;
    if (state.clip && state.clip.clip_id === c.clip_id) tr.classList.add("selected");
    const duration = (c.end !== null && c.start !== null && c.end > c.start) ? c.end - c.start :
      (c.fps ? c.n_frames / c.fps : null);
    cell(tr, c.clip_id);
    cell(tr, fmt(c.sign_language));
    cell(tr, fmt(c.split));
    cell(tr, fmt(c.signer));
    cell(tr, fmt(duration), "num");
    cell(tr, fmt(c.n_frames), "num");
    cell(tr, fmt(c.text), "text");
    for (const k of ["qc_left_hand_frac", "qc_right_hand_frac", "qc_face_frac", "qc_mean_conf"]) cell(tr, fmt(c[k]), "num");
    tr.addEventListener("click", () => openClip(c.clip_id));
    body.appendChild(tr);
  }
  const first = page.total ? state.offset + 1 : 0;
  $("#range").textContent = `${first.toLocaleString()}\u2013${(state.offset + page.clips.length).toLocaleString()} of ${page.total.toLocaleString()}`;
  $("#timing").textContent = `${Math.round(performance.now() - started)} ms`;
  $("#prev").disabled = state.offset === 0;
  $("#next").disabled = state.offset + state.limit >= page.total;
  body.dataset.loaded = String(Date.now());
}

function setSort(column) {
  state.sort = state.sort === column ? `-${column}` : column;
  for (const th of document.querySelectorAll("#clips th")) {
    th.classList.toggle("asc", th.dataset.sort === state.sort);
    th.classList.toggle("desc", `-${th.dataset.sort}` === state.sort);
  }
  state.offset = 0;
  loadClips();
}

// ---------------------------------------------------------------- drawing (the plan of `render`)
const rgb = (c) => `rgb(${c[0]},${c[1]},${c[2]})`;

function drawPose(canvas, pose, frameIndex) {
  if (canvas.width !== pose.width || canvas.height !== pose.height) {
    canvas.width = pose.width; canvas.height = pose.height;
  }
  const ctx = canvas.getContext("2d");
  ctx.globalAlpha = 1;
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const frame = pose.frames[Math.max(0, Math.min(pose.frames.length - 1, frameIndex))];
  if (!frame) return;
  for (const comp of pose.components) {
    const ok = (k) => {
      const p = frame[k];
      return p && p[0] !== null && p[1] !== null && p[2] > 0 && p[2] >= comp.min_conf;
    };
    if (comp.limb_shape !== "none" && comp.limbs.length) {
      // Limbs are drawn opaque on a layer, then blended once with limb_alpha (DWPose: 0.6 over black).
      const blend = comp.limb_alpha < 1;
      let target = ctx;
      if (blend) {
        drawPose.layer = drawPose.layer || document.createElement("canvas");
        const layer = drawPose.layer;
        layer.width = canvas.width; layer.height = canvas.height;
        target = layer.getContext("2d");
      }
      comp.limbs.forEach(([a, b], i) => {
        if (!ok(a) || !ok(b)) return;
        const [x0, y0] = frame[a], [x1, y1] = frame[b];
        target.fillStyle = target.strokeStyle = rgb(comp.limb_colors[i]);
        target.beginPath();
        if (comp.limb_shape === "ellipse") {
          const length = Math.hypot(x0 - x1, y0 - y1);
          target.ellipse((x0 + x1) / 2, (y0 + y1) / 2, Math.max(length / 2, 0.5), comp.limb_width,
            Math.atan2(y0 - y1, x0 - x1), 0, 2 * Math.PI);
          target.fill();
        } else {
          target.lineWidth = comp.limb_width;
          target.moveTo(x0, y0); target.lineTo(x1, y1);
          target.stroke();
        }
      });
      if (blend) {
        ctx.globalAlpha = comp.limb_alpha;
        ctx.drawImage(drawPose.layer, 0, 0);
        ctx.globalAlpha = 1;
      }
    }
    if (comp.point_radius > 0) {
      comp.points.forEach((k, i) => {
        if (!ok(k)) return;
        ctx.fillStyle = rgb(comp.point_colors[i]);
        ctx.beginPath();
        ctx.arc(frame[k][0], frame[k][1], comp.point_radius, 0, 2 * Math.PI);
        ctx.fill();
      });
    }
  }
  canvas.dataset.frame = String(frameIndex);
}

// ---------------------------------------------------------------- player
const video = $("#video");

function duration() {
  return state.pose ? state.pose.n_frames / state.pose.fps : 0;
}

function frameAt(pose, t) {
  return Math.max(0, Math.min(pose.n_frames - 1, Math.floor(t * pose.fps + 1e-6)));
}

function render() {
  if (!state.pose) return;
  const k = frameAt(state.pose, state.t);
  drawPose($("#pose-canvas"), state.pose, k);
  if (state.other) drawPose($("#compare-canvas"), state.other, frameAt(state.other, state.t));
  $("#scrub").value = k;
  $("#frame-label").textContent = `frame ${k + 1} / ${state.pose.n_frames}  ${state.t.toFixed(2)} s`;
}

function videoStart() { return state.clip && state.clip.start ? state.clip.start : 0; }
const hasVideo = () => !$("#video-panel").hidden && video.readyState > 0;

function seek(t) {
  state.t = Math.max(0, Math.min(t, Math.max(0, duration() - 1e-6)));
  if (hasVideo()) video.currentTime = videoStart() + state.t;
  render();
}

function setPlaying(on) {
  state.playing = on && !!state.pose;
  $("#play").innerHTML = state.playing ? "&#10074;&#10074; pause" : "&#9654; play";
  $("#play").dataset.playing = String(state.playing);
  state.last = null;
  if (hasVideo()) {
    if (state.playing) { video.playbackRate = Number($("#speed").value); video.play().catch(() => {}); }
    else video.pause();
  }
  if (state.playing) requestAnimationFrame(tick);
}

function tick(now) {
  if (!state.playing) return;
  if (hasVideo() && !video.paused) {
    state.t = video.currentTime - videoStart();    // the video is the clock: poses follow it
  } else {
    if (state.last !== null) state.t += (now - state.last) / 1000 * Number($("#speed").value);
    state.last = now;
  }
  if (state.t >= duration()) {
    if ($("#loop").checked) { seek(0); if (hasVideo()) video.play().catch(() => {}); }
    else { state.t = Math.max(0, duration() - 1e-6); render(); setPlaying(false); return; }
  }
  render();
  requestAnimationFrame(tick);
}

function poseUrl(clipId, field, source) {
  const p = new URLSearchParams();
  if (field) p.set("field", field);
  if (source) p.set("source", source);
  return `/api/clips/${encodeURIComponent(clipId)}/pose?${p}`;
}

async function loadOther() {
  const choice = $("#compare-field").value;
  state.other = null;
  $("#compare-panel").hidden = true;
  if (!choice || !state.clip) return;
  try {
    const other = choice === "source:compare"
      ? await api(poseUrl(state.clip.clip_id, "", "compare"))
      : await api(poseUrl(state.clip.clip_id, choice.slice("field:".length), ""));
    state.other = other;
    $("#compare-panel").hidden = false;
    $("#compare-caption").textContent = `${choice === "source:compare" ? state.info.compare.name + ": " + other.clip_id : other.field} \u00b7 ${other.layout} \u00b7 ${other.n_frames} frames @ ${fmt(other.fps)} fps`;
  } catch (err) { showError(`comparison: ${err.message}`); }
  render();
}

async function openClip(clipId) {
  setPlaying(false);
  let clip, pose;
  try {
    [clip, pose] = await Promise.all([api(`/api/clips/${encodeURIComponent(clipId)}`),
      api(poseUrl(clipId, $("#field").value, ""))]);
  } catch (err) { showError(err.message); return; }
  state.clip = clip; state.pose = pose; state.t = 0;
  for (const tr of document.querySelectorAll("#clips tbody tr")) tr.classList.toggle("selected", tr.dataset.clipId === clipId);
  $("#main-caption").textContent = `${clip.clip_id} \u00b7 ${pose.field} \u00b7 ${pose.layout} (${pose.style}) \u00b7 ${pose.n_frames} frames @ ${fmt(pose.fps)} fps \u00b7 person ${pose.person + 1}/${pose.n_persons}`;
  $("#scrub").max = Math.max(0, pose.n_frames - 1);
  $("#scrub").disabled = false;
  $("#play").disabled = false;
  showMeta(clip);
  if (clip.video) {
    $("#video-panel").hidden = false;
    video.src = `/api/clips/${encodeURIComponent(clipId)}/video`;
    video.onloadedmetadata = () => { video.currentTime = videoStart() + state.t; };
  } else {
    $("#video-panel").hidden = true;
    video.removeAttribute("src"); video.load();
  }
  await loadOther();
  render();
  $("#pose-canvas").dataset.clipId = clipId;
}

function showMeta(clip) {
  const meta = $("#meta"), qc = $("#qc");
  meta.replaceChildren(); qc.replaceChildren();
  const skip = new Set(["qc", "fields", "video"]);
  for (const [k, v] of Object.entries(clip)) {
    if (skip.has(k) || k.startsWith("qc_") || v === null || v === "") continue;
    const tr = document.createElement("tr"); cell(tr, k); cell(tr, fmt(v, 3)); meta.appendChild(tr);
  }
  const tr = document.createElement("tr"); cell(tr, "source video"); cell(tr, clip.video ? "available" : "not known"); meta.appendChild(tr);
  for (const [k, v] of Object.entries(clip.qc || {})) {
    const row = document.createElement("tr"); cell(row, k); cell(row, fmt(v, 3)); qc.appendChild(row);
  }
}

// ---------------------------------------------------------------- statistics
async function loadStats() {
  let s;
  try { s = await api("/api/stats"); } catch (err) { showError(err.message); return; }
  state.statsLoaded = true;
  $("#stats-totals").textContent = `${s.clips.toLocaleString()} clips \u00b7 ${s.videos.toLocaleString()} videos \u00b7 ${s.hours.toFixed(2)} h \u00b7 ${s.frames.toLocaleString()} frames \u00b7 ${s.n_languages} languages`;
  const table = (el, head, rows) => {
    el.replaceChildren();
    const tr = document.createElement("tr");
    for (const h of head) { const th = document.createElement("th"); th.textContent = h; tr.appendChild(th); }
    el.appendChild(tr);
    for (const r of rows) { const row = document.createElement("tr"); for (const v of r) { if (v instanceof Node) { const td = document.createElement("td"); td.appendChild(v); row.appendChild(td); } else cell(row, v); } el.appendChild(row); }
  };
  const langs = Object.entries(s.languages).sort((a, b) => b[1].hours - a[1].hours || b[1].clips - a[1].clips);
  const maxHours = Math.max(1e-9, ...langs.map(([, e]) => e.hours));
  const bar = (frac) => { const span = document.createElement("span"); span.className = "bar"; span.style.width = `${Math.round(120 * frac)}px`; return span; };
  table($("#stats-languages"), ["language", "videos", "clips", "hours", ""],
    langs.map(([k, e]) => [k, e.videos.toLocaleString(), e.clips.toLocaleString(), e.hours.toFixed(3), bar(e.hours / maxHours)]));
  table($("#stats-splits"), ["split", "videos", "clips", "hours"],
    Object.entries(s.splits).map(([k, e]) => [k, e.videos.toLocaleString(), e.clips.toLocaleString(), e.hours.toFixed(3)]));
  const dists = Object.entries(s.qc).concat([["clip seconds", s.clip_seconds]]).filter(([, d]) => d && d.count);
  table($("#stats-qc"), ["figure", "clips", "mean", "p05", "p50", "p95"],
    dists.map(([k, d]) => [k, d.count.toLocaleString(), fmt(d.mean, 3), fmt(d.p05, 3), fmt(d.p50, 3), fmt(d.p95, 3)]));
}

function showTab(name) {
  $("#view-clips").hidden = name !== "clips";
  $("#view-stats").hidden = name !== "stats";
  $("#tab-clips").classList.toggle("active", name === "clips");
  $("#tab-stats").classList.toggle("active", name === "stats");
  if (name === "stats" && !state.statsLoaded) loadStats();
}

// ---------------------------------------------------------------- start
async function start() {
  try { state.info = await api("/api/info"); } catch (err) { showError(err.message); return; }
  const info = state.info;
  $("#source-name").textContent = `${info.path} \u00b7 ${info.kind} \u00b7 ${info.clips.toLocaleString()} clips`;
  document.title = `signverse view \u00b7 ${info.name}`;
  const fill = (select, values) => { for (const v of values) { const o = document.createElement("option"); o.value = v.value; o.textContent = `${v.value} (${v.clips.toLocaleString()})`; select.appendChild(o); } };
  fill($("#language"), info.languages);
  fill($("#split"), info.splits);
  const field = $("#field"), other = $("#compare-field");
  for (const f of info.fields) { const o = document.createElement("option"); o.value = f; o.textContent = f; o.selected = f === info.default_field; field.appendChild(o); }
  $("#field-label").hidden = info.fields.length < 2;
  const none = document.createElement("option"); none.value = ""; none.textContent = "nothing"; other.appendChild(none);
  if (info.compare) { const o = document.createElement("option"); o.value = "source:compare"; o.textContent = info.compare.name; o.selected = true; other.appendChild(o); }
  for (const f of info.fields) if (f !== info.default_field) { const o = document.createElement("option"); o.value = `field:${f}`; o.textContent = `field ${f}`; other.appendChild(o); }
  $("#compare-field-label").hidden = other.options.length < 2;

  $("#filters").addEventListener("submit", (e) => { e.preventDefault(); state.offset = 0; loadClips(); });
  $("#filters").addEventListener("reset", () => setTimeout(() => { state.offset = 0; loadClips(); }));
  for (const id of ["#language", "#split"]) $(id).addEventListener("change", () => { state.offset = 0; loadClips(); });
  let typing;
  $("#q").addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(() => { state.offset = 0; loadClips(); }, 250); });
  $("#prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - state.limit); loadClips(); });
  $("#next").addEventListener("click", () => { state.offset += state.limit; loadClips(); });
  for (const th of document.querySelectorAll("#clips th")) th.addEventListener("click", () => setSort(th.dataset.sort));
  $("#play").addEventListener("click", () => setPlaying(!state.playing));
  $("#scrub").addEventListener("input", () => { setPlaying(false); seek(Number($("#scrub").value) / state.pose.fps); });
  $("#speed").addEventListener("change", () => { if (hasVideo()) video.playbackRate = Number($("#speed").value); });
  $("#field").addEventListener("change", () => { if (state.clip) openClip(state.clip.clip_id); });
  $("#compare-field").addEventListener("change", loadOther);
  $("#tab-clips").addEventListener("click", () => showTab("clips"));
  $("#tab-stats").addEventListener("click", () => showTab("stats"));
  document.addEventListener("keydown", (e) => {
    if (e.target.matches("input, select")) return;
    if (e.key === " ") { e.preventDefault(); setPlaying(!state.playing); }
    else if (state.pose && e.key === "ArrowRight") { setPlaying(false); seek(state.t + 1 / state.pose.fps); }
    else if (state.pose && e.key === "ArrowLeft") { setPlaying(false); seek(state.t - 1 / state.pose.fps); }
  });
  await loadClips();
}

start();
