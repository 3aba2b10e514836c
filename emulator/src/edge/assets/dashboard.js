// cinderbox dashboard: polls /_cinderbox/dashboard.json and redraws the tables.
// An admin token may be given in the URL fragment (#token=...), never sent in the URL.
"use strict";
(function () {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  const headers = m ? { "X-Auth-Token": decodeURIComponent(m[1]) } : {};

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function row(cells) {
    const tr = el("tr");
    for (const c of cells) {
      const td = el("td");
      if (c instanceof Node) td.appendChild(c); else td.textContent = c === null || c === undefined ? "–" : String(c);
      tr.appendChild(td);
    }
    return tr;
  }
  function status(s) { return el("span", s === null ? "gone" : s, "s s-" + s); }
  function fill(id, rows, span) {
    const body = document.getElementById(id);
    body.replaceChildren();
    if (rows.length === 0) {
      const tr = el("tr"); const td = el("td", "none", "empty"); td.colSpan = span; tr.appendChild(td); body.appendChild(tr);
    }
    for (const r of rows) body.appendChild(r);
  }
  function clock(t) { return t ? t.replace(/^.*T/, "").replace(/Z$/, "") : ""; }

  function draw(d) {
    fill("volumes", d.volumes.map(function (v) {
      const tl = el("span", v.timeline.map(function (t) { return clock(t.time).slice(0, 12) + " " + (t.to || "gone"); }).join(" → "), "tl");
      const tr = row([v.name, el("code", v.id), v.project_id.slice(0, 8), v.size + " GiB", status(v.status), v.attachments, tl]);
      tr.dataset.volume = v.id; tr.dataset.status = v.status;
      return tr;
    }), 7);
    fill("faults", d.faults.map(function (f) {
      const tr = row([f.id, [].concat(f.operation || "*").join(", ") + (f.effect ? " → " + f.effect : ""), f.matched, el("span", f.fired, f.fired > 0 ? "s bad" : "s")]);
      tr.dataset.rule = f.id; tr.dataset.fired = f.fired; tr.dataset.matched = f.matched;
      return tr;
    }), 4);
    fill("attachments", d.attachments.map(function (a) {
      return row([el("code", a.id), el("code", a.volume_id), status(a.status), a.attach_mode]);
    }), 4);
    fill("requests", d.requests.slice().reverse().map(function (r) {
      const ok = r.status !== null && r.status < 400;
      return row([clock(r.time), r.operation, r.method, r.path, el("span", r.status === null ? "closed" : r.status, "s " + (ok ? "ok" : "bad")), r.latency_ms + " ms", r.rule]);
    }), 7);
  }

  function poll() {
    fetch("/_cinderbox/dashboard.json", { headers: headers, cache: "no-store" })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status + (r.status === 401 ? ": needs #token=<admin token> or --dashboard-open" : ""));
        return r.json();
      })
      .then(function (d) { draw(d); document.getElementById("state").textContent = "live · updated " + new Date().toLocaleTimeString(); })
      .catch(function (e) { document.getElementById("state").textContent = "error: " + e.message; })
      .finally(function () { setTimeout(poll, 1000); });
  }
  poll();
})();
