// The editing page: a plain script, no build step, no third-party code.
"use strict";

const $ = (id) => document.getElementById(id);
const form = $("form");
const fileInput = $("image");
const progress = $("progress");
const errorBox = $("error");
const statusBox = $("status");
let file = null;
let jobId = null;
let downloadUrl = null;
let streamAbort = null;

function headers() {
  const key = $("api_key").value;
  return key ? { "Authorization": "Bearer " + key } : {};
}

function setError(message, field) {
  errorBox.textContent = message || "";
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  const target = field && $(field);
  if (target) {
    target.setAttribute("aria-invalid", "true");
    if (message) target.focus();
  }
}

function busy(on) {
  $("edit").disabled = on;
  $("cancel").disabled = !on;
  form.setAttribute("aria-busy", on ? "true" : "false");
}

async function readError(response) {
  try {
    const body = await response.json();
    return { message: body.error || ("HTTP " + response.status), field: body.field };
  } catch (e) {
    return { message: "HTTP " + response.status, field: null };
  }
}

async function loadModel() {
  try {
    const health = await (await fetch("/api/health")).json();
    if (health.api_key_required) $("key-row").hidden = false;
    const r = await fetch("/api/model", { headers: headers() });
    if (!r.ok) {
      $("model").textContent = (await readError(r)).message;
      return;
    }
    const m = await r.json();
    $("model").textContent = m.model + " · " + m.description + (m.safety_checker ? " · safety checker on" : "");
  } catch (e) {
    $("model").textContent = "the server does not answer";
  }
}

function choose(f) {
  if (!f) return;
  file = f;
  $("drop-text").textContent = f.name + " (" + Math.round(f.size / 1024) + " KiB) — press to choose another";
  const before = $("before");
  if (before.src.startsWith("blob:")) URL.revokeObjectURL(before.src);
  before.src = URL.createObjectURL(f);
  before.hidden = false;
  setError("");
}

fileInput.addEventListener("change", () => choose(fileInput.files[0]));
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  if (e.dataTransfer.files.length) choose(e.dataTransfer.files[0]);
});

$("dice").addEventListener("click", () => {
  const a = new Uint32Array(1);
  crypto.getRandomValues(a);
  $("seed").value = a[0];
});

function formData() {
  const data = new FormData();
  if (file) data.append("image", file, file.name);
  for (const name of ["source_prompt", "prompt"]) data.append(name, $(name).value);
  for (const name of ["strength", "num_inference_steps", "guidance_scale", "source_guidance_scale", "eta", "seed", "num_images_per_prompt"]) {
    const v = $(name).value.trim();
    if (v !== "") data.append(name, v);
  }
  return data;
}

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  if (jobId) return;
  setError("");
  if (!file) {
    setError("choose an image first", "image");
    return;
  }
  busy(true);
  progress.value = 0;
  progress.max = 1;
  progress.dataset.stepsSeen = "0";
  statusBox.textContent = "sending…";
  try {
    const r = await fetch("/api/jobs", { method: "POST", body: formData(), headers: headers() });
    if (!r.ok) {
      const err = await readError(r);
      const wait = r.headers.get("Retry-After");
      setError(err.message + (wait ? " (retry in " + wait + " s)" : ""), err.field);
      statusBox.textContent = "";
      busy(false);
      return;
    }
    const job = await r.json();
    jobId = job.id;
    statusBox.textContent = "queued";
    await follow(job.id);
  } catch (ex) {
    setError("the server does not answer: " + ex.message);
    statusBox.textContent = "";
  } finally {
    jobId = null;
    busy(false);
  }
});

// Server-Sent Events read through fetch (EventSource cannot send the API key header).
async function follow(id) {
  streamAbort = new AbortController();
  const r = await fetch("/api/jobs/" + id + "/events", { headers: headers(), signal: streamAbort.signal });
  if (!r.ok) {
    const err = await readError(r);
    setError(err.message, err.field);
    return;
  }
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let name = "message";
      let data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) name = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (data && onEvent(name, JSON.parse(data))) {
        streamAbort.abort();
        return;
      }
    }
  }
}

/** Returns true on the job's last event. */
function onEvent(name, job) {
  if (job.total > 0) {
    progress.max = job.total;
    progress.value = job.step;
  }
  switch (name) {
    case "queued":
      statusBox.textContent = "queued";
      return false;
    case "running":
    case "state":
      statusBox.textContent = job.total > 0 ? "step " + job.step + " / " + job.total : "running";
      return false;
    case "step":
      progress.dataset.stepsSeen = String(Number(progress.dataset.stepsSeen || 0) + 1);
      statusBox.textContent = "step " + job.step + " / " + job.total;
      return false;
    case "done":
      statusBox.textContent = "done";
      show(job.result);
      return true;
    case "cancelled":
      statusBox.textContent = "cancelled";
      return true;
    case "failed":
      statusBox.textContent = "failed";
      setError(job.error, job.field);
      return true;
    default:
      return false;
  }
}

function show(result) {
  const after = $("after");
  after.src = "data:image/png;base64," + result.images[0];
  after.hidden = false;
  const more = $("more");
  more.replaceChildren();
  result.images.slice(1).forEach((b64, i) => {
    const img = document.createElement("img");
    img.src = "data:image/png;base64," + b64;
    img.alt = "Edited image " + (i + 2);
    more.appendChild(img);
  });
  if (downloadUrl) URL.revokeObjectURL(downloadUrl);
  const bytes = Uint8Array.from(atob(result.images[0]), (c) => c.charCodeAt(0));
  downloadUrl = URL.createObjectURL(new Blob([bytes], { type: "image/png" }));
  const link = $("download");
  link.href = downloadUrl;
  link.download = "cyclediffusion-" + result.seed + ".png";
  $("used-seed").textContent = String(result.seed);
  const flagged = (result.nsfw_content_detected || []).some((f) => f);
  $("used").textContent = JSON.stringify(result.parameters, null, 1)
    + "\n" + Math.round(result.timings.total_ms) + " ms" + (flagged ? "\nthe safety checker flagged an image: it was replaced by black" : "");
  $("used-box").hidden = false;
}

$("cancel").addEventListener("click", async () => {
  if (!jobId) return;
  statusBox.textContent = "cancelling…";
  try {
    await fetch("/api/jobs/" + jobId, { method: "DELETE", headers: headers() });
  } catch (e) {
    setError("the server does not answer: " + e.message);
  }
});

$("api_key").addEventListener("change", loadModel);
loadModel();
