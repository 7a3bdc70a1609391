// The live 2-D latent plane (chapter 3): anywidget front end of genmodels.explorers.LatentPlane, appended to
// runtime.js (how the networks and onnxruntime-web are found: the kernel in Jupyter, the vendor folder in the
// static book and decks; no kernel, no network).

const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf"];  // matplotlib's tab10, as plot_latent_scatter colours the digits
const SIZE = 300;        // the plane, CSS pixels
const DIGIT_SCALE = 5;   // the 28 x 28 digits (decoded, drawn by hand), shown 140 x 140
const BRUSH = 1.0;       // the pen: a Gaussian of this width (pixels) and gain 1.5, about MNIST's 3-pixel strokes
const FRAME_SCALE = 2;   // path mode: the digits along the line, shown 56 x 56
const SNAP = 8;          // path mode: a click this close (CSS pixels) to a test code takes that digit's code

function linePoints(a, b, count) {  // `count` points from a to b, evenly spaced (genmodels.explorers.path_points)
  return Array.from({length: count}, (_, k) => {
    const t = k / (count - 1);
    return [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])];
  });
}

// The drawing pad: 28 x 28 ink in [0, 1] (MNIST's convention: 1 = stroke), by mouse, finger or keyboard.
function makePad(onInk) {
  const box = element("div", {});
  const title = element("p", {margin: "0 0 4px 0"});
  title.textContent = "draw a digit:";
  const pad = element("canvas", {width: `${28 * DIGIT_SCALE}px`, height: `${28 * DIGIT_SCALE}px`,
                                 imageRendering: "pixelated", border: "1px solid #bbb", cursor: "crosshair",
                                 touchAction: "none", display: "block", outlineOffset: "2px"},
                      {tabindex: "0", role: "application", "aria-roledescription": "drawing pad",
                       "aria-label": "draw a digit: drag with the mouse or finger; or arrow keys move the pen, " +
                                     "space lifts or lowers it, Delete clears"});
  pad.width = pad.height = 28;
  const clear = element("button", {marginTop: "4px"}, {type: "button"});
  clear.textContent = "clear";
  box.append(title, pad, clear);
  const ink = new Float32Array(784), context = pad.getContext("2d"), image = context.createImageData(28, 28);
  let last = null, pen = [14, 8], penDown = false;

  function stamp(x, y) {  // x, y in pixel units (0-28)
    for (let r = Math.max(0, Math.floor(y - 3)); r < Math.min(28, Math.ceil(y + 3)); r++) {
      for (let c = Math.max(0, Math.floor(x - 3)); c < Math.min(28, Math.ceil(x + 3)); c++) {
        const d2 = (c + 0.5 - x) ** 2 + (r + 0.5 - y) ** 2;
        ink[28 * r + c] = Math.max(ink[28 * r + c], Math.min(1, 1.5 * Math.exp(-d2 / (2 * BRUSH * BRUSH))));
      }
    }
  }
  function strokeTo(point) {
    const from = last || point, steps = Math.max(1, Math.ceil(Math.hypot(point[0] - from[0], point[1] - from[1]) / 0.25));
    for (let i = 1; i <= steps; i++) stamp(from[0] + (point[0] - from[0]) * i / steps, from[1] + (point[1] - from[1]) * i / steps);
    last = point;
    show();
    onInk(ink);
  }
  function show() {
    paintDigit(context, image, ink);
    if (document.activeElement === pad) {  // the keyboard pen
      context.strokeStyle = penDown ? "#d62728" : "#1f77b4";
      context.lineWidth = 0.3;
      context.strokeRect(Math.floor(pen[0]) + 0.15, Math.floor(pen[1]) + 0.15, 0.7, 0.7);
    }
  }
  const fromEvent = (event) => {
    const r = pad.getBoundingClientRect();
    return [(event.clientX - r.left) / r.width * 28, (event.clientY - r.top) / r.height * 28];
  };
  pad.addEventListener("pointerdown", (event) => {
    pad.setPointerCapture(event.pointerId);
    last = null;
    strokeTo(fromEvent(event));
  });
  pad.addEventListener("pointermove", (event) => {
    if (pad.hasPointerCapture(event.pointerId)) strokeTo(fromEvent(event));
  });
  pad.addEventListener("keydown", (event) => {
    const moves = {ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1]};
    if (event.key in moves) {
      pen = [Math.min(27.5, Math.max(0.5, pen[0] + moves[event.key][0])), Math.min(27.5, Math.max(0.5, pen[1] + moves[event.key][1]))];
      if (penDown) strokeTo(pen); else show();
    } else if (event.key === " ") {
      penDown = !penDown;
      last = null;
      if (penDown) strokeTo(pen); else show();
    } else if (event.key === "Delete" || event.key === "Backspace") {
      clear.click();
    } else {
      return;
    }
    event.preventDefault();
    event.stopPropagation();  // not the page's scrolling, nor reveal.js's next slide
  });
  pad.addEventListener("focus", show);
  pad.addEventListener("blur", show);
  clear.addEventListener("click", () => {
    ink.fill(0);
    last = null;
    show();
    onInk(null);
  });
  show();
  return {box, ink};
}

