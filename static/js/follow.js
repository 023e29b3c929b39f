// A live log follows its tail (like `tail -f`) while the reader is at the bottom; scrolling
// up to read earlier lines stops the following, scrolling back down resumes it.
htmx.onLoad(function (root) {
  var lists = root.querySelectorAll ? root.querySelectorAll("[data-follow]") : [];
  lists.forEach(function (box) {
    if (box.dataset.following) return;
    box.dataset.following = "1";
    var stick = true;
    var atBottom = function () { return box.scrollHeight - box.scrollTop - box.clientHeight < 8; };
    box.addEventListener("scroll", function () { stick = atBottom(); });
    box.scrollTop = box.scrollHeight;
    new MutationObserver(function () { if (stick) box.scrollTop = box.scrollHeight; })
      .observe(box, { childList: true });
  });
});
