// The image comparator of asteris (asteris.comparator): aligned images of one field in one frame.
// Blink (button, b, space and arrows, 1-9), swipe between two, pan (drag) and zoom (wheel, + and -, 0 to
// reset) down to single pixels, one stretch for all, and a readout of position (pixel, RA/Dec) and values.
// No server, no network: everything it shows is in the page.
window.asterisComparator = window.asterisComparator || function (id) {
  "use strict";
  const root = document.getElementById(id);
  const spec = JSON.parse(root.querySelector("script.astc-spec").textContent);
  const canvas = root.querySelector("canvas.astc-frame");
  const ctx = canvas.getContext("2d");
  const readout = root.querySelector(".astc-readout");
  const w = spec.width, h = spec.height, n = spec.names.length;
  const data = spec.data.map(decode);
  const views = data.map(() => document.createElement("canvas"));
  const state = {current: 0, scale: 1, ox: 0, oy: 0, blink: null, swipe: false, split: 0.5, a: 0, b: 1,
                 stretch: spec.stretch, markers: spec.markers.length > 0, drag: null};

  function decode(text) {
    const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
    return new Float32Array(bytes.buffer);
  }

  function grey(value) {
    const [lo, hi] = spec.limits[state.stretch];
    let t = Math.min(1, Math.max(0, (value - lo) / (hi - lo)));
    if (state.stretch === "asinh") t = Math.asinh(t / 0.1) / Math.asinh(1 / 0.1);
    return Math.round(255 * t);
  }

  function paint() {  // each image into its own canvas, north up (row 0 of the array at the bottom)
    views.forEach((view, i) => {
      view.width = w; view.height = h;
      const vctx = view.getContext("2d");
      const image = vctx.createImageData(w, h);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const v = data[i][y * w + x], at = 4 * ((h - 1 - y) * w + x);
          const g = Number.isFinite(v) ? grey(v) : -1;
          image.data.set(g < 0 ? [40, 40, 90, 255] : [g, g, g, 255], at);
        }
      }
      vctx.putImageData(image, 0, 0);
    });
  }

  function fit() {
    state.scale = Math.min(canvas.width / w, canvas.height / h);
    state.ox = (w - canvas.width / state.scale) / 2;
    state.oy = (h - canvas.height / state.scale) / 2;
  }

  function draw() {
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#222";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.imageSmoothingEnabled = false;
    ctx.setTransform(state.scale, 0, 0, state.scale, -state.ox * state.scale, -state.oy * state.scale);
    if (!state.swipe) {
      ctx.drawImage(views[state.current], 0, 0);
    } else {
      const cut = state.ox + state.split * canvas.width / state.scale;
      ctx.drawImage(views[state.a], 0, 0);
      ctx.save();
      ctx.beginPath();
      ctx.rect(cut, state.oy, 1e7, 1e7);
      ctx.clip();
      ctx.drawImage(views[state.b], 0, 0);
      ctx.restore();
    }
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    if (state.swipe) {
      ctx.fillStyle = "#f80";
      ctx.fillRect(Math.round(state.split * canvas.width) - 1, 0, 2, canvas.height);
    }
    if (state.markers) drawMarkers();
    root.querySelectorAll("button.astc-image").forEach((b, i) => b.classList.toggle("astc-on", i === shown()));
  }

  function drawMarkers() {
    ctx.strokeStyle = "#0e0";
    ctx.lineWidth = 1.5;
    for (const [x, y] of spec.markers) {
      const sx = (x - spec.x0 + 0.5 - state.ox) * state.scale;
      const sy = (h - 1 - (y - spec.y0) + 0.5 - state.oy) * state.scale;
      ctx.beginPath();
      ctx.arc(sx, sy, Math.max(6, 2.5 * state.scale), 0, 2 * Math.PI);
      ctx.stroke();
    }
  }

  function shown() { return state.swipe ? -1 : state.current; }

  function show(i) { state.current = ((i % n) + n) % n; draw(); }

  function zoom(factor, sx, sy) {
    const scale = Math.min(64, Math.max(0.25 * Math.min(canvas.width / w, canvas.height / h),
                                        state.scale * factor));
    state.ox += sx / state.scale - sx / scale;
    state.oy += sy / state.scale - sy / scale;
    state.scale = scale;
    draw();
  }

  function pixel(event) {  // the image pixel under the cursor, in the coordinates of the full image
    const box = canvas.getBoundingClientRect();  // the border box: the image starts inside the border
    const sx = (event.clientX - box.left - canvas.clientLeft) * canvas.width / canvas.clientWidth;
    const sy = (event.clientY - box.top - canvas.clientTop) * canvas.height / canvas.clientHeight;
    const col = Math.floor(state.ox + sx / state.scale), row = Math.floor(state.oy + sy / state.scale);
    return {sx, sy, x: col, y: h - 1 - row, inside: col >= 0 && col < w && row >= 0 && row < h};
  }

  function sky(x, y) {  // gnomonic (TAN) deprojection of a 0-based pixel, in degrees
    const c = spec.wcs, rad = Math.PI / 180;
    const dx = x + 1 - c.crpix[0], dy = y + 1 - c.crpix[1];
    const xi = (c.cd[0][0] * dx + c.cd[0][1] * dy) * rad, eta = (c.cd[1][0] * dx + c.cd[1][1] * dy) * rad;
    const ra0 = c.crval[0] * rad, dec0 = c.crval[1] * rad;
    const den = Math.cos(dec0) - eta * Math.sin(dec0);
    const ra = (ra0 + Math.atan2(xi, den)) / rad;
    const dec = Math.atan2(Math.sin(dec0) + eta * Math.cos(dec0), Math.hypot(xi, den)) / rad;
    return [((ra % 360) + 360) % 360, dec];
  }

  function read(event) {
    const p = pixel(event);
    if (!p.inside) { readout.textContent = "move the cursor over the image"; return; }
    const x = p.x + spec.x0, y = p.y + spec.y0;
    let text = `x ${x} y ${y}`;
    if (spec.wcs) {
      const [ra, dec] = sky(x, y);
      text += `  RA ${ra.toFixed(6)} Dec ${dec.toFixed(6)}`;
    }
    const values = spec.names.map((name, i) => `${name} = ${data[i][p.y * w + p.x].toPrecision(7)}`);
    readout.textContent = `${text}  |  ${values.join("  ")}${spec.unit ? " " + spec.unit : ""}`;
    Object.assign(readout.dataset, {x, y});
  }

  function blink(on) {
    clearInterval(state.blink);
    state.blink = on ? setInterval(() => show(state.current + 1), 600) : null;
    root.querySelector("button.astc-blink").classList.toggle("astc-on", on);
  }

  root.querySelectorAll("button.astc-image").forEach((b, i) => b.addEventListener("click", () => {
    state.swipe = false; root.querySelector("input.astc-swipe").checked = false; blink(false); show(i);
  }));
  root.querySelector("button.astc-blink").addEventListener("click", () => blink(state.blink === null));
  root.querySelector("button.astc-in").addEventListener("click", () => zoom(2, canvas.width / 2, canvas.height / 2));
  root.querySelector("button.astc-out").addEventListener("click", () => zoom(0.5, canvas.width / 2, canvas.height / 2));
  root.querySelector("button.astc-fit").addEventListener("click", () => { fit(); draw(); });
  root.querySelector("select.astc-stretch").addEventListener("change", (e) => {
    state.stretch = e.target.value; paint(); draw();
  });
  root.querySelector("input.astc-swipe").addEventListener("change", (e) => {
    state.swipe = e.target.checked; blink(false); draw();
  });
  root.querySelector("input.astc-split").addEventListener("input", (e) => {
    state.split = e.target.value / 1000; if (state.swipe) draw();
  });
  root.querySelectorAll("select.astc-pair").forEach((s, k) => s.addEventListener("change", (e) => {
    state[k ? "b" : "a"] = Number(e.target.value); draw();
  }));
  const marks = root.querySelector("input.astc-markers");
  if (marks) marks.addEventListener("change", (e) => { state.markers = e.target.checked; draw(); });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const p = pixel(e);
    zoom(e.deltaY < 0 ? 1.25 : 0.8, p.sx, p.sy);
  }, {passive: false});
  canvas.addEventListener("mousedown", (e) => { state.drag = [e.clientX, e.clientY]; });
  window.addEventListener("mouseup", () => { state.drag = null; });
  canvas.addEventListener("mousemove", (e) => {
    if (state.drag) {
      const k = canvas.width / canvas.clientWidth / state.scale;
      state.ox -= (e.clientX - state.drag[0]) * k;
      state.oy -= (e.clientY - state.drag[1]) * k;
      state.drag = [e.clientX, e.clientY];
      draw();
    }
    read(e);
  });
  root.addEventListener("keydown", (e) => {
    const keys = {" ": () => show(state.current + 1), ArrowRight: () => show(state.current + 1),
                  ArrowLeft: () => show(state.current - 1), b: () => blink(state.blink === null),
                  "+": () => zoom(2, canvas.width / 2, canvas.height / 2), "=": () => zoom(2, canvas.width / 2, canvas.height / 2),
                  "-": () => zoom(0.5, canvas.width / 2, canvas.height / 2), 0: () => { fit(); draw(); },
                  m: () => { if (marks) marks.click(); }};
    const digit = Number(e.key);
    if (keys[e.key]) keys[e.key]();
    else if (digit >= 1 && digit <= n) show(digit - 1);
    else return;
    e.preventDefault();
  });
  paint();
  fit();
  draw();
  root.dataset.readyMs = performance.now().toFixed(0);
};
