"""JavaScript both recorder pages share (the keyword page and the photo page), inserted into each."""
from __future__ import annotations

__all__ = ["SHARED_SCRIPT", "with_shared_script"]

_MARK = "/* tinymlkit: shared script */"

SHARED_SCRIPT = r"""const $ = (id) => document.getElementById(id);

function say(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "err" : "";
  document.body.dataset.state = text;
}

// From index, go `step` on (0: stay) and on round the list to the first item still short of takes.
function nextShort(items, index, step) {
  for (let i = 0; i < items.length; i++) {
    index = (index + step + items.length) % items.length;
    step = 1;
    if (session.counts[items[index]] < session.takes) break;
  }
  return index;
}

// The table of kept/wanted per item; when every item has its takes, say `doneText`.
function drawCountTable(items, heading, doneText) {
  const t = $("counts");
  t.innerHTML = "<tr><th>" + heading + "</th><th>kept</th><th>wanted</th></tr>";
  for (const item of items) {
    const row = t.insertRow();
    row.insertCell().textContent = item;
    row.insertCell().textContent = session.counts[item];
    row.insertCell().textContent = session.takes;
  }
  const done = items.every((item) => session.counts[item] >= session.takes);
  document.body.dataset.done = done ? "yes" : "no";
  if (done) say(doneText);
}"""
"""``$``, ``say``, ``nextShort`` and ``drawCountTable``; they read the page's global ``session``."""


def with_shared_script(page: str) -> str:
    """The page with its one shared-script mark replaced by :data:`SHARED_SCRIPT`."""
    if page.count(_MARK) != 1:
        raise ValueError("a recorder page must carry the shared-script mark exactly once")
    return page.replace(_MARK, SHARED_SCRIPT)