function render({model, el}) {
  const lim = model.get("lim"), codes = model.get("codes"), labels = model.get("labels");
  const [root, caption] = explorerBox("latent-plane", model.get("caption"), "16px");
  const plane = element("canvas", {width: `${SIZE}px`, height: `${SIZE}px`, cursor: "crosshair",
                                   touchAction: "none", border: "1px solid #bbb", outlineOffset: "2px"},
                        {tabindex: "0", role: "slider", "aria-roledescription": "2-D latent point",
                         "aria-label": "point z in the latent plane (arrow keys move it)",
                         "aria-describedby": caption.id});
  const ratio = globalThis.devicePixelRatio || 1;
  plane.width = plane.height = Math.round(SIZE * ratio);
  const digit = element("canvas", {width: `${28 * DIGIT_SCALE}px`, height: `${28 * DIGIT_SCALE}px`,
                                   imageRendering: "pixelated", border: "1px solid #bbb"}, {role: "img"});
  digit.width = digit.height = 28;
  const status = element("p", {margin: "4px 0 0 0", maxWidth: "220px"}, {"aria-live": "polite"});
  const legend = element("p", {margin: "4px 0 0 0"});
  legend.innerHTML = COLOURS.map((c, k) => `<span style="color:${c}">&#9679;</span>${k}`).join(" ");
  // path mode: a toggle, the end the plane moves (A or B), and the digits decoded along the line A -> B
  const frameCount = model.get("frames");
  const pathBox = element("div", {margin: "6px 0 0 0", display: "flex", gap: "4px", flexWrap: "wrap", maxWidth: "240px"},
                          {role: "group", "aria-label": "path mode (P key on the plane)"});
  const button = (text) => {
    const b = element("button", {cursor: "pointer"}, {type: "button", "aria-pressed": "false"});
    b.textContent = text;
    return b;
  };
  const pathToggle = button("path mode (P)"), endButtons = [button("end A"), button("end B")];
  endButtons.forEach((b, k) => b.setAttribute("aria-label", `the plane moves end ${"AB"[k]} of the path (key ${"AB"[k]})`));
  pathBox.append(pathToggle, ...endButtons);
  const side = element("div", {});
  side.append(digit, status, legend, pathBox);
  const drawn = makePad((ink) => encodeLater(ink));
  const row = element("div", {flexBasis: "100%", display: "none", gap: "4px", alignItems: "center"},
                      {role: "img"});
  const frameCanvases = Array.from({length: frameCount}, () => {
    const c = element("canvas", {width: `${28 * FRAME_SCALE}px`, height: `${28 * FRAME_SCALE}px`,
                                 imageRendering: "pixelated", border: "1px solid #bbb"});
    c.width = c.height = 28;
    return c;
  });
  const endLabel = (text) => { const b = element("b", {}); b.textContent = text; return b; };
  row.append(endLabel("A"), ...frameCanvases, endLabel("B"));
  root.append(caption, plane, side, row, drawn.box);  // the path's row right under the plane
  el.append(root);

  // the scatter, drawn once; each move redraws it from this copy plus the point
  const scatter = element("canvas", {});
  scatter.width = scatter.height = plane.width;
  const toPixel = (z) => [(z[0] + lim) / (2 * lim) * plane.width, (lim - z[1]) / (2 * lim) * plane.height];
  const g = scatter.getContext("2d");
  g.fillStyle = "#fff";
  g.fillRect(0, 0, scatter.width, scatter.height);
  g.strokeStyle = "#ddd";
  g.beginPath();
  g.moveTo(scatter.width / 2, 0); g.lineTo(scatter.width / 2, scatter.height);
  g.moveTo(0, scatter.height / 2); g.lineTo(scatter.width, scatter.height / 2);
  g.stroke();
  g.globalAlpha = 0.7;
  codes.forEach((code, i) => {
    const [x, y] = toPixel(code);
    g.fillStyle = COLOURS[labels[i] % 10];
    g.beginPath(); g.arc(x, y, 2.2 * ratio, 0, 2 * Math.PI); g.fill();
  });

  let networks = null, z = model.get("z").slice(), pending = null, busy = false;
  let pathMode = model.get("path_mode"), ends = model.get("path").map((e) => e.slice()), active = 0;
  let endDigits = ends.map((e) => {  // the test digit whose code an end is on (the build starts on two), or null
    const i = codes.findIndex((c) => c[0] === e[0] && c[1] === e[1]);
    return i < 0 ? null : i;
  }), pathPixels = null;
  const frameContexts = frameCanvases.map((c) => c.getContext("2d"));
  const pathMarks = ["A", "B"];
  let encoding = null, inkPending = undefined, encoding_busy = false;  // the drawn digit's {mu, sigma}
  const planeContext = plane.getContext("2d"), digitContext = digit.getContext("2d");
  const picture = digitContext.createImageData(28, 28);

  async function decode(points) {  // points [[z_1, z_2], ...] -> Float32Array (M * 784) of pixel means
    const {ort, decoder} = networks;
    const input = new ort.Tensor("float32", Float32Array.from(points.flat()), [points.length, 2]);
    return (await decoder.run({z: input})).x.data;
  }

  async function encode(digits) {  // digits [[784 pixels], ...] -> {mu, logvar}, each [[z_1, z_2], ...]
    const {ort} = networks, encoder = await networks.encoder();
    const input = new ort.Tensor("float32", Float32Array.from(digits.flat()), [digits.length, 784]);
    const out = await encoder.run({x: input}), pairs = (a) => Array.from({length: digits.length}, (_, i) => [a[2 * i], a[2 * i + 1]]);
    return {mu: pairs(out.mu.data), logvar: pairs(out.logvar.data)};
  }

  async function encodeLater(ink) {  // the latest ink wins, as for the point
    inkPending = ink ? Array.from(ink) : null;
    if (encoding_busy || !networks) return;
    encoding_busy = true;
    while (inkPending !== undefined) {
      const next = inkPending;
      inkPending = undefined;
      if (next === null) {
        encoding = null;
        await moveTo(z);
        continue;
      }
      const {mu, logvar} = await encode([next]);
      encoding = {mu: mu[0], sigma: logvar[0].map((v) => Math.exp(0.5 * v))};
      await moveTo(encoding.mu);  // the reconstruction: the decoder at the drawn digit's mean
    }
    encoding_busy = false;
  }

  function nearestLabel(point) {
    let best = 0, distance = Infinity;
    codes.forEach((code, i) => {
      const d = (code[0] - point[0]) ** 2 + (code[1] - point[1]) ** 2;
      if (d < distance) { distance = d; best = i; }
    });
    return labels[best];
  }

  function draw(point, pixels) {
    paintDigit(digitContext, picture, pixels);
    planeContext.drawImage(scatter, 0, 0);
    if (pathMode) drawPath();
    const [x, y] = toPixel(point);
    planeContext.lineWidth = 2 * ratio;
    planeContext.strokeStyle = "#000";
    planeContext.beginPath(); planeContext.arc(x, y, 7 * ratio, 0, 2 * Math.PI); planeContext.stroke();
    if (encoding) {  // the drawn digit: q(z|x) as the ellipse mu +- sigma (dashed) and 2 sigma (dotted)
      const [mx, my] = toPixel(encoding.mu), sx = encoding.sigma[0] / (2 * lim) * plane.width,
            sy = encoding.sigma[1] / (2 * lim) * plane.height;
      planeContext.strokeStyle = "#d62728";
      for (const [k, dash] of [[1, [6, 4]], [2, [2, 4]]]) {
        planeContext.setLineDash(dash.map((d) => d * ratio));
        planeContext.beginPath(); planeContext.ellipse(mx, my, k * sx, k * sy, 0, 0, 2 * Math.PI); planeContext.stroke();
      }
      planeContext.setLineDash([]);
    }
    const where = `z = (${point[0].toFixed(2)}, ${point[1].toFixed(2)})`;
    plane.setAttribute("aria-valuetext", (pathMode ? `end ${pathMarks[active]}: ` : "") + where);
    digit.setAttribute("aria-label", `the digit decoded at ${where}`);
    status.textContent = (pathMode ? pathText() + ` Shown large: end ${pathMarks[active]}, ` : "") +
      `${where}: the decoded digit. The nearest test code is a ${nearestLabel(point)}.` +
      (encoding ? ` Your drawing is encoded at mu = (${encoding.mu.map((v) => v.toFixed(2)).join(", ")}), ` +
                  `sigma = (${encoding.sigma.map((v) => v.toFixed(2)).join(", ")}) (red ellipses: 1 and 2 sigma); ` +
                  "the digit shown is its reconstruction." : "");
  }

  function drawPath() {  // the line A -> B on the plane, a dot at each decoded frame, the ends lettered
    const [a, b] = ends.map(toPixel);
    planeContext.strokeStyle = "#000";
    planeContext.lineWidth = 1.5 * ratio;
    planeContext.setLineDash([4 * ratio, 3 * ratio]);
    planeContext.beginPath(); planeContext.moveTo(...a); planeContext.lineTo(...b); planeContext.stroke();
    planeContext.setLineDash([]);
    planeContext.fillStyle = "#000";
    for (const p of linePoints(ends[0], ends[1], frameCount).map(toPixel)) {
      planeContext.beginPath(); planeContext.arc(p[0], p[1], 2.5 * ratio, 0, 2 * Math.PI); planeContext.fill();
    }
    planeContext.font = `bold ${13 * ratio}px sans-serif`;
    [a, b].forEach((p, k) => planeContext.fillText(pathMarks[k], p[0] + 9 * ratio, p[1] - 7 * ratio));
  }

  function describeEnd(k) {
    const e = ends[k], at = `(${e[0].toFixed(2)}, ${e[1].toFixed(2)})`;
    return endDigits[k] !== null ? `${pathMarks[k]} = ${at}, the code of a test ${labels[endDigits[k]]}`
                                 : `${pathMarks[k]} = ${at} (nearest test code: a ${nearestLabel(e)})`;
  }

  function pathText() {
    return `Path mode: ${frameCount} digits decoded along the straight line from ${describeEnd(0)} to ` +
           `${describeEnd(1)}, shown in a row below from A to B.`;
  }

  function drawFrames() {
    frameContexts.forEach((c, k) => paintDigit(c, picture, pathPixels, 784 * k));
    paintDigit(digitContext, picture, pathPixels, active ? 784 * (frameCount - 1) : 0);
    row.setAttribute("aria-label", `the ${frameCount} digits decoded along the line from end A to end B`);
  }

  async function show(point) {  // one decode plus draw (path mode: the whole line, one batch)
    if (!pathMode) {
      draw(point, await decode([point]));
      return;
    }
    ends[active] = point.slice();
    pathPixels = await decode(linePoints(ends[0], ends[1], frameCount));
    const end = active ? (frameCount - 1) * 784 : 0;
    draw(point, pathPixels.subarray(end, end + 784));
    drawFrames();
  }

  function showPathControls() {
    pathToggle.setAttribute("aria-pressed", String(pathMode));
    pathToggle.style.fontWeight = pathMode ? "bold" : "normal";
    endButtons.forEach((b, k) => {
      b.disabled = !pathMode;
      b.setAttribute("aria-pressed", String(pathMode && k === active));
      b.style.fontWeight = pathMode && k === active ? "bold" : "normal";
    });
    row.style.display = pathMode ? "flex" : "none";
    plane.setAttribute("aria-label", pathMode
      ? `path mode: end ${pathMarks[active]} of the line (arrow keys move it; A and B choose the end, N takes ` +
        "the nearest test digit's code, P leaves path mode)"
      : "point z in the latent plane (arrow keys move it, P for path mode)");
  }

  function chooseEnd(k) {  // the plane (pointer, arrow keys) now moves end k
    active = k;
    showPathControls();
    moveTo(ends[k]).then(save);
  }

  function setPathMode(on) {
    pathMode = on;
    if (on && ends.length !== 2) ends = [z.slice(), z.map((v) => -v)];
    showPathControls();
    moveTo(on ? ends[active] : z).then(save);
  }

  function snap(k, radius) {  // end k onto the nearest test digit's code, if one is within `radius` plane pixels
    let best = -1, distance = Infinity;
    const p = toPixel(ends[k]);
    codes.forEach((code, i) => {
      if (Math.abs(code[0]) > lim || Math.abs(code[1]) > lim) return;  // off the plane
      const q = toPixel(code), d = Math.hypot(q[0] - p[0], q[1] - p[1]);
      if (d < distance) { distance = d; best = i; }
    });
    if (best < 0 || distance > radius) return false;
    ends[k] = codes[best].slice();
    endDigits[k] = best;
    return true;
  }

  pathToggle.addEventListener("click", () => setPathMode(!pathMode));
  endButtons.forEach((b, k) => b.addEventListener("click", () => chooseEnd(k)));

  async function moveTo(point) {  // the latest point wins; decodes never pile up while dragging
    z = point.map((v) => Math.max(-lim, Math.min(lim, v)));
    pending = z;
    if (busy || !networks) return;
    busy = true;
    while (pending) {
      const next = pending;
      pending = null;
      await show(next);
    }
    busy = false;
  }

  function save() {
    model.set("path_mode", pathMode);
    if (ends.length === 2) model.set("path", ends.map((e) => e.slice()));
    model.set("z", z.slice());
    model.save_changes();
  }

  function fromEvent(event) {
    const box = plane.getBoundingClientRect();
    return [((event.clientX - box.left) / box.width * 2 - 1) * lim, (1 - (event.clientY - box.top) / box.height * 2) * lim];
  }

  function moveEnd(point) {  // path mode: the active end leaves the test digit it was snapped to
    if (pathMode) endDigits[active] = null;
    return moveTo(point);
  }

  plane.addEventListener("pointerdown", (event) => {
    plane.setPointerCapture(event.pointerId);
    plane.focus();
    moveEnd(fromEvent(event));
  });
  plane.addEventListener("pointermove", (event) => {
    if (plane.hasPointerCapture(event.pointerId)) moveEnd(fromEvent(event));
  });
  plane.addEventListener("pointerup", async () => {
    if (pathMode) {  // a click on a test digit takes its code; the next click places the other end
      await settled();
      ends[active] = z.slice();
      if (snap(active, SNAP * ratio)) await moveTo(ends[active]);
      await settled();
      chooseEnd(1 - active);
    }
    save();
  });
  plane.addEventListener("keydown", (event) => {
    const step = (event.shiftKey ? 0.2 : 0.04) * lim, key = event.key.toLowerCase();
    const moves = {ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, step], ArrowDown: [0, -step]};
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key in moves) {
      moveEnd([z[0] + moves[event.key][0], z[1] + moves[event.key][1]]);
    } else if (key === "p") {
      setPathMode(!pathMode);
    } else if (pathMode && (key === "a" || key === "b")) {
      chooseEnd(key === "a" ? 0 : 1);
    } else if (pathMode && key === "n") {
      snap(active, Infinity);
      moveTo(ends[active]).then(save);
    } else {
      return;
    }
    event.preventDefault();
    event.stopPropagation();  // not the page's scrolling, nor reveal.js's keys (next slide, P, B, N)
  });
  plane.addEventListener("keyup", save);

  status.textContent = "loading the decoder...";
  showPathControls();
  const ready = openSessions(model, ["decoder", "encoder"]).then(async ({ort, session}) => {
    networks = {ort, decoder: await session("decoder"), encoder: () => session("encoder")};
    if (pathMode && ends.length === 2) z = ends[active].slice();
    await show(z);
  }).catch((error) => {
    status.textContent = `the live explorer could not start: ${error}`;
    console.error("latent plane explorer:", error);
    throw error;
  });

  async function settled() {
    while (busy || encoding_busy) await new Promise((r) => setTimeout(r, 5));
  }

  // for the browser test: decode fixed points, move, and time one decode plus draw
  root.explorer = {
    ready,
    decoderFile: model.get("decoder_file"),
    lim,
    decode: async (points) => Array.from(await decode(points)),
    encode,
    encoding: () => encoding && {mu: encoding.mu.slice(), sigma: encoding.sigma.slice()},
    ink: () => Array.from(drawn.ink),
    picture: () => Array.from(digitContext.getImageData(0, 0, 28, 28).data).join(","),
    point: () => z.slice(),
    settled,
    pathMode: () => pathMode,
    path: () => ends.map((e) => e.slice()),
    endDigits: () => endDigits.slice(),
    frames: () => (pathMode && pathPixels ? Array.from(pathPixels) : null),
    framePictures: () => frameContexts.map((c) => Array.from(c.getImageData(0, 0, 28, 28).data).join(",")),
    timeDecodeDraw: (repeats) => timeCalls(repeats, (i) => show([Math.cos(i) * lim * 0.8, Math.sin(1.7 * i) * lim * 0.8]),
                                           () => show(z)),
  };
  return () => root.remove();
}

export default {render};
