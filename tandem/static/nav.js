// The navigation's workspaces are <details> menus: one open at a time, closed by a click
// elsewhere or by Escape. Without this script they still open and close by themselves.
(function () {
  "use strict";
  function groups() {
    return document.querySelectorAll(".nav details.nav-group");
  }
  function closeAll(except) {
    groups().forEach(function (group) {
      if (group !== except) group.removeAttribute("open");
    });
  }
  document.addEventListener("toggle", function (event) {
    var target = event.target;
    if (target.matches && target.matches(".nav details.nav-group") && target.open) closeAll(target);
  }, true);
  document.addEventListener("click", function (event) {
    if (!event.target.closest || !event.target.closest(".nav details.nav-group")) closeAll(null);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") closeAll(null);
  });
})();
