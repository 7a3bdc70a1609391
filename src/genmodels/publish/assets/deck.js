// The decks' behaviour, shipped as package data of genmodels.publish and copied next to every deck.
// Starts reveal.js (loaded through require.js from the folder named by data-reveal), then fits each slide:
// its figures grow or shrink to fill the room the title and text leave, centred; text that still does not fit
// is made smaller; display equations wider than the slide are scaled down. In print view (?print-pdf) every
// slide is fitted before the page marks itself ready (html.deck-fitted) for the PDF step.
(function () {
  "use strict";
  var script = document.currentScript, prefix = script.getAttribute("data-reveal");
  var WIDTH = 1100, HEIGHT = 760, PAD = 24;
  var print = /print-pdf/i.test(window.location.search);

  function figures(slide) {  // pictures that are the slide's content (not widget parts, not math)
    return Array.prototype.filter.call(slide.querySelectorAll("img"), function (img) {
      return !img.closest(".jupyter-widgets, aside, mjx-container, .deck-keep-size");
    });
  }

  function bottom(slide) {  // lowest edge of the visible content, in slide pixels
    var lowest = 0;
    Array.prototype.forEach.call(slide.children, function (child) {
      if (child.tagName !== "ASIDE" && !child.classList.contains("slide-number")) {
        lowest = Math.max(lowest, child.offsetTop + child.offsetHeight);
      }
    });
    return lowest;
  }

  function fitMath(slide) {  // MathJax 3 does not break long equations: shrink one wider than the slide
    slide.querySelectorAll('mjx-container[display="true"]').forEach(function (box) {
      box.style.fontSize = "";
      if (box.clientWidth > 0 && box.scrollWidth > box.clientWidth) {
        box.style.fontSize = Math.floor(98 * box.clientWidth / box.scrollWidth) + "%";
      }
    });
  }

  function fitCode(slide) {  // a code line wider than the slide: smaller type, never a scroll bar
    slide.querySelectorAll("pre").forEach(function (pre) {
      if (pre.closest("aside")) { return; }
      pre.style.fontSize = "";
      if (pre.clientWidth > 0 && pre.scrollWidth > pre.clientWidth) {
        var size = parseFloat(getComputedStyle(pre).fontSize);
        pre.style.fontSize = Math.floor(10 * size * pre.clientWidth / pre.scrollWidth) / 10 + "px";
      }
    });
  }

  function fit(slide) {
    if (!slide || slide.classList.contains("stack") || slide.offsetHeight === 0) { return; }
    slide.style.removeProperty("--deck-shrink");
    fitMath(slide);
    fitCode(slide);
    var pictures = figures(slide), room = HEIGHT - PAD, width = WIDTH - 2 * PAD;
    pictures.forEach(function (img) { img.style.height = "20px"; img.style.width = "auto"; });
    if (pictures.length && slide.querySelector(".deck-title-mark")) {  // the title slide: outline | figure
      pictures.forEach(function (img) {
        var aspect = (img.naturalWidth / img.naturalHeight) || 1;
        img.style.height = Math.floor(Math.min(room - 140, (width / 2 - 20) / aspect)) + "px";
      });
    } else if (pictures.length) {
      var rest = bottom(slide) - 20 * pictures.length;
      var each = Math.max(140, (room - rest) / pictures.length);
      pictures.forEach(function (img) {
        var aspect = (img.naturalWidth / img.naturalHeight) || 1;
        img.style.height = Math.floor(Math.min(each, width / aspect)) + "px";
      });
    }
    var explorers = Array.prototype.filter.call(slide.querySelectorAll(".widget-subarea > .jupyter-widgets"),
      function (view) { return !view.closest("aside"); });
    explorers.forEach(function (view) {  // an explorer's pictures grow into the room left, all by one factor
      var images = Array.prototype.slice.call(view.querySelectorAll("img"));
      images.forEach(function (img) { img.style.height = ""; img.style.width = ""; img.style.maxWidth = "none"; });
      var shown = images.filter(function (img) { return img.offsetHeight > 0; })[0];
      if (!shown) { return; }
      var scale = shown.offsetHeight / shown.naturalHeight;
      var grow = Math.min(3, (room - bottom(slide)) / explorers.length / shown.offsetHeight + 1,
                          width / shown.offsetWidth);
      if (grow > 1.05) {
        images.forEach(function (img) { img.style.height = Math.floor(img.naturalHeight * scale * grow) + "px"; });
      }
    });
    for (var shrink = 0.95; bottom(slide) > room && shrink >= 0.6; shrink -= 0.05) {
      slide.style.setProperty("--deck-shrink", shrink.toFixed(2));
      fitMath(slide);
    }
    slide.classList.add("deck-fitted-slide");
  }

  function fitAll() { document.querySelectorAll(".reveal .slides section").forEach(fit); }

  function settle() {  // MathJax typeset, every picture decoded, every widget view rendered
    var math = (window.MathJax && MathJax.startup && MathJax.startup.promise) || Promise.resolve();
    var images = Array.prototype.map.call(document.images, function (img) {
      return img.decode ? img.decode().catch(function () {}) : Promise.resolve();
    });
    var widgets = new Promise(function (resolve) {
      var started = Date.now();
      (function poll() {
        var views = document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]');
        var done = Array.prototype.every.call(views, function (v) { return v.parentElement.querySelector(".jupyter-widgets"); });
        if (done || Date.now() - started > 20000) { resolve(); } else { setTimeout(poll, 100); }
      })();
    });
    return Promise.all([math, widgets].concat(images));
  }

  require({waitSeconds: 60}, [prefix + "/dist/reveal.js", prefix + "/plugin/notes/notes.js"], function (Reveal, RevealNotes) {
    window.Reveal = Reveal;  // for the console, the browser test and the PDF step
    // reveal.js lays the print view out asynchronously (after the page's load event) and says so with "pdf-ready",
    // which can come after "ready": the PDF step must wait for both, or it prints the unpaginated deck
    var printed = print ? new Promise(function (resolve) { Reveal.on("pdf-ready", resolve); }) : Promise.resolve();
    Reveal.initialize({
      controls: true, progress: true, hash: true, slideNumber: "c/t", showSlideNumber: "all",
      center: false, width: WIDTH, height: HEIGHT, margin: 0.04, transition: "slide",
      pdfSeparateFragments: false, pdfMaxPagesPerSlide: 1,   // one PDF page per slide
      plugins: [RevealNotes],
      keyboardCondition: function (event) {  // arrow keys move a focused slider instead of the deck
        return !(event.target && event.target.closest && event.target.closest(".jupyter-widgets"));
      }
    });
    Reveal.on("slidechanged", function (event) { fit(event.currentSlide); });
    Reveal.on("ready", function () {
      Promise.all([settle(), printed]).then(function () {
        if (print) { fitAll(); } else { fit(Reveal.getCurrentSlide()); }
        document.documentElement.classList.add("deck-fitted");
      });
    });
    window.deckFit = fit;
  });
})();
