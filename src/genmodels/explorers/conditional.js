// The live conditional explorer (chapters 3 and 4): anywidget front end of genmodels.explorers.ConditionalPad,
// appended to runtime.js. Label buttons, a pad over two coordinates of z, the chosen label's digit large and the
// same z under all ten labels; one decode of ten digits per move. With trait `axes` (chapter 8's attribute-
// conditioned GAN) the pad's two coordinates are named inputs (the requested attributes) and z stays fixed.

const PAD = 200;          // the pad, CSS pixels
const BIG = 5, SMALL = 2; // the chosen digit shown 140 x 140, the row of ten 56 x 56

function render({model, el}) {
  const lim = model.get("lim"), dims = model.get("dims"), base0 = model.get("base"), kind = model.get("kind");
  const classes = 10, latentDim = base0.length, named = model.get("axes").length === 2;
  const axes = named ? model.get("axes") : dims.map((d) => `z_${d + 1}`);
  const [root, caption] = explorerBox("conditional", model.get("caption"));

  const [buttons, labelButtons] = labelRow(classes, (k) => chooseLabel(k));
  let resample = null;
  if (latentDim > 2 && model.get("resample")) {
    resample = element("button", {marginLeft: "12px", cursor: "pointer"}, {type: "button"});
    resample.textContent = "new noise (R)";
    resample.addEventListener("click", () => newNoise(noise + 1));
    buttons.append(resample);
  }

  const pad = element("canvas", {width: `${PAD}px`, height: `${PAD}px`, cursor: "crosshair", touchAction: "none",
                                 border: "1px solid #bbb", outlineOffset: "2px"},
                      {tabindex: "0", role: "slider", "aria-roledescription": `2-D ${kind} point`,
                       "aria-label": `${kind} coordinates ${axes[0]}, ${axes[1]} (arrow keys move it, ` +
                                     "number keys choose the label)", "aria-describedby": caption.id});
  const ratio = globalThis.devicePixelRatio || 1;
  pad.width = pad.height = Math.round(PAD * ratio);
  const big = element("canvas", {width: `${28 * BIG}px`, height: `${28 * BIG}px`, imageRendering: "pixelated",
                                 border: "1px solid #bbb"}, {role: "img"});
  big.width = big.height = 28;
  const status = element("p", {margin: "4px 0 0 0", maxWidth: "260px"}, {"aria-live": "polite"});
  const side = element("div", {});
  side.append(big, status);
  const row = element("div", {flexBasis: "100%", display: "flex", gap: "4px"},
                      {role: "img", "aria-label": `the same ${kind} under the ten labels 0-9`});
  const small = Array.from({length: classes}, (_, k) => {
    const c = element("canvas", {width: `${28 * SMALL}px`, height: `${28 * SMALL}px`, imageRendering: "pixelated",
                                 border: "2px solid transparent", cursor: "pointer"}, {title: `y = ${k}`});
    c.width = c.height = 28;
    c.addEventListener("click", () => chooseLabel(k));
    row.append(c);
    return c;
  });
  root.append(caption, buttons, pad, side, row);
  el.append(root);

  let networks = null, label = model.get("label"), noise = model.get("noise"), point = model.get("point").slice();
  let base = noise ? normals(noise, latentDim) : base0.slice(), pixels = null, pending = null, busy = false;
  const padContext = pad.getContext("2d"), bigContext = big.getContext("2d"), image = bigContext.createImageData(28, 28);
  const smallContexts = small.map((c) => c.getContext("2d"));
  const toPixel = (p) => [(p[0] + lim) / (2 * lim) * pad.width, (lim - p[1]) / (2 * lim) * pad.height];

  function zOf(p) {  // the full code: base with the pad's two coordinates
    const z = base.slice();
    z[dims[0]] = p[0];
    z[dims[1]] = p[1];
    return z;
  }

  async function decode(points, labels) {  // points [[z...], ...], labels [y, ...] -> Float32Array (M * 784)
    const {ort, sessions: [decoder]} = networks;
    const z = new ort.Tensor("float32", Float32Array.from(points.flat()), [points.length, latentDim]);
    const y = new ort.Tensor("float32", Float32Array.from(labels), [labels.length]);
    return (await decoder.run({z, y})).x.data;
  }

  function drawPad(p) {
    padContext.fillStyle = "#fff";
    padContext.fillRect(0, 0, pad.width, pad.height);
    padContext.strokeStyle = "#ddd";
    padContext.lineWidth = ratio;
    padContext.beginPath();
    for (let k = 1; k < 4; k++) {
      padContext.moveTo(k * pad.width / 4, 0); padContext.lineTo(k * pad.width / 4, pad.height);
      padContext.moveTo(0, k * pad.height / 4); padContext.lineTo(pad.width, k * pad.height / 4);
    }
    padContext.stroke();
    if (named) {  // the axes' names: across and up
      padContext.fillStyle = "#888";
      padContext.font = `${11 * ratio}px sans-serif`;
      padContext.textAlign = "right";
      padContext.fillText(`${axes[0]} \u2192`, pad.width - 4 * ratio, pad.height - 5 * ratio);
      padContext.textAlign = "left";
      padContext.fillText(`\u2191 ${axes[1]}`, 4 * ratio, 13 * ratio);
    }
    const [x, y] = toPixel(p);
    padContext.lineWidth = 2 * ratio;
    padContext.strokeStyle = "#000";
    padContext.beginPath(); padContext.arc(x, y, 7 * ratio, 0, 2 * Math.PI); padContext.stroke();
  }

  function draw(p) {  // the pad, the ten digits of the last decode, the chosen one large
    drawPad(p);
    small.forEach((c, k) => {
      paintDigit(smallContexts[k], image, pixels, 784 * k);
      c.style.borderColor = k === label ? "#d62728" : "transparent";
    });
    paintDigit(bigContext, image, pixels, 784 * label);
    labelButtons.forEach((b, k) => {
      b.setAttribute("aria-pressed", String(k === label));
      b.style.fontWeight = k === label ? "bold" : "normal";
      b.style.background = k === label ? "#fdd" : "";
    });
    const where = `${axes[0]} = ${p[0].toFixed(2)}, ${axes[1]} = ${p[1].toFixed(2)}`;
    pad.setAttribute("aria-valuetext", where);
    big.setAttribute("aria-label", `the digit drawn for label ${label} at ${where}`);
    status.textContent = `label y = ${label}; ${kind} ${where}` +
      (named ? " (standardized), z fixed" : latentDim > 2 ? ` (noise #${noise}: the other ${latentDim - 2} coordinates)` : "") +
      `. Below: the same ${kind} under every label 0-9.`;
  }

  async function show(p) {  // one decode (ten digits) plus draw
    pixels = await decode(Array.from({length: classes}, () => zOf(p)), Array.from({length: classes}, (_, k) => k));
    draw(p);
  }

  async function moveTo(p) {  // the latest point wins; decodes never pile up while dragging
    point = p.map((v) => Math.max(-lim, Math.min(lim, v)));
    pending = point;
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
    model.set("point", point.slice());
    model.set("label", label);
    model.set("noise", noise);
    model.save_changes();
  }

  function chooseLabel(k) {  // no decode needed: the row already holds every label
    label = k;
    if (pixels) draw(point);
    save();
  }

  function newNoise(n) {
    noise = n;
    base = normals(n, latentDim);
    moveTo(point).then(save);
  }

  function fromEvent(event) {
    const box = pad.getBoundingClientRect();
    return [((event.clientX - box.left) / box.width * 2 - 1) * lim, (1 - (event.clientY - box.top) / box.height * 2) * lim];
  }
  pad.addEventListener("pointerdown", (event) => {
    pad.setPointerCapture(event.pointerId);
    pad.focus();
    moveTo(fromEvent(event));
  });
  pad.addEventListener("pointermove", (event) => {
    if (pad.hasPointerCapture(event.pointerId)) moveTo(fromEvent(event));
  });
  pad.addEventListener("pointerup", save);
  root.addEventListener("keydown", (event) => {
    const step = (event.shiftKey ? 0.2 : 0.04) * lim;
    const moves = {ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, step], ArrowDown: [0, -step]};
    if (event.key in moves && event.target === pad) {
      moveTo([point[0] + moves[event.key][0], point[1] + moves[event.key][1]]);
    } else if (/^[0-9]$/.test(event.key) && !event.ctrlKey && !event.metaKey && !event.altKey) {
      chooseLabel(Number(event.key));
    } else if ((event.key === "r" || event.key === "R") && resample) {
      newNoise(noise + 1);
    } else {
      return;
    }
    event.preventDefault();
    event.stopPropagation();  // not the page's scrolling, nor reveal.js's slides
  });
  pad.addEventListener("keyup", save);

  const ready = startExplorer(model, ["decoder"], status, "network", async (loaded) => {
    networks = loaded;
    await show(point);
  });

  // for the browser test: decode fixed points, move, and time one decode plus draw
  root.explorer = {
    ready,
    decoderFile: model.get("decoder_file"),
    lim,
    axes: () => axes.slice(),
    decode: async (points, labels) => Array.from(await decode(points, labels)),
    picture: () => Array.from(bigContext.getImageData(0, 0, 28, 28).data).join(","),
    row: () => smallContexts.map((c) => Array.from(c.getImageData(0, 0, 28, 28).data).join(",")),
    point: () => point.slice(),
    label: () => label,
    noise: () => noise,
    settled: async () => { while (busy) await new Promise((r) => setTimeout(r, 5)); },
    timeDecodeDraw: (repeats) => timeCalls(repeats, (i) => show([Math.cos(i) * lim * 0.8, Math.sin(1.7 * i) * lim * 0.8]),
                                           () => show(point)),
  };
  return () => root.remove();
}

export default {render};
