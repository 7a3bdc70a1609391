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
