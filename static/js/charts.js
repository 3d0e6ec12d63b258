// Draws every chart on the page from the figure JSON the server put in a json_script element.
// No inline scripts: the page only carries data; this file and plotly-basic.min.js draw it.
// Panels swapped in by htmx are drawn after the swap (charts already drawn are left alone).
(function () {
  "use strict";
  function draw() {
    document.querySelectorAll(".chart[data-figure]:not([data-drawn])").forEach(function (el) {
      var data = document.getElementById(el.dataset.figure);
      if (!data || !window.Plotly) { return; }
      var figure = JSON.parse(data.textContent);
      el.dataset.drawn = "true";
      window.Plotly.newPlot(el, figure.data, figure.layout, {
        displayModeBar: false, responsive: true,
      });
    });
  }
  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();
