// lipdub review page: plain JS, no build step. Talks to the JSON API of lipdub/review/app.py.
"use strict";

const $ = (sel) => document.querySelector(sel);
let state = null;
let stopAt = null;

// The page lives under a secret path (http://127.0.0.1:PORT/<token>/): every URL here is
// relative to it, and no cookie is used, so the token never reaches another origin.

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  };
  const r = await fetch(path, init);
  let data = null;
  try { data = await r.json(); } catch (e) { data = { error: await r.text() }; }
  if (!r.ok) {
    const err = new Error((data && data.error) || r.statusText);
    err.status = r.status;
    err.hint = data && data.hint;
    throw err;
  }
  return data;
}

function fmt(t) {
  const m = Math.floor(t / 60), s = t - 60 * m;
  return `${m}:${s.toFixed(2).padStart(5, "0")}`;
}

function say(text, isError) {
  const m = $("#message");
  m.textContent = text;
  m.className = isError ? "error" : "";
}

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined) e.setAttribute(k, v);
  }
  for (const kid of kids) if (kid !== null && kid !== undefined) e.append(kid);
  return e;
}

async function load() {
  const lang = new URL(location.href).searchParams.get("lang") || (state && state.language) || "";
  state = await api("api/state" + (lang ? "?lang=" + encodeURIComponent(lang) : ""));
  render();
  if (state.job && state.job.state === "running") follow();
}

function render() {
  $("#where").textContent = `${state.input} — ${state.workdir}`;
  // files that cannot be read (an editor broke one while the page was open): say so
  const problems = state.problems || [];
  $("#problems").replaceChildren(...problems.map((p) => el("li", {}, p)));
  $("#problems").hidden = problems.length === 0;
  const sel = $("#lang");
  sel.replaceChildren(...state.languages.map((l) => el("option", { value: l }, l)));
  sel.value = state.language || "";
  renderTimeline();
  const body = $("#rows tbody");
  // lines flagged by the quality checks first, then the others in order
  const flagged = new Set(state.flagged || []);
  const ordered = [...state.rows.filter((r) => flagged.has(r.index)),
    ...state.rows.filter((r) => !flagged.has(r.index))];
  body.replaceChildren(...ordered.map(renderRow));
  renderVideo();
}

function renderTimeline() {
  const total = Math.max(state.duration_s, 0.001);
  const pos = (a, b) => `left:${(100 * a) / total}%;width:${Math.max(0.3, (100 * (b - a)) / total)}%`;
  const src = $("#lane-source"), dub = $("#lane-dub");
  src.querySelectorAll(".span").forEach((e) => e.remove());
  dub.querySelectorAll(".span").forEach((e) => e.remove());
  for (const r of state.rows) {
    src.append(el("div", { class: "span", style: pos(r.start_s, r.end_s), title: `#${r.index} ${r.source}`,
      onclick: () => playSource(r) }));
    const t = r.timing;
    if (t && t.speech_s > 0) {
      const s = el("div", { class: "span", title: `#${r.index} ${t.status}: ${t.text}`,
        style: pos(t.start_s, t.end_s) + `;background:var(--${t.status})`, onclick: () => playDub(r) });
      s.dataset.status = t.status;
      dub.append(s);
    }
  }
}

function editable(row, kind, text) {
  const span = el("div", { contenteditable: "plaintext-only", spellcheck: "true",
    "data-kind": kind, "data-index": row.index }, text === null ? "" : text);
  span.dataset.saved = text === null ? "" : text;
  span.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); span.blur(); }
    if (ev.key === "Escape") { span.textContent = span.dataset.saved; span.blur(); }
  });
  span.addEventListener("blur", () => save(row, kind, span));
  return span;
}

function qualityLines(q) {
  if (!q || q.verdict === "unchecked") return [];
  const nums = [q.cer === null ? null : `CER ${q.cer.toFixed(2)}`,
    q.similarity === null ? null : `voice ${q.similarity.toFixed(2)}`,
    q.retry ? `retried: ${q.retry}` : null].filter((x) => x);
  return [el("div", { class: "quality " + q.verdict, "data-verdict": q.verdict },
      (q.verdict === "review" ? "⚑ review · " : "✓ ") + (nums.join(" · ") || "not measured")),
    ...q.problems.map((p) => el("div", { class: "warn" }, "⚑ " + p))];
}

