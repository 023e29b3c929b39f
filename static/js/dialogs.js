// Native <dialog> glue for htmx-loaded dialogs (STYLE habit 19), and remembered toggles.
htmx.onLoad(function (root) {
  var found = root.matches && root.matches("dialog[data-dialog-autoshow]") ? [root] : root.querySelectorAll("dialog[data-dialog-autoshow]");
  found.forEach(function (d) {
    if (d.open) return; // a standalone page renders its dialog open already
    d.addEventListener("close", function () { d.remove(); });
    d.showModal();
  });
  root.querySelectorAll && root.querySelectorAll("input[data-remember]").forEach(function (box) {
    var saved = localStorage.getItem(box.dataset.remember);
    if (saved !== null) box.checked = saved === "1";
    box.addEventListener("change", function () { localStorage.setItem(box.dataset.remember, box.checked ? "1" : "0"); });
  });
});
document.addEventListener("click", function (e) {
  var b = e.target.closest("[data-dialog-close]");
  if (b && b.closest("dialog")) b.closest("dialog").close();
});
document.addEventListener("closeDialog", function () { document.querySelectorAll("dialog[open][data-dialog-autoshow]").forEach(function (d) { d.close(); }); });
