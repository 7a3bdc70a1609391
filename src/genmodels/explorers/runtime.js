// Shared by the live explorers whose front end is this file followed by their own (genmodels.explorers): how
// the networks and onnxruntime-web are found. In the static book and decks they come from the vendor folder
// that widgets-offline.js announces; in Jupyter from the kernel, as binary buffers. No kernel, no network.

function bytesOf(view) {  // a kernel buffer (DataView or ArrayBuffer) as Uint8Array
  return view instanceof ArrayBuffer ? new Uint8Array(view) : new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

function blobUrl(view, type) {
  return URL.createObjectURL(new Blob([bytesOf(view)], {type}));
}

function loadRuntime(moduleUrl, wasm) {  // onnxruntime-web, once per page; `wasm` is its WebAssembly's URL
  if (!globalThis.__genmodels_ort__) {
    globalThis.__genmodels_ort__ = import(/* webpackIgnore: true */ moduleUrl).then((ort) => {
      ort.env.wasm.numThreads = 1;   // no SharedArrayBuffer needed: works on any static host
      ort.env.wasm.proxy = false;
      ort.env.wasm.wasmPaths = {wasm};
      return ort;
    });
  }
  return globalThis.__genmodels_ort__;
}

function askKernel(model) {  // Jupyter: [networks..., ort module, ort wasm] as binary buffers
  return new Promise((resolve) => {
    const answer = (message, buffers) => {
      if (message && message.kind === "assets") {
        model.off("msg:custom", answer);
        resolve(buffers);
      }
    };
    model.on("msg:custom", answer);
    model.send({kind: "assets"});
  });
}

// {ort, session(name)}: the network in trait `<name>_file` (book, deck) or from the kernel (Jupyter), its
// session made when first asked for (an encoder that is never used is never fetched).
async function openSessions(model, names) {
  const vendor = globalThis.__genmodels_vendor__;
  const options = {executionProviders: ["wasm"], graphOptimizationLevel: "all"};
  const made = {};
  let ort, make;
  if (vendor && model.get(names[0] + "_file")) {
    const dist = vendor + "onnxruntime-web/dist/";
    ort = await loadRuntime(dist + "ort.wasm.bundle.min.mjs", dist + "ort-wasm-simd-threaded.wasm");
    make = async (name) => {
      const file = model.get(name + "_file"), response = await fetch(new URL("../explorers/" + file, vendor));
      if (!response.ok) throw new Error(`explorer model ${file}: HTTP ${response.status}`);
      return ort.InferenceSession.create(new Uint8Array(await response.arrayBuffer()), options);
    };
  } else {
    const buffers = await askKernel(model);
    const [ortModule, wasm] = buffers.slice(names.length);
    ort = await loadRuntime(blobUrl(ortModule, "text/javascript"), blobUrl(wasm, "application/wasm"));
    make = (name) => ort.InferenceSession.create(bytesOf(buffers[names.indexOf(name)]), options);
  }
  return {ort, session: (name) => (made[name] = made[name] || make(name))};
}

// {ort, sessions: [one per name]}, all made at once.
async function loadSessions(model, names) {
  const {ort, session} = await openSessions(model, names);
  return {ort, sessions: await Promise.all(names.map(session))};
}

// The explorer's networks (loadSessions), then `start(networks)`; a failure is said in `status` and logged.
function startExplorer(model, names, status, what, start) {
  status.textContent = `loading the ${what}...`;
  return loadSessions(model, names).then(start).catch((error) => {
    status.textContent = `the live explorer could not start: ${error}`;
    console.error(`live explorer (${what}):`, error);
    throw error;
  });
}

// Keys on the explorer: `act(key)` returns true when it used the key. A focused slider keeps its own keys
// (arrows, Page Up/Down, Home, End); no key the explorer uses reaches the page's scrolling or reveal.js's slides.
function explorerKeys(root, slider, act) {
  root.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target === slider && /^(Arrow|Page|Home$|End$)/.test(event.key)) {
      event.stopPropagation();
      return;
    }
    if (!act(event.key)) return;
    event.preventDefault();
    event.stopPropagation();
  });
}

// The explorer's box (class genmodels-explorer, data-explorer `name`) and its text alternative (with an id for
// aria-describedby): [root, caption].
function explorerBox(name, text, gap = "12px 16px") {
  const root = element("div", {display: "flex", flexWrap: "wrap", gap, alignItems: "flex-start",
                               fontFamily: "sans-serif", fontSize: "14px", color: "#222"});
  root.className = "genmodels-explorer";
  root.dataset.explorer = name;
  const caption = element("p", {flexBasis: "100%", margin: "0"});
  caption.id = `${name}-caption-${Math.random().toString(36).slice(2)}`;
  caption.textContent = text;
  return [root, caption];
}

// A 28 x 28 digit canvas shown `scale` times larger, with a title below: [figure, canvas, title].
function digitFigure(scale, what) {
  const box = element("figure", {margin: "0"});
  const canvas = element("canvas", {width: `${28 * scale}px`, height: `${28 * scale}px`, imageRendering: "pixelated",
                                    border: "1px solid #bbb"}, {role: "img"});
  canvas.width = canvas.height = 28;
  const title = element("figcaption", {textAlign: "center"});
  title.textContent = what;
  box.append(canvas, title);
  return [box, canvas, title];
}

function labelRow(classes, onPick) {  // "label y:" and buttons 0..classes-1 (aria-pressed); onPick(k) on a click
  const row = element("div", {flexBasis: "100%", display: "flex", gap: "4px", alignItems: "center"},
                      {role: "group", "aria-label": "label y (number keys 0-9)"});
  row.append("label y: ");
  const buttons = Array.from({length: classes}, (_, k) => {
    const b = element("button", {width: "2.2em", cursor: "pointer"}, {type: "button", "aria-pressed": "false"});
    b.textContent = String(k);
    b.addEventListener("click", () => onPick(k));
    row.append(b);
    return b;
  });
  return [row, buttons];
}

function element(tag, style, attributes = {}) {
  const node = document.createElement(tag);
  Object.assign(node.style, style);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  return node;
}

function paintDigit(context, image, pixels, offset = 0) {  // pixel means -> dark ink on white, like plot_digits
  for (let i = 0; i < 784; i++) {
    const grey = Math.round((1 - pixels[offset + i]) * 255);
    image.data[4 * i] = image.data[4 * i + 1] = image.data[4 * i + 2] = grey;
    image.data[4 * i + 3] = 255;
  }
  context.putImageData(image, 0, 0);
}

function normals(seed, count) {  // "noise #seed": a seeded N(0, 1) draw (mulberry32 + Box-Muller), the same everywhere
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  return Array.from({length: count}, () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()));
}

async function timeCalls(repeats, call, restore = async () => {}) {  // for the browser test: ms of each awaited call(i)
  const times = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    await call(i);
    times.push(performance.now() - start);
  }
  await restore();
  return times;
}
