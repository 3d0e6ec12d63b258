// Draws every chart on the page from the figure JSON the server put in a json_script element.
// No inline scripts: the page only carries data; this file and plotly-basic.min.js draw it.
(function () {
  "use strict";
  function draw(root) {
    root.querySelectorAll(".chart[data-figure]").forEach(function (el) {
      var data = document.getElementById(el.dataset.figure);
      if (!data || !window.Plotly) { return; }
      var figure = JSON.parse(data.textContent);
      window.Plotly.newPlot(el, figure.data, figure.layout, {
        displayModeBar: false, responsive: true,
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSwap", function (event) { draw(event.detail.target); });
})();
