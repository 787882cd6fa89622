// The cevm visual map: draws the snapshot embedded in #cevm-data (built by the cevm
// command from Kernel::regions; see crates/cevm-cli/src/visual/snapshot.rs for its keys).
// Nothing is fetched: the page is complete offline.
"use strict";
(function () {
  const t0 = performance.now();
  const D = JSON.parse(document.getElementById("cevm-data").textContent);
  const SVGNS = "http://www.w3.org/2000/svg";
  const FOUR_G = 4294967296;
  const AXIS_W = 98, HEAD_H = 44, TOP = 8;

  // ---- Numbers and text ----------------------------------------------------------------
  const hex = (n) => "0x" + Math.floor(n).toString(16).toUpperCase().padStart(8, "0");
  const hexs = (n) => "0x" + Math.floor(n).toString(16).toUpperCase();
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  const bytes = (n) => n >= 1073741824 ? (n / 1073741824).toFixed(n % 1073741824 ? 2 : 0) + " GiB"
    : n >= 1048576 ? (n / 1048576).toFixed(n % 1048576 ? 1 : 0) + " MiB"
    : n >= 1024 && n % 1024 === 0 ? (n / 1024) + " KiB" : hexs(n) + " bytes";
  const fit = (s, px, cw) => { const k = Math.floor(px / cw); return s.length <= k ? s : k <= 1 ? "" : s.slice(0, k - 1) + "\u2026"; };

  // ---- State: a snapshot, and the differences of later steps -----------------------------
  function load(snap) {
    const regions = new Map();
    for (const pid of Object.keys(snap.regions || {})) {
      const m = new Map();
      for (const r of snap.regions[pid]) m.set(r.s, r);
      regions.set(pid, m);
    }
    return { layout: snap.layout, procs: snap.procs || [], devices: snap.devices || [], regions };
  }
  function copy(st) {
    const regions = new Map();
    for (const [pid, m] of st.regions) regions.set(pid, new Map(m));
    return { layout: st.layout, procs: st.procs, devices: st.devices, regions };
  }
  function apply(st, d) {
    if (d.layout) st.layout = d.layout;
    if (d.procs) st.procs = d.procs;
    if (d.devices) st.devices = d.devices;
    if (!d.r) return;
    for (const pid of Object.keys(d.r)) {
      const c = d.r[pid];
      if (c.gone) { st.regions.delete(pid); continue; }
      let m = st.regions.get(pid);
      if (!m) { m = new Map(); st.regions.set(pid, m); }
      for (const s of c.del || []) m.delete(s);
      for (const r of c.put || []) m.set(r.s, r);
    }
  }
  const steps = Array.isArray(D.steps) ? D.steps : null;
  const nSteps = steps ? steps.length + 1 : 1;
  const CHECK_EVERY = 200;
  const checkpoints = new Map([[0, load(D.base)]]);
  let cur = { k: 0, st: copy(checkpoints.get(0)) };
  function stateAt(k) {
    if (!(cur.k <= k && k - cur.k < CHECK_EVERY * 2)) {
      let c = Math.floor(k / CHECK_EVERY) * CHECK_EVERY;
      while (!checkpoints.has(c)) c -= CHECK_EVERY;
      cur = { k: c, st: copy(checkpoints.get(c)) };
    }
    while (cur.k < k) {
      apply(cur.st, steps[cur.k].d);
      cur.k += 1;
      if (cur.k % CHECK_EVERY === 0 && !checkpoints.has(cur.k)) checkpoints.set(cur.k, copy(cur.st));
    }
    return cur.st;
  }
  function stepLabel(k) {
    if (k === 0) return "step 0: start (before the first CE call)";
    const s = steps[k - 1];
    let t = (s.seq != null ? "seq " + s.seq + " \u00b7 " : "") + "step " + k + ": " + s.call;
    if (s.line != null) t += " (line " + s.line + ")";
    return t;
  }

  // ---- Kinds of region -------------------------------------------------------------------
  function fillClass(r) {
    if (r.st === "static") return "st-static";
    if (r.st === "image") return "st-image";
    if (r.st !== "committed") return "st-reserved";
    const p = r.p;
    if (p.includes("GUARD")) return "pr-guard";
    if (p.includes("NOCACHE")) return "pr-nocache";
    if (p.includes("EXECUTE")) return "pr-exec";
    if (p.includes("READWRITE")) return "pr-rw";
    if (p.includes("READONLY")) return "pr-ro";
    return "pr-na";
  }
  function strokeClass(r) {
    if (r.dev) return " device";
    if (r.m) return " alias";
    if (r.o) return " shared";
    return "";
  }
  function regionText(r) {
    const what = r.st === "committed" ? r.p : r.st === "static" ? "static mapping of RAM" : r.st;
    if (r.dev) return r.dev + " " + what;
    if (r.m) return "alias " + what;
    return what;
  }

  // ---- The page's frame ------------------------------------------------------------------
  document.body.innerHTML =
    '<header><h1 id="title"></h1><div class="sum" id="sum"></div><div id="stepbar" hidden></div></header>' +
    '<div id="mapwrap"><div id="heads"></div><div id="mapbox"></div></div>' +
    '<aside><h2>Details</h2><section id="details"><p class="hint">Hover over a region, or move to it with Tab, to see its VirtualQuery fields and every other mapping of its frames.</p></section>' +
    '<h2>Exposed bytes</h2><section id="exposures"></section>' +
    '<h2>Legend</h2><section id="legend"></section></aside>';
  document.getElementById("title").textContent = D.title || "cevm map";
  document.getElementById("legend").innerHTML = legend();

  function legend() {
    const sw = (cls, extra) => '<svg width="26" height="14"><rect class="' + cls + '" x="1" y="1" width="24" height="12"' + (extra || "") + "/></svg>";
    const items = [
      [sw("r st-reserved"), "reserved"],
      [sw("r pr-ro"), "committed read-only"],
      [sw("r pr-rw"), "committed read-write"],
      [sw("r pr-exec"), "committed execute"],
      [sw("r pr-guard"), "guard page"],
      [sw("r pr-nocache"), "no-cache"],
      [sw("r pr-na"), "committed no access"],
      [sw("r st-image"), "image reservation"],
      [sw("r st-static"), "NK.EXE static mapping of RAM"],
      [sw("r pr-rw alias"), "alias: frames placed here"],
      [sw("r pr-rw shared"), "frames also mapped elsewhere"],
      [sw("r pr-nocache device"), "device frames"],
      [sw("exposed"), "exposed bytes (beyond the request)"],
      [sw("asked"), "the bytes asked for"],
      ['<svg width="26" height="14"><path class="link" d="M1 7 H21"/><path class="linkend" d="M25 7 L19 3 L19 11 Z"/></svg>', "alias \u2192 its source pages"],
      ['<svg width="26" height="14"><path class="link k-ram" d="M1 7 H21"/><path class="linkend" d="M25 7 L19 3 L19 11 Z"/></svg>', "alias \u2192 RAM (frame not reported)"],
      ['<svg width="26" height="14"><rect class="gap" x="1" y="1" width="24" height="12"/><path class="gapz" d="M1 5 l4 -3 l4 3 l4 -3 l4 3 l4 -3 l4 3 M1 11 l4 -3 l4 3 l4 -3 l4 3 l4 -3 l4 3"/></svg>', "free in every process, compressed (a thin gap under 1 MiB)"],
    ];
    return "<ul>" + items.map(([s, t]) => "<li>" + s + "<span>" + esc(t) + "</span></li>").join("") + "</ul>";
  }

  // ---- Drawing ---------------------------------------------------------------------------
  let view = null; // what the last draw laid out, for details and links

  function layoutAxis(cols) {
    // Every region boundary of every column, and the union of what is used: a run that is
    // free in every column is compressed to a fixed height.
    const iv = [];
    const exposedStarts = new Set();
    for (const c of cols) for (const r of c.regions) {
      iv.push([r.s, r.s + r.n]);
      if (r.x) exposedStarts.add(r.s);
    }
    iv.sort((a, b) => a[0] - b[0]);
    const union = [];
    for (const [a, b] of iv) {
      const last = union[union.length - 1];
      if (last && a <= last[1]) { if (b > last[1]) last[1] = b; } else union.push([a, b]);
    }
    const cuts = new Set([0, FOUR_G]);
    for (const [a, b] of iv) { cuts.add(a); cuts.add(b); }
    const pts = Array.from(cuts).sort((a, b) => a - b);
    const segs = [];
    let y = TOP, u = 0;
    for (let i = 0; i + 1 < pts.length; i++) {
      const a = pts[i], b = pts[i + 1];
      while (u < union.length && union[u][1] <= a) u++;
      const covered = u < union.length && union[u][0] <= a && a < union[u][1];
      let h;
      // A short free run (under 1 MiB) is a thin gap; a longer one a marked 24 px band.
      if (!covered) h = b - a < 1048576 ? 8 : 24;
      else {
        h = Math.min(130, 24 + 9 * Math.log2(Math.max(1, (b - a) / 4096)));
        if (exposedStarts.has(a)) h = Math.max(h, 64);
      }
      segs.push({ a, b, y, h, covered });
      y += h;
    }
    return { segs, height: y + TOP };
  }
  function yOf(segs, addr) {
    let lo = 0, hi = segs.length - 1;
    while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (segs[mid].a <= addr) lo = mid; else hi = mid - 1; }
    const s = segs[lo];
    if (addr >= s.b) return s.y + s.h;
    return s.y + s.h * (addr - s.a) / (s.b - s.a);
  }

  function draw(st, k) {
    const t1 = performance.now();
    const nk = st.layout ? st.layout.kernel_pid : null;
    const procs = st.procs.slice().sort((a, b) => (b.kernel - a.kernel) || (a.pid - b.pid));
    const cols = [];
    const colOf = new Map();
    const addCol = (c) => { c.i = cols.length; cols.push(c); colOf.set(c.key, c); };
    const regionsOf = (pid) => {
      const m = st.regions.get(String(pid));
      return m ? Array.from(m.values()).sort((a, b) => a.s - b.s) : [];
    };
    procs.filter((p) => p.kernel).forEach((p) => addCol({ kind: "proc", key: "p" + p.pid, pid: p.pid, name: p.name, kernel: true, regions: regionsOf(p.pid) }));
    st.devices.forEach((d) => addCol({ kind: "device", key: "d" + d.name, name: d.name, pa: d.pa, size: d.size, regions: [] }));
    procs.filter((p) => !p.kernel).forEach((p) => addCol({ kind: "proc", key: "p" + p.pid, pid: p.pid, name: p.name, kernel: false, regions: regionsOf(p.pid) }));
    const nProcs = procs.length;
    // Columns share the window's width, within limits; the gap between them is where the
    // links run.
    const room = (document.getElementById("mapwrap").clientWidth || 1000) - AXIS_W - 16;
    const colW = Math.round(Math.max(cols.length <= 40 ? 120 : 66, Math.min(250, room / Math.max(1, cols.length))));
    const GAP = colW >= 150 ? 40 : 14;
    const x0 = (c) => AXIS_W + c.i * colW;
    const { segs, height } = layoutAxis(cols);
    const width = AXIS_W + cols.length * colW + 12;
    const names = new Map(procs.map((p) => [p.pid, p.name]));
    const nameOf = (pid) => names.has(pid) ? names.get(pid) : "pid " + hex(pid);
    const labels = colW >= 100;
    const cw = 6.1;

    // Headers (sticky above the map).
    let hd = "";
    for (const c of cols) {
      const x = x0(c);
      const sub = c.kind === "proc" ? (colW < 100 ? hex(c.pid) : "pid " + hex(c.pid) + (c.kernel ? " \u00b7 kernel" : "")) : "device \u00b7 PA " + hexs(c.pa) + " + " + hexs(c.size);
      hd += '<text class="hd" x="' + (x + 5) + '" y="18">' + esc(fit(c.name, colW - 8, 7)) + "</text>";
      hd += '<text class="hd2" x="' + (x + 5) + '" y="34">' + esc(fit(sub, colW - 8, 5.8)) + "</text>";
    }
    hd += '<text class="hd2" x="6" y="34">address</text>';

    // Axis and compressed runs.
    let out = "";
    for (const c of cols) {
      out += '<g class="col" data-kind="' + c.kind + '"' + (c.kind === "proc" ? ' data-pid="' + c.pid + '"' : ' data-device="' + esc(c.name) + '"') +
        ' data-name="' + esc(c.name) + '"><rect class="colbg' + (c.kind === "device" ? " dev" : "") + '" x="' + (x0(c) + 1) + '" y="' + TOP + '" width="' + (colW - GAP + 10) + '" height="' + (height - 2 * TOP) + '"/></g>';
    }
    let ticks = "";
    for (const s of segs) {
      if (s.covered) {
        ticks += "M" + (AXIS_W - 4) + " " + s.y + "H" + (width - 12);
        out += '<text class="ax" x="4" y="' + (s.y + 11) + '">' + hex(s.a) + "</text>";
      } else if (s.h >= 24) {
        const zz = (yy) => { let p = "M" + AXIS_W + " " + yy; for (let x = AXIS_W; x < width - 12; x += 16) p += " l8 -4 l8 4"; return p; };
        out += '<rect class="gap" x="0" y="' + s.y + '" width="' + width + '" height="' + s.h + '"/>';
        out += '<path class="gapz" d="' + zz(s.y + 7) + " " + zz(s.y + s.h - 3) + '"/>';
        out += '<text class="ax" x="4" y="' + (s.y + 11) + '">' + hex(s.a) + "</text>";
        out += '<text class="gapt" x="' + (AXIS_W + 8) + '" y="' + (s.y + 16) + '">' + esc(bytes(s.b - s.a)) + " free everywhere</text>";
      }
    }
    out += '<path class="tick" d="' + ticks + '"/>';
    out += '<text class="ax" x="4" y="' + (height - TOP - 2) + '">' + (segs.length ? hex(segs[segs.length - 1].b - 1) : "") + "</text>";

    // Regions, exposed bytes.
    const exposures = [];
    for (const c of cols) {
      if (c.kind !== "proc") continue;
      const x = x0(c) + 6, w = colW - GAP;
      c.regions.forEach((r, idx) => {
        const y1 = yOf(segs, r.s), y2 = yOf(segs, r.s + r.n);
        const h = Math.max(2, y2 - y1 - 1);
        out += '<rect class="r ' + fillClass(r) + strokeClass(r) + '" tabindex="0" data-pid="' + c.pid + '" data-i="' + idx +
          '" data-start="' + hex(r.s) + '" data-end="' + hex(r.s + r.n) + '" x="' + x + '" y="' + (y1 + 0.5) + '" width="' + w + '" height="' + h + '"/>';
        if (labels && h >= 14) {
          const tw = w - (r.x ? 40 : 8);
          out += '<text class="rl" x="' + (x + 5) + '" y="' + (y1 + 12) + '">' + esc(fit(regionText(r), tw, cw)) + "</text>";
          if (h >= 27) out += '<text class="rl2" x="' + (x + 5) + '" y="' + (y1 + 24) + '">' + esc(fit(hexs(r.n) + " bytes", tw, 6)) + "</text>";
          if (h >= 39 && r.req) out += '<text class="rl2" x="' + (x + 5) + '" y="' + (y1 + 36) + '">' + esc(fit("asked " + hexs(r.req[0]) + "+" + hexs(r.req[1]), tw, 6)) + "</text>";
          if (h >= 51 && r.x) out += '<text class="exptag" x="' + (x + 5) + '" y="' + (y1 + 48) + '">' + esc(fit(hexs(r.x.reduce((n, e) => n + e.e - e.s, 0)) + " bytes exposed", tw, 6.2)) + "</text>";
        }
        for (const e of r.x || []) {
          const ey1 = yOf(segs, e.s), ey2 = yOf(segs, e.e);
          out += '<rect class="exposed" data-pid="' + c.pid + '" data-start="' + hex(e.s) + '" data-end="' + hex(e.e) + '"' +
            (e.owner != null ? ' data-owner="' + e.owner + '"' : "") + ' x="' + (x + w - 30) + '" y="' + (ey1 + 0.5) + '" width="28" height="' + Math.max(3, ey2 - ey1 - 1) + '"/>';
          exposures.push({ pid: c.pid, r, e });
        }
        if (r.x && r.req) {
          // The bytes asked for, as a light slice between the exposed marks.
          const a1 = Math.max(r.s, r.req[0]), a2 = Math.min(r.s + r.n, r.req[0] + r.req[1]);
          if (a1 < a2) {
            const ay1 = yOf(segs, a1), ay2 = yOf(segs, a2);
            out += '<rect class="asked" x="' + (x + w - 30) + '" y="' + ay1 + '" width="28" height="' + Math.max(2, ay2 - ay1) + '"/>';
          }
        }
      });
    }

    // Device blocks: the whole device at the top of its column.
    for (const c of cols) {
      if (c.kind !== "device") continue;
      c.y = TOP + 6; c.h = 40;
      out += '<rect class="devbox" x="' + (x0(c) + 6) + '" y="' + c.y + '" width="' + (colW - GAP) + '" height="' + c.h + '" data-device="' + esc(c.name) + '" data-pa="' + hexs(c.pa) + '"/>';
      if (labels) out += '<text class="rl" x="' + (x0(c) + 11) + '" y="' + (c.y + 16) + '">' + esc(fit(c.name + " registers", colW - 24, cw)) + '</text><text class="rl2" x="' + (x0(c) + 11) + '" y="' + (c.y + 30) + '">' + esc(hexs(c.pa) + " + " + hexs(c.size)) + "</text>";
    }

    // Alias links: from the destination range to the source pages.
    let links = "";
    for (const c of cols) {
      if (c.kind !== "proc") continue;
      for (const r of c.regions) for (const l of r.l || []) {
        let tc, ty, ts, te;
        if (l.k === "device") { tc = colOf.get("d" + l.dev); if (!tc) continue; ty = tc.y + tc.h / 2; ts = l.pa; te = l.pa + l.n; }
        else {
          tc = colOf.get("p" + l.pid); if (!tc) continue; ts = l.a; te = l.a + l.n;
          // RAM whose frame address is not reported: the top of the static mapping.
          ty = l.exact === false ? yOf(segs, ts) + 10 : (yOf(segs, ts) + yOf(segs, te)) / 2;
        }
        const sy = (yOf(segs, r.s) + yOf(segs, r.s + r.n)) / 2;
        const right = tc.i > c.i || (tc.i === c.i);
        const sx = right ? x0(c) + 6 + colW - GAP : x0(c) + 6;
        let tx = right ? x0(tc) + 6 : x0(tc) + 6 + colW - GAP;
        if (tc.i === c.i) tx = x0(tc) + 6 + colW - GAP;
        const dx = tc.i === c.i ? 60 : Math.max(40, Math.abs(tx - sx) / 2.2);
        const sgn = right ? 1 : -1;
        const tdx = tc.i === c.i ? dx : -dx * sgn;
        links += '<path class="link k-' + l.k + '" data-from-pid="' + c.pid + '" data-from-start="' + hex(r.s) + '" data-from-end="' + hex(r.s + r.n) +
          '" data-to-kind="' + l.k + '"' + (l.pid != null ? ' data-to-pid="' + l.pid + '"' : "") + (l.dev != null ? ' data-to-device="' + esc(l.dev) + '"' : "") +
          ' data-to-start="' + hex(ts) + '" data-to-end="' + hex(te) + '"' + (l.exact === false ? ' data-exact="false"' : "") +
          ' d="M' + sx + " " + sy + " C" + (sx + dx * sgn) + " " + sy + " " + (tx + tdx) + " " + ty + " " + tx + " " + ty + '"/>';
        const ah = tc.i === c.i || !right ? 6 : -6;
        links += '<path class="linkend k-' + l.k + '" d="M' + tx + " " + ty + " l" + ah + " -4 l0 8 Z" + '"/>';
      }
    }

    document.documentElement.dataset.buildMs = (performance.now() - t1).toFixed(1);
    document.getElementById("heads").innerHTML = '<svg xmlns="' + SVGNS + '" width="' + width + '" height="' + HEAD_H + '">' + hd + "</svg>";
    document.getElementById("mapbox").innerHTML = '<svg id="map" xmlns="' + SVGNS + '" width="' + width + '" height="' + height + '" role="img" aria-label="address-space map">' + out + links + "</svg>";

    // The exposed-bytes list, each range with its owner.
    const ex = document.getElementById("exposures");
    if (!exposures.length) ex.innerHTML = '<p class="none">No alias shows bytes beyond what its caller asked for.</p>';
    else ex.innerHTML = "<ul>" + exposures.map(({ pid, r, e }) => {
      const side = r.req && e.s < r.req[0] ? "before" : "after";
      const owner = e.owner != null ? nameOf(e.owner) + (e.src != null ? " at " + hex(e.src) + "\u2013" + hex(e.src + (e.e - e.s) - 1) : "") : "its source";
      return '<li class="exp" data-pid="' + pid + '" data-start="' + hex(e.s) + '" data-end="' + hex(e.e) + '"' + (e.owner != null ? ' data-owner="' + e.owner + '"' : "") + ">" +
        "<b>" + esc(nameOf(pid)) + "</b> <span class=mono>" + hex(e.s) + "\u2013" + hex(e.e - 1) + "</span>: " + esc(hexs(e.e - e.s)) + " bytes of <b>" + esc(owner) + "</b> " + side +
        (r.req ? " the " + esc(hexs(r.req[1])) + " asked for at <span class=mono>" + hex(r.req[0]) + "</span>" : "") + "</li>";
    }).join("") + "</ul>";

    const nRegions = cols.reduce((n, c) => n + c.regions.length, 0);
    document.getElementById("sum").textContent = nProcs + " processes, " + nRegions + " regions, " + st.devices.length + " devices" +
      (steps ? " \u00b7 " + nSteps + " steps" : "") + (D.dropped ? " (" + D.dropped + " later calls not recorded)" : "");
    view = { cols, colOf, nameOf, nk, k };
    document.documentElement.dataset.drawMs = (performance.now() - t1).toFixed(1);
  }

  // ---- Details on hover and focus ----------------------------------------------------------
  function protectName(p) { return p.split("|").map((s) => "PAGE_" + s).join(" | "); }
  function details(el) {
    const c = view.colOf.get("p" + el.dataset.pid);
    if (!c) return;
    const r = c.regions[Number(el.dataset.i)];
    if (!r) return;
    const row = (k, v) => "<dt>" + esc(k) + "</dt><dd>" + v + "</dd>";
    let h = "<p><b>" + esc(c.name) + "</b> <span class=mono>pid " + hex(c.pid) + "</span></p><dl>";
    h += row("BaseAddress", hex(r.s));
    h += row("AllocationBase", hex(r.rsv ? r.rsv[0] : Math.floor(r.s / 65536) * 65536));
    h += row("AllocationProtect", "PAGE_NOACCESS");
    h += row("RegionSize", hexs(r.n) + " (" + esc(bytes(r.n)) + ")");
    h += row("State", r.st === "committed" || r.st === "static" ? "MEM_COMMIT" : "MEM_RESERVE" + (r.st !== "reserved" ? " (" + esc(r.st) + ")" : ""));
    h += row("Protect", esc(protectName(r.p)));
    h += row("Type", r.st === "image" ? "MEM_IMAGE" : "MEM_PRIVATE");
    if (r.rsv) h += row("Reservation", hex(r.rsv[0]) + " + " + hexs(r.rsv[1]));
    if (r.st === "static") h += row("Static mapping", "VA 0x80000000 + (PA \u2212 RAM base): every RAM frame");
    if (r.dev) h += row("Device", esc(r.dev));
    if (r.m) h += row("Alias", "frames placed here by VirtualCopy, VirtualAllocCopyEx or MmMapIoSpace");
    if (r.req) h += row("Asked for", hex(r.req[0]) + " + " + hexs(r.req[1]));
    for (const l of r.l || []) {
      const to = l.k === "proc" ? esc(view.nameOf(l.pid)) + " " + hex(l.a) + "\u2013" + hex(l.a + l.n - 1)
        : l.k === "device" ? "device " + esc(l.dev) + " (PA " + hexs(l.pa) + " + " + hexs(l.n) + ")"
          : "physical RAM, seen in NK.EXE's static mapping" + (l.exact === false ? " (frame address not reported)" : "");
      h += row("Source", to);
    }
    h += "</dl>";
    const others = r.o || [];
    h += "<p>" + (others.length ? "Every other mapping of these frames (" + others.length + "):" : "No other mapping of these frames.") + "</p>";
    if (others.length) h += "<ul>" + others.map(([pid, a]) => "<li>" + esc(view.nameOf(pid)) + " at <span class=mono>" + hex(a) + "</span></li>").join("") + "</ul>";
    for (const e of r.x || []) h += '<p style="color:#b0002a"><b>Exposed</b> <span class=mono>' + hex(e.s) + "\u2013" + hex(e.e - 1) + "</span> (" + hexs(e.e - e.s) + " bytes" + (e.owner != null ? " of " + esc(view.nameOf(e.owner)) : "") + ")</p>";
    const box = document.getElementById("details");
    box.innerHTML = h;
    box.dataset.pid = c.pid;
    box.dataset.start = hex(r.s);
    for (const x of document.querySelectorAll(".hot")) x.classList.remove("hot");
    el.classList.add("hot");
    const sel = '[data-from-pid="' + c.pid + '"][data-from-start="' + hex(r.s) + '"], [data-to-pid="' + c.pid + '"][data-to-start="' + hex(r.s) + '"]';
    for (const x of document.querySelectorAll(".link")) if (x.matches(sel)) x.classList.add("hot");
  }
  const mapbox = document.getElementById("mapbox");
  const onRegion = (ev) => { const el = ev.target; if (el && el.classList && el.classList.contains("r")) details(el); };
  mapbox.addEventListener("mouseover", onRegion);
  mapbox.addEventListener("focusin", onRegion);

  // ---- Steps -------------------------------------------------------------------------------
  let shown = nSteps - 1;
  const m = /(?:^#|&)step=(\d+)/.exec(location.hash);
  if (m) shown = Math.min(nSteps - 1, Number(m[1]));
  function show(k) {
    k = Math.max(0, Math.min(nSteps - 1, k));
    shown = k;
    draw(stateAt(k), k);
    if (steps) {
      document.getElementById("step").value = String(k);
      document.getElementById("steplabel").textContent = stepLabel(k);
      document.documentElement.dataset.step = String(k);
    }
  }
  if (steps) {
    const bar = document.getElementById("stepbar");
    bar.hidden = false;
    bar.innerHTML = '<button id="prev" title="previous step (\u2190)">\u2190</button>' +
      '<input type="range" id="step" min="0" max="' + (nSteps - 1) + '" value="' + shown + '" data-steps="' + nSteps + '" aria-label="step">' +
      '<button id="next" title="next step (\u2192)">\u2192</button><span id="steplabel"></span>' +
      '<ol id="steplist" hidden>' + Array.from({ length: nSteps }, (_, k) => {
        const s = k ? steps[k - 1] : null;
        return '<li data-step="' + k + '"' + (s ? ' data-call="' + esc(s.call) + '"' + (s.line != null ? ' data-line="' + s.line + '"' : "") + (s.seq != null ? ' data-seq="' + s.seq + '"' : "") : "") + ">" + esc(stepLabel(k)) + "</li>";
      }).join("") + "</ol>";
    document.getElementById("step").addEventListener("input", (ev) => show(Number(ev.target.value)));
    document.getElementById("prev").addEventListener("click", () => show(shown - 1));
    document.getElementById("next").addEventListener("click", () => show(shown + 1));
    document.addEventListener("keydown", (ev) => {
      if (ev.target && ev.target.id === "step") return; // the slider moves itself
      if (ev.key === "ArrowLeft") { show(shown - 1); ev.preventDefault(); }
      else if (ev.key === "ArrowRight") { show(shown + 1); ev.preventDefault(); }
    });
  }
  show(shown);
  // #focus=NAME:ADDRESS (or PID:ADDRESS) focuses that region, showing its details.
  const f = /(?:^#|&)focus=([^:&]+):(0x[0-9a-fA-F]+)/.exec(location.hash);
  if (f) {
    const who = decodeURIComponent(f[1]);
    const c = view.cols.find((c) => c.kind === "proc" && (c.name === who || String(c.pid) === who));
    const a = parseInt(f[2], 16);
    if (c) {
      const idx = c.regions.findIndex((r) => r.s <= a && a < r.s + r.n);
      const el = idx >= 0 && mapbox.querySelector('.r[data-pid="' + c.pid + '"][data-i="' + idx + '"]');
      if (el) { el.focus({ preventScroll: true }); el.dispatchEvent(new FocusEvent("focusin", { bubbles: true })); }
    }
  }
  // #keys=RRL presses the arrow keys (Right, Left) on the page, as a reader would.
  const keys = /(?:^#|&)keys=([RL]+)/.exec(location.hash);
  if (keys) for (const k of keys[1]) document.dispatchEvent(new KeyboardEvent("keydown", { key: k === "R" ? "ArrowRight" : "ArrowLeft", bubbles: true }));
  document.documentElement.dataset.renderMs = (performance.now() - t0).toFixed(1);

  // #bench: time moving through steps and showing details, for the scale test.
  if (/bench/.test(location.hash)) {
    const n = Math.min(20, nSteps - 1);
    let t = performance.now();
    for (let i = 0; i < n; i++) show(shown > 0 ? shown - 1 : shown + 1);
    document.documentElement.dataset.stepMs = n ? ((performance.now() - t) / n).toFixed(1) : "0";
    const rs = document.querySelectorAll("#map .r");
    const h = Math.min(100, rs.length);
    t = performance.now();
    for (let i = 0; i < h; i++) rs[Math.floor(i * rs.length / h)].dispatchEvent(new FocusEvent("focusin", { bubbles: true }));
    document.documentElement.dataset.detailMs = h ? ((performance.now() - t) / h).toFixed(2) : "0";
  }
})();
