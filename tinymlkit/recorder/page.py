"""The recorder's web page (HTML, CSS and JavaScript in one string, so it ships inside the package)."""
from __future__ import annotations

from .page_script import with_shared_script

__all__ = ["PAGE"]

# The page asks the server for the session (words, speaker, counts), records one second from the
# microphone with the Web Audio API, resamples it to 16 kHz with an OfflineAudioContext (the browser's
# own band-limited resampler), draws the waveform, and on "Keep" posts the 16-bit samples.
PAGE = with_shared_script(r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>tinymlkit recorder</title>
<style>
 body { font-family: system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; }
 #word { font-size: 3.5rem; font-weight: 700; margin: 1rem 0; }
 canvas { width: 100%; height: 120px; background: #f4f4f4; border: 1px solid #ccc; }
 button { font-size: 1.1rem; padding: .5rem 1.2rem; margin-right: .5rem; }
 #status { min-height: 1.5rem; margin: .8rem 0; }
 table { border-collapse: collapse; } td, th { padding: .2rem .8rem; border-bottom: 1px solid #ddd; }
 .err { color: #b00; }
</style>
</head>
<body>
<h1>Record your keywords</h1>
<p>Say the word below once, clearly, when you press <b>Record</b> (one second). Listen back in the
waveform, then <b>Keep</b> it or <b>Redo</b> it. Speaker id: <code id="speaker"></code>.
Files go to <code id="out"></code>.</p>
<div id="word">...</div>
<div>
 <button id="record">Record</button>
 <button id="keep" disabled>Keep</button>
 <button id="redo" disabled>Redo</button>
 <button id="skip">Next word</button>
</div>
<div id="status"></div>
<canvas id="wave" width="800" height="120"></canvas>
<h2>Kept so far</h2>
<table id="counts"><tr><th>word</th><th>kept</th><th>wanted</th></tr></table>
<script>
"use strict";
const RATE = 16000, SECONDS = 1.0;
let session = null, wordIndex = 0, take = null, busy = false;
/* tinymlkit: shared script */

async function loadSession() {
  const r = await fetch("/api/session");
  session = await r.json();
  $("speaker").textContent = session.speaker;
  $("out").textContent = session.out;
  nextWord(0);
  drawCounts();
}

function nextWord(step) {
  wordIndex = nextShort(session.words, wordIndex, step);
  $("word").textContent = session.words[wordIndex];
  document.body.dataset.word = session.words[wordIndex];
}

function drawCounts() {
  drawCountTable(session.words, "word", "All takes recorded. You can close this page (and stop the server with Ctrl-C).");
}

function drawWave(samples) {
  const c = $("wave"), g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  g.strokeStyle = "#1565c0";
  g.beginPath();
  const per = samples.length / c.width;
  for (let x = 0; x < c.width; x++) {
    let lo = 1, hi = -1;
    for (let i = Math.floor(x * per); i < Math.floor((x + 1) * per); i++) {
      lo = Math.min(lo, samples[i]); hi = Math.max(hi, samples[i]);
    }
    g.moveTo(x, (1 - hi) * c.height / 2);
    g.lineTo(x, (1 - lo) * c.height / 2 + 1);
  }
  g.stroke();
}

async function captureSecond() {
  const stream = await navigator.mediaDevices.getUserMedia(
    {audio: {channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false}});
  const ctx = new AudioContext();
  await ctx.resume();
  const source = ctx.createMediaStreamSource(stream);
  const proc = ctx.createScriptProcessor(4096, 1, 1);
  const want = Math.ceil(ctx.sampleRate * SECONDS);
  const chunks = [];
  let have = 0;
  const done = new Promise((resolve) => {
    proc.onaudioprocess = (e) => {
      if (have >= want) return;
      const x = e.inputBuffer.getChannelData(0);
      chunks.push(new Float32Array(x));
      have += x.length;
      if (have >= want) resolve();
    };
  });
  source.connect(proc);
  proc.connect(ctx.destination);
  await done;
  source.disconnect(); proc.disconnect();
  stream.getTracks().forEach((t) => t.stop());
  const raw = new Float32Array(want);
  let off = 0;
  for (const c of chunks) { raw.set(c.subarray(0, Math.min(c.length, want - off)), off); off += c.length; if (off >= want) break; }
  const rate = ctx.sampleRate;
  await ctx.close();
  // Resample to 16 kHz with the browser's own resampler.
  const off16 = new OfflineAudioContext(1, Math.round(RATE * SECONDS), RATE);
  const buf = off16.createBuffer(1, raw.length, rate);
  buf.copyToChannel(raw, 0);
  const src = off16.createBufferSource();
  src.buffer = buf; src.connect(off16.destination); src.start();
  const rendered = await off16.startRendering();
  return {samples: rendered.getChannelData(0).slice(), inputRate: rate};
}

$("record").onclick = async () => {
  if (busy) return;
  busy = true;
  $("record").disabled = $("keep").disabled = $("redo").disabled = true;
  say("Recording... say \"" + session.words[wordIndex] + "\"");
  try {
    const r = await captureSecond();
    take = r.samples;
    drawWave(take);
    let peak = 0;
    for (const v of take) peak = Math.max(peak, Math.abs(v));
    document.body.dataset.peak = peak.toFixed(4);
    say(peak < 0.02 ? "Very quiet: check the microphone, then Redo (or Keep if it was meant to be quiet)."
                    : "Recorded (mic at " + r.inputRate + " Hz, saved at 16 kHz). Keep or Redo?");
    $("keep").disabled = $("redo").disabled = false;
  } catch (e) {
    say("Could not record: " + e.name + ": " + e.message + " (allow the microphone for this page)", true);
  } finally {
    $("record").disabled = false;
    busy = false;
  }
};

$("redo").onclick = () => { take = null; $("keep").disabled = $("redo").disabled = true; say("Press Record again."); };

$("keep").onclick = async () => {
  if (!take) return;
  const pcm = new Int16Array(take.length);
  for (let i = 0; i < take.length; i++) pcm[i] = Math.max(-32768, Math.min(32767, Math.round(take[i] * 32768)));
  const word = session.words[wordIndex];
  $("keep").disabled = $("redo").disabled = true;
  const r = await fetch("/api/clip?word=" + encodeURIComponent(word),
                        {method: "POST", headers: {"Content-Type": "application/octet-stream"}, body: pcm.buffer});
  const answer = await r.json();
  if (!r.ok) { say("Not saved: " + answer.error, true); $("keep").disabled = $("redo").disabled = false; return; }
  take = null;
  session.counts = answer.counts;
  document.body.dataset.saved = answer.file;
  say("Saved " + answer.file);
  drawCounts();
  if (document.body.dataset.done !== "yes") nextWord(1);
};

$("skip").onclick = () => nextWord(1);
loadSession().catch((e) => say("The recorder server did not answer: " + e, true));
</script>
</body>
</html>
""")
