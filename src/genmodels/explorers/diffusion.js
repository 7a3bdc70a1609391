// The live diffusion explorer (chapter 12): anywidget front end of genmodels.explorers.DiffusionSteps, appended
// to runtime.js. One ONNX graph is one guided DDIM step; the page runs all the steps from x_T whenever the label
// or the noise changes, and the slider shows x_t and the guess of x_0 at any step.

const BIG_SCALE = 5;   // x_t and the guess, shown 140 x 140

function render({model, el}) {
  const times = model.get("times"), classes = 10, last = times.length - 1;
  const [root, caption] = explorerBox("diffusion", model.get("caption"));

  const [buttons, labelButtons] = labelRow(classes, (k) => restart(k, noise));
  const resample = element("button", {marginLeft: "12px", cursor: "pointer"}, {type: "button"});
  resample.textContent = "new noise (R)";
  resample.addEventListener("click", () => restart(label, noise + 1));
  buttons.append(resample);

  const sliderBox = element("label", {flexBasis: "100%", display: "flex", gap: "8px", alignItems: "center"});
  const slider = element("input", {width: "280px"},
                         {type: "range", min: "0", max: String(last), step: "1", "aria-describedby": caption.id});
  const sliderText = element("span", {});
  sliderBox.append("step: ", slider, sliderText);
  const [xBox, xCanvas, xTitle] = digitFigure(BIG_SCALE, "x_t"),
        [guessBox, guessCanvas] = digitFigure(BIG_SCALE, "guess of x_0");
  const status = element("p", {margin: "4px 0 0 0", maxWidth: "260px"}, {"aria-live": "polite"});
  root.append(caption, buttons, sliderBox, xBox, guessBox, status);
  el.append(root);

  let networks = null, label = model.get("label"), noise = model.get("noise"), step = model.get("step");
  let path = null, guesses = null, runs = 0, busy = null;   // path[k], guesses[k]: Float32Array (784), [-1, 1]
  const xContext = xCanvas.getContext("2d"), guessContext = guessCanvas.getContext("2d");
  const image = xContext.createImageData(28, 28);
  slider.value = String(step);

  const xT = (n) => (n ? Float32Array.from(normals(n, 784)) : Float32Array.from(model.get("x_T")));
  const toPixels = (x) => x.map((v) => Math.min(1, Math.max(0, (v + 1) / 2)));   // [-1, 1] -> ink in [0, 1]

  async function run(x0, y) {  // every DDIM step from x0 (784) with label y: {path, guesses}
    const {ort, sessions: [stepper]} = networks;
    const out = {path: [x0], guesses: []};
    let x = x0;
    for (let k = 0; k < last; k++) {
      const result = await stepper.run({
        x: new ort.Tensor("float32", x, [1, 784]), t: new ort.Tensor("float32", Float32Array.of(times[k]), [1]),
        s: new ort.Tensor("float32", Float32Array.of(times[k + 1]), [1]), y: new ort.Tensor("float32", Float32Array.of(y), [1])});
      x = result.x_next.data;
      out.path.push(x);
      out.guesses.push(result.x0.data);
    }
    return out;
  }

  function draw() {
    const k = step, t = times[k];
    paintDigit(xContext, image, toPixels(path[k]));
    // the guess at x_t: the step from t's output; at the end (t = 0) the digit itself
    paintDigit(guessContext, image, toPixels(k < last ? guesses[k] : path[last]));
    xTitle.textContent = `x_${t}`;
    labelButtons.forEach((b, j) => {
      b.setAttribute("aria-pressed", String(j === label));
      b.style.fontWeight = j === label ? "bold" : "normal";
      b.style.background = j === label ? "#fdd" : "";
    });
    const where = `step ${k} of ${last}, t = ${t}`;
    slider.setAttribute("aria-valuetext", where);
    sliderText.textContent = `t = ${t}`;
    xCanvas.setAttribute("aria-label", `the noisy digit x_${t}`);
    guessCanvas.setAttribute("aria-label", `the network's guess of the clean digit at t = ${t}`);
    status.textContent = `label y = ${label}, noise #${noise}; ${where}` +
      (k === 0 ? ": pure noise." : k === last ? ": the finished digit." : ".") +
      " Left: x_t; right: the network's guess of x_0 from it.";
  }

  async function restart(y, n) {  // a new process (label or noise); the latest request wins
    label = y;
    noise = n;
    const mine = ++runs;
    if (!networks) return;
    busy = (async () => {
      const result = await run(xT(n), y);
      if (mine !== runs) return;
      ({path, guesses} = result);
      draw();
      save();
    })();
    await busy;
  }

  function save() {
    model.set("label", label);
    model.set("noise", noise);
    model.set("step", step);
    model.save_changes();
  }

  slider.addEventListener("input", () => {
    step = Number(slider.value);
    if (path) draw();
  });
  slider.addEventListener("change", save);
  explorerKeys(root, slider, (key) => {
    if (/^[0-9]$/.test(key)) restart(Number(key), noise);
    else if (key === "r" || key === "R") restart(label, noise + 1);
    else return false;
    return true;
  });

  const ready = startExplorer(model, ["step"], status, "denoiser", async (loaded) => {
    networks = loaded;
    await restart(label, noise);
  });

  // for the browser test: run the process from a given x_T, read the pictures, time a whole process
  root.explorer = {
    ready,
    decoderFile: model.get("step_file"),
    run: async (x0, y) => {
      const out = await run(Float32Array.from(x0), y);
      return {path: out.path.map((x) => Array.from(x)), guesses: out.guesses.map((x) => Array.from(x))};
    },
    picture: () => Array.from(xContext.getImageData(0, 0, 28, 28).data).join(","),
    guess: () => Array.from(guessContext.getImageData(0, 0, 28, 28).data).join(","),
    step: () => step,
    label: () => label,
    noise: () => noise,
    settled: async () => { while (busy) { const b = busy; await b; if (b === busy) break; } },
    timeProcess: (repeats) => timeCalls(repeats, (i) => run(xT(i + 1), i % classes)),
  };
  return () => root.remove();
}

export default {render};
