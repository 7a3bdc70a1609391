// The live style-mixing explorer (chapter 11): anywidget front end of genmodels.explorers.StyleMixing, appended to
// runtime.js. One ONNX graph maps z_A and z_B to their styles and synthesizes with B's style at the layers the
// crossover chooses; one run computes source A, the mix and source B (a batch of three, the same noise).

const STYLE_SCALE = 5;   // the three pictures, 140 x 140 each

function render({model, el}) {
  const zA = model.get("z_a"), zB = model.get("z_b"), crossovers = model.get("crossovers");
  const layers = model.get("num_layers"), noiseSize = model.get("noise_0").length;
  const [root, caption] = explorerBox("style", model.get("caption"), "10px 16px");

  const sourceButtons = (letter, count, choose) => {
    const group = element("div", {flexBasis: "100%", display: "flex", gap: "4px", alignItems: "center"},
                          {role: "group", "aria-label": `${letter === "A" ? "row" : "column"} source ${letter}`});
    group.append(`${letter === "A" ? "row" : "column"} source ${letter}: `);
    const buttons = Array.from({length: count}, (_, k) => {
      const b = element("button", {width: "2.6em", cursor: "pointer"}, {type: "button", "aria-pressed": "false"});
      b.textContent = `${letter}${k + 1}`;
      b.addEventListener("click", () => choose(k));
      group.append(b);
      return b;
    });
    return [group, buttons];
  };
  const [groupA, buttonsA] = sourceButtons("A", zA.length, (k) => update({a: k}));
  const [groupB, buttonsB] = sourceButtons("B", zB.length, (k) => update({b: k}));
  const sliderBox = element("label", {flexBasis: "100%", display: "flex", gap: "8px", alignItems: "center"});
  const slider = element("input", {width: "220px"}, {type: "range", min: "0", max: String(crossovers.length - 1),
                                                     step: "1", "aria-describedby": caption.id});
  const sliderText = element("span", {});
  const resample = element("button", {marginLeft: "12px", cursor: "pointer"}, {type: "button"});
  resample.textContent = "resample noise (R)";
  resample.addEventListener("click", () => update({noise: noise + 1}));
  sliderBox.append("layers from B: ", slider, sliderText);
  groupB.append(resample);
  const shown = ["source A", "mix", "source B"].map((what) => digitFigure(STYLE_SCALE, what));
  const status = element("p", {flexBasis: "100%", margin: "0"}, {"aria-live": "polite"});
  root.append(caption, groupA, groupB, sliderBox, ...shown.map(([box]) => box), status);
  el.append(root);

  let networks = null, a = model.get("a"), b = model.get("b"), crossover = model.get("crossover");
  let noise = model.get("noise"), pixels = null, runs = 0, busy = null;
  const contexts = shown.map(([, c]) => c.getContext("2d")), image = contexts[0].createImageData(28, 28);
  slider.value = String(crossover);

  const noiseOf = (n) => Float32Array.from(n ? normals(n, noiseSize) : model.get("noise_0"));
  const fromB = (first) => Array.from({length: layers}, (_, k) => (k >= first ? 1 : 0));

  // images (B x 784) for rows of z_A, z_B, layers-from-B masks and noises (each a flat array per row)
  async function mix(za, zb, masks, noises) {
    const {ort, sessions: [mixer]} = networks, rows = za.length, flat = (m) => Float32Array.from(m.flat());
    const feeds = {z_a: new ort.Tensor("float32", flat(za), [rows, za[0].length]),
                   z_b: new ort.Tensor("float32", flat(zb), [rows, zb[0].length]),
                   from_b: new ort.Tensor("float32", flat(masks), [rows, layers]),
                   noise: new ort.Tensor("float32", flat(noises), [rows, noiseSize])};
    for (const name of Object.keys(feeds)) if (!mixer.inputNames.includes(name)) delete feeds[name];  // no-noise G
    return (await mixer.run(feeds)).x.data;
  }

  const current = (n) => {  // A alone, the mix, B alone: one batch, the same noise
    const noises = noiseOf(n), masks = [fromB(layers), fromB(crossovers[crossover][1]), fromB(0)];
    return mix([zA[a], zA[a], zA[a]], [zB[b], zB[b], zB[b]], masks, [noises, noises, noises].map((v) => Array.from(v)));
  };

  function draw() {
    shown.forEach(([, canvas], k) => paintDigit(contexts[k], image, pixels, 784 * k));
    const mark = (buttons, chosen) => buttons.forEach((button, j) => {
      button.setAttribute("aria-pressed", String(j === chosen));
      button.style.fontWeight = j === chosen ? "bold" : "normal";
      button.style.background = j === chosen ? "#fdd" : "";
    });
    mark(buttonsA, a);
    mark(buttonsB, b);
    const name = crossovers[crossover][0], first = crossovers[crossover][1];
    slider.setAttribute("aria-valuetext", `from B: ${name}`);
    sliderText.textContent = name;
    const which = first >= layers ? "no layer" : first === 0 ? "every layer" : `layers ${first + 1}-${layers}`;
    shown[0][2].textContent = `source A${a + 1}`;
    shown[1][2].textContent = `mix: A${a + 1} + B${b + 1}`;
    shown[2][2].textContent = `source B${b + 1}`;
    shown[0][1].setAttribute("aria-label", `source A${a + 1}, generated alone`);
    shown[1][1].setAttribute("aria-label", `A${a + 1} with B${b + 1}'s style at ${which}`);
    shown[2][1].setAttribute("aria-label", `source B${b + 1}, generated alone`);
    status.textContent = `row source A${a + 1}, column source B${b + 1}; from B: ${name} (${which} of ${layers} ` +
      `take B's style, the others A's); noise #${noise}${noise ? "" : " (the chapter's fixed noise)"}.`;
  }

  async function update(change) {  // the latest request wins
    ({a = a, b = b, crossover = crossover, noise = noise} = change);
    const mine = ++runs;
    if (!networks) return;
    busy = (async () => {
      const result = await current(noise);
      if (mine !== runs) return;
      pixels = result;
      draw();
      model.set("a", a);
      model.set("b", b);
      model.set("crossover", crossover);
      model.set("noise", noise);
      model.save_changes();
    })();
    await busy;
  }

  slider.addEventListener("input", () => update({crossover: Number(slider.value)}));
  explorerKeys(root, slider, (key) => {
    if (key !== "r" && key !== "R") return false;
    update({noise: noise + 1});
    return true;
  });

  const ready = startExplorer(model, ["mixer"], status, "style-based generator", async (loaded) => {
    networks = loaded;
    await update({});
  });

  // for the browser test: mix given codes, read the pictures, time a run plus draw
  root.explorer = {
    ready,
    decoderFile: model.get("mixer_file"),
    mix: async (za, zb, masks, noises) => Array.from(await mix(za, zb, masks, noises)),
    picture: () => contexts.map((c) => Array.from(c.getImageData(0, 0, 28, 28).data).join(",")).join(";"),
    state: () => ({a, b, crossover, noise}),
    settled: async () => { while (busy) { const s = busy; await s; if (s === busy) break; } },
    timeDecodeDraw: (repeats) => timeCalls(repeats, async (i) => { pixels = await current(i % 2 ? noise : noise + 1); draw(); },
                                           () => update({})),
  };
  return () => root.remove();
}

export default {render};