function renderRow(r) {
  const t = r.timing;
  let timing = el("span", { class: "status empty" }, "not spoken");
  const cells = [];
  if (t) {
    const label = r.stale ? "edited" : t.status === "cut" ? "too long: cut" : t.status;
    timing = el("div", {},
      el("span", { class: "status " + (r.stale ? "stale" : t.status), "data-status": t.status }, label),
      el("div", { class: "numbers" },
        `at ${fmt(t.start_s)}` + (t.delay_s > 0.0005 ? ` (+${t.delay_s.toFixed(2)} s)` : "") +
        ` · speed ${t.speed.toFixed(2)}×` + (t.rate !== 1 ? ` · rate ${t.rate.toFixed(2)}` : "") +
        (t.stretch !== 1 ? ` · stretch ${t.stretch.toFixed(2)}` : "") +
        (t.borrowed_s > 0 ? ` · borrows ${t.borrowed_s.toFixed(2)} s` : "") +
        (t.overflow_s > 0 ? ` · over ${t.overflow_s.toFixed(2)} s` : "")),
      ...(t.warnings || []).map((w) => el("div", { class: "warn" }, "⚠ " + w)),
      ...qualityLines(t.quality));
  }
  cells.push(el("td", {}, String(r.index)));
  cells.push(el("td", { class: "time" }, `${fmt(r.start_s)}–${fmt(r.end_s)}`));
  cells.push(el("td", { class: "speaker" }, editable(r, "speaker", r.speaker || "")));
  cells.push(el("td", { class: "source" }, editable(r, "source", r.source)));
  cells.push(el("td", { class: "target" }, editable(r, "target", r.target)));
  cells.push(el("td", { class: "timing" }, timing));
  cells.push(el("td", { class: "listen" }, el("div", { class: "buttons" },
    el("button", { class: "play-source", disabled: state.has_source_audio ? null : "",
      title: "play the source line (source.wav)", onclick: () => playSource(r) }, "▶ source"),
    el("button", { class: "play-dub", disabled: t && state.has_speech ? null : "",
      title: "play the dubbed line where it is placed", onclick: () => playDub(r) }, "▶ dubbed"),
    el("button", { class: "play-video", title: "the video at this line",
      onclick: () => playVideo(r) }, "▶ video"),
    el("button", { class: "speak", title: "speak the edited line again (only changed lines are synthesized)",
      onclick: () => speak(r) }, "↻ speak"))));
  return el("tr", { "data-index": r.index }, ...cells);
}

async function save(row, kind, span) {
  const text = span.textContent.replace(/\s+/g, " ").trim();
  if (text === span.dataset.saved.trim()) return;
  const file = kind === "target" ? "target" : "source";
  const body = { kind: file, lang: state.language, index: row.index, version: state.versions[file] };
  if (kind === "speaker") body.speaker = text; else body.text = text;
  const tr = span.closest("tr");
  tr.classList.add("saving");
  try {
    const r = await api("api/save", body);
    state.versions[file] = r.version;
    span.dataset.saved = text;
    say(`saved line ${row.index} in the ${file === "target" ? "translation" : "transcript"}`);
    await load();
  } catch (e) {
    if (e.status === 409) say(`not saved: ${e.message} — ${e.hint || "reload the page"}`, true);
    else say(`not saved: ${e.message}`, true);
  } finally {
    tr.classList.remove("saving");
  }
}

function playSpan(src, start, end, label) {
  const p = $("#player");
  if (!p.src.endsWith(src)) { p.src = src; p.load(); }
  stopAt = end;
  const go = () => { p.currentTime = start; p.play().catch(() => {}); };
  if (p.readyState >= 1) go(); else p.addEventListener("loadedmetadata", go, { once: true });
  say(`playing ${label} ${fmt(start)}–${fmt(end)}`);
}
$("#player").addEventListener("timeupdate", () => {
  const p = $("#player");
  if (stopAt !== null && p.currentTime >= stopAt) { p.pause(); stopAt = null; }
});

