// Draws the Plotly figures the server built (each in a [data-figure] element), also inside
// fragments htmx swaps in, and opens a feature's distribution when a heatmap cell is clicked.
// The pages carry no inline script (Content-Security-Policy): figures travel as data, this
// static file draws them (templates/_charts.html loads it after our plotly.js).
(function () {
  function draw(root) {
    root.querySelectorAll("[data-figure]:not([data-drawn])").forEach(function (el) {
      var fig = JSON.parse(el.getAttribute("data-figure"));
      el.setAttribute("data-drawn", "1");
      Plotly.newPlot(el, fig.data, fig.layout, {responsive: true, displaylogo: false}).then(function () {
        var url = el.getAttribute("data-panel-url");
        if (!url) return;
        el.on("plotly_click", function (event) {
          var point = event.points && event.points[0];
          if (!point || !point.customdata) return;
          var query = "?run=" + encodeURIComponent(point.customdata[0]) +
            "&feature=" + encodeURIComponent(point.customdata[1]);
          htmx.ajax("GET", url + query, {target: "#feature-panel", swap: "innerHTML"});
          var picker = document.getElementById("feature-picker");
          if (picker) picker.value = point.customdata[1];
          var run = document.getElementById("panel-run");
          if (run) run.value = point.customdata[0];
        });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSwap", function (event) { draw(event.target); });
})();
