// Small behaviours shared by every page, kept out of the HTML: the Content-Security-Policy runs
// no inline script and no on*= attribute.
(function () {
  // <input type="checkbox" data-select-all="finding"> ticks or clears every checkbox named
  // "finding" in the same form.
  document.addEventListener("change", function (event) {
    var all = event.target.closest("[data-select-all]");
    if (!all) return;
    var scope = all.form || document;
    scope.querySelectorAll('input[type=checkbox][name="' + all.dataset.selectAll + '"]').forEach(function (box) {
      box.checked = all.checked;
    });
  });
})();