function playSource(r) { playSpan("files/source.wav", r.start_s, r.end_s, `source line ${r.index}`); }
function playDub(r) {
  const t = r.timing;
  if (!t) return;
  playSpan(`files/speech.${state.language}.wav?v=${Date.now()}`, t.start_s, t.end_s, `dubbed line ${r.index}`);
}
function playVideo(r) {
  const v = $("#video");
  v.currentTime = r.start_s;
  v.play().catch(() => {});
}

function renderVideo() {
  const v = $("#video");
  const out = state.output;
  const src = out ? `media/output/${state.language}?v=${state.output_mtime}` : "media/input";
  if (v.dataset.src !== src) { v.dataset.src = src; v.src = src; }
  $("#video-label").textContent = out ? `dubbed video: ${out}` : `input video: ${state.input} (not dubbed yet)`;
}

async function start(path, extra) {
  try {
    await api(path, { lang: state.language, ...(extra || {}) });
    follow();
  } catch (e) { say(`${e.message}`, true); }
}
function speak(r) {
  document.querySelectorAll("tr.active").forEach((e) => e.classList.remove("active"));
  document.querySelector(`tr[data-index="${r.index}"]`).classList.add("active");
  start("api/speak").then(() => {});
}

function busy(on) {
  $("#finish").disabled = on;
  $("#cancel").hidden = !on;
  document.querySelectorAll("button.speak").forEach((b) => (b.disabled = on));
}

let source = null;
function follow() {
  if (source) return;
  busy(true);
  document.body.dataset.job = "running";
  $("#bar").style.width = "0";
  source = new EventSource("api/events");
  source.onmessage = (m) => {
    const ev = JSON.parse(m.data);
    if (ev.type === "Progress" && ev.total) {
      $("#bar").style.width = `${(100 * ev.done) / ev.total}%`;
      say(`${ev.stage}: ${Math.round(ev.done)} / ${Math.round(ev.total)} ${ev.unit}`);
    } else if (ev.type === "StageStarted") {
      $("#bar").style.width = "0";
      say(`${ev.stage}…`);
    } else if (ev.type === "StageFinished") {
      say(`${ev.stage} ${ev.reused ? "reused" : "done"}`);
    } else if (ev.type === "StageWarning") {
      say(`${ev.stage}: ${ev.message}`);
    }
  };
  source.addEventListener("end", async (m) => {
    source.close();
    source = null;
    busy(false);
    const job = JSON.parse(m.data);
    await load();
    if (!job) return;
    $("#bar").style.width = job.state === "done" ? "100%" : "0";
    document.body.dataset.job = job.state;
    if (job.state === "done") {
      const what = job.kind === "speak" ? `synthesized ${job.spoken} new utterance(s)` : "the dub is finished";
      say(`${what}; ran: ${job.ran.join(", ") || "nothing"}`);
      if (job.kind === "speak") {
        const r = state.rows.find((x) => document.querySelector(`tr.active[data-index="${x.index}"]`));
        if (r) playDub(r);
      } else {
        const v = $("#video");
        v.currentTime = 0;
        v.play().catch(() => {});
      }
    } else {
      say(`${job.state}: ${job.message}${job.hint ? " — " + job.hint : ""}`, job.state === "failed");
      const stage = job.conflict && /--keep (\w+)/.exec(job.hint || "");
      if (stage) offerWaysOn(job.kind, stage[1]);
    }
  });
}

// An edited file whose inputs changed: keep the edit, or make it again (moved aside first).
function offerWaysOn(kind, stage) {
  const path = kind === "speak" ? "api/speak" : "api/finish";
  const msg = $("#message");
  msg.append(" ",
    el("button", { class: "keep", onclick: () => start(path, { keep: [stage] }) }, `keep my ${stage} edit`),
    " ",
    el("button", { class: "redo", onclick: () => start(path, { redo: [stage] }) }, `redo ${stage} (mine goes to .bak)`));
}

$("#finish").addEventListener("click", () => start("api/finish"));
$("#cancel").addEventListener("click", () => api("api/cancel", {}).catch(() => {}));
$("#lang").addEventListener("change", (ev) => {
  history.replaceState(null, "", "?lang=" + encodeURIComponent(ev.target.value));
  state.language = ev.target.value;
  load();
});

load().catch((e) => say(`cannot load: ${e.message}`, true));
