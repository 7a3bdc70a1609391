// Shipped by genmodels.publish.vendor; load it after require.js and before @jupyter-widgets/html-manager.
(function () {
  // The widget manager finds its icon fonts next to the URL require.js gives its module: point it here.
  var dist = new URL("html-manager/dist/", document.currentScript.src).href;
  window.__jupyter_widgets_assets_path__ = dist;
  // The vendor folder: the live explorers (anywidget front ends) find onnxruntime-web and their models from here.
  var vendor = new URL("./", document.currentScript.src).href;
  window.__genmodels_vendor__ = vendor;
  if (window.require && window.require.config) {
    // "anywidget": the widget manager asks require.js for it only on a page that holds an anywidget, and gets
    // the vendored AMD build (npm's anywidget/dist/index.js), never a CDN.
    window.require.config({paths: {"@jupyter-widgets/html-manager/dist": dist.slice(0, -1),
                                   "anywidget": vendor + "anywidget/dist/index"}});
  }
  // ipywidgets 8 typesets widget labels with MathJax 2's MathJax.Hub.Queue; MathJax 3 has no Hub.
  var hub = {Queue: function (command) {
    var element = command && command[2], mathjax = window.MathJax;
    if (element && mathjax && mathjax.typesetPromise) { mathjax.typesetPromise([element]).catch(function () {}); }
  }};
  function addHub() { if (window.MathJax && !window.MathJax.Hub) { window.MathJax.Hub = hub; } }
  addHub();
  document.addEventListener("DOMContentLoaded", addHub);  // MathJax 3 (deferred) has replaced its config by now
})();
