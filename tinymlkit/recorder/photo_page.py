"""The photo page (HTML, CSS and JavaScript in one string, so it ships inside the package)."""
from __future__ import annotations

from .page_script import with_shared_script

__all__ = ["PHOTO_PAGE"]

# The page asks the server for the session (labels, what counts for each, owner, counts), shows the
# webcam live, and on "Snap" draws one frame onto a canvas no larger than the session's max_side. The
# still is shown beside the preview; "Keep" posts it as a PNG (pixels only: a canvas carries no EXIF),
# "Redo" throws it away without sending anything. The preview is not mirrored, so the still shows the
# room as the camera (and later the model) sees it.
PHOTO_PAGE = with_shared_script(r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>tinymlkit photos</title>
<style>
 body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
 #label { font-size: 3rem; font-weight: 700; margin: 1rem 0 .2rem; }
 #hint { font-size: 1.1rem; margin: 0 0 1rem; }
 .views { display: flex; gap: 1rem; flex-wrap: wrap; }
 .views figure { margin: 0; flex: 1 1 20rem; }
 video, canvas { width: 100%; background: #222; border: 1px solid #ccc; }
 button { font-size: 1.1rem; padding: .5rem 1.2rem; margin: .8rem .5rem 0 0; }
 #status { min-height: 1.5rem; margin: .8rem 0; }
 #consent { background: #f4f4f4; padding: .6rem .8rem; border-left: 4px solid #1565c0; }
 table { border-collapse: collapse; } td, th { padding: .2rem .8rem; border-bottom: 1px solid #ddd; }
 .err { color: #b00; }
</style>
</head>
<body>
<h1>Take your own photos</h1>
<p id="consent"><b>What is kept:</b> only the pixels of each photo you <b>Keep</b>, as a PNG file in
<code id="out"></code> on this computer. <b>What is not:</b> the live video, photos you <b>Redo</b>
(they never leave the page), and any camera name, time or place (no EXIF, no GPS). This page talks only
to the kit on this computer (127.0.0.1); nothing is sent anywhere else. Photograph people only with
their consent, and keep photos of people out of public repositories unless everyone in them agreed.</p>
<p>Point the camera as the board will be placed, press <b>Snap</b>, look at the still, then <b>Keep</b>
it or <b>Redo</b> it. Owner id: <code id="owner"></code>.</p>
<div id="label">...</div>
<p id="hint"></p>
<div>
 <button id="snap" disabled>Snap</button>
 <button id="keep" disabled>Keep</button>
 <button id="redo" disabled>Redo</button>
 <button id="skip">Next label</button>
</div>
<div id="status"></div>
<div class="views">
 <figure><video id="preview" autoplay playsinline muted></video><figcaption>live</figcaption></figure>
 <figure><canvas id="still" width="320" height="240"></canvas><figcaption id="stillcap">still</figcaption></figure>
</div>
<h2>Kept so far</h2>
<table id="counts"><tr><th>label</th><th>kept</th><th>wanted</th></tr></table>
<script>
"use strict";
let session = null, labelIndex = 0, still = false, stream = null;
/* tinymlkit: shared script */

async function loadSession() {
  const r = await fetch("/api/session");
  session = await r.json();
  $("owner").textContent = session.owner;
  $("out").textContent = session.out;
  nextLabel(0);
  drawCounts();
  await startCamera();
}

async function startCamera() {
  try {
    stream = await navigator.mediaDevices.getUserMedia(
      {video: {width: {ideal: 640}, height: {ideal: 480}}, audio: false});
    const v = $("preview");
    v.srcObject = stream;
    await v.play();
    await new Promise((resolve) => {
      const ready = () => (v.videoWidth > 0 ? resolve() : requestAnimationFrame(ready));
      ready();
    });
    document.body.dataset.camera = v.videoWidth + "x" + v.videoHeight;
    $("snap").disabled = false;
    if (document.body.dataset.done !== "yes") say("Camera on (" + v.videoWidth + "x" + v.videoHeight + "). Press Snap.");
  } catch (e) {
    document.body.dataset.camera = "none";
    say("No camera: " + e.name + ": " + e.message + " (allow the camera for this page, then reload)", true);
  }
}

function nextLabel(step) {
  labelIndex = nextShort(session.labels, labelIndex, step);
  const label = session.labels[labelIndex];
  $("label").textContent = label.replace(/_/g, " ");
  $("hint").textContent = session.hints[label];
  document.body.dataset.label = label;
}

function drawCounts() {
  drawCountTable(session.labels, "label", "All photos taken. You can close this page (and stop the server with Ctrl-C).");
}

$("snap").onclick = () => {
  const v = $("preview");
  if (!v.videoWidth) { say("The camera has no picture yet.", true); return; }
  const scale = Math.min(1, session.max_side / Math.max(v.videoWidth, v.videoHeight));
  const c = $("still");
  c.width = Math.round(v.videoWidth * scale);
  c.height = Math.round(v.videoHeight * scale);
  const g = c.getContext("2d");
  g.drawImage(v, 0, 0, c.width, c.height);
  const px = g.getImageData(0, 0, c.width, c.height).data;
  let sum = 0;
  for (let i = 0; i < px.length; i += 4) sum += 0.299 * px[i] + 0.587 * px[i + 1] + 0.114 * px[i + 2];
  const mean = sum / (px.length / 4);
  document.body.dataset.still = c.width + "x" + c.height;
  document.body.dataset.mean = mean.toFixed(1);
  $("stillcap").textContent = "still, " + c.width + "x" + c.height + " (what Keep saves)";
  still = true;
  $("keep").disabled = $("redo").disabled = false;
  say(mean < 20 ? "Very dark: add light, then Redo (or Keep if the room is really this dark)."
                : "Is it a good \"" + session.labels[labelIndex].replace(/_/g, " ") + "\" photo? Keep or Redo.");
};

$("redo").onclick = () => {
  still = false;
  $("keep").disabled = $("redo").disabled = true;
  const c = $("still");
  c.getContext("2d").clearRect(0, 0, c.width, c.height);
  document.body.dataset.still = "";
  say("Press Snap again.");
};

$("keep").onclick = async () => {
  if (!still) return;
  const label = session.labels[labelIndex];
  $("keep").disabled = $("redo").disabled = true;
  const blob = await new Promise((resolve) => $("still").toBlob(resolve, "image/png"));
  let r, answer;
  try {
    r = await fetch("/api/photo?label=" + encodeURIComponent(label),
                    {method: "POST", headers: {"Content-Type": "image/png"}, body: blob});
    answer = await r.json();
  } catch (e) {
    say("Not saved: the server did not answer (" + e + ")", true);
    $("keep").disabled = $("redo").disabled = false;
    return;
  }
  if (!r.ok) { say("Not saved: " + answer.error, true); $("keep").disabled = $("redo").disabled = false; return; }
  still = false;
  session.counts = answer.counts;
  document.body.dataset.saved = answer.file;
  say("Saved " + answer.file);
  drawCounts();
  if (document.body.dataset.done !== "yes") nextLabel(1);
};

$("skip").onclick = () => nextLabel(1);
loadSession().catch((e) => say("The photo server did not answer: " + e, true));
</script>
</body>
</html>
""")
